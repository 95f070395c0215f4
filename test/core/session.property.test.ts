/**
 * Acceptance: two real cores joined by a simulated link that is cut at random points (mid-frame
 * included), losing whatever was in flight, then resumed on a new link. For random writes in both
 * directions over several channels, each side delivers exactly what the other wrote, with EOF at
 * the same position, and no send buffer ever exceeds its budget.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Sim, streamByte } from "../support/sim.js";
import { propertyRuns, propertySeed } from "../support/property.js";

interface ChannelPlan {
  c: number;
  s: number;
  cEnd: boolean;
  sEnd: boolean;
}

type Step =
  | { op: "open" }
  | { op: "write"; side: "c" | "s"; max: number }
  | { op: "consume"; side: "c" | "s"; max: number }
  | { op: "pump"; max: number }
  | { op: "cut"; keepC: number; keepS: number; serverNotices: boolean }
  | { op: "reconnect" }
  | { op: "advance"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Step>({ op: "open" }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("write" as const),
      side: fc.constantFrom("c" as const, "s" as const),
      max: fc.integer({ min: 1, max: 3000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("consume" as const),
      side: fc.constantFrom("c" as const, "s" as const),
      max: fc.integer({ min: 1, max: 4000 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant("pump" as const), max: fc.integer({ min: 1, max: 6000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("cut" as const),
      keepC: fc.integer({ min: 0, max: 300 }),
      keepS: fc.integer({ min: 0, max: 300 }),
      serverNotices: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant<Step>({ op: "reconnect" }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 2500 }) }),
  },
);

const scenario = fc.record({
  channels: fc.array(
    fc.record({
      c: fc.integer({ min: 0, max: 6000 }),
      s: fc.integer({ min: 0, max: 6000 }),
      cEnd: fc.boolean(),
      sEnd: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  steps: fc.array(step, { minLength: 10, maxLength: 80, size: "max" }),
  sendBudget: fc.constantFrom(2048, 8192),
  channelShare: fc.constantFrom(0.5, 1),
  receiveWindow: fc.constantFrom(700, 4096),
  ackBytes: fc.integer({ min: 1, max: 1500 }),
});

function expected(side: "c" | "s", channel: number, length: number): number[] {
  return Array.from({ length }, (_, i) => streamByte(side, channel, i));
}

test("every byte is delivered exactly once, in order, across random cuts and resumes", () => {
  // Guards that the generator really exercises what this test claims to prove.
  const seen = { runs: 0, resumes: 0, replayedBytes: 0, fullBudgets: 0, newSessions: 0 };
  fc.assert(
    fc.property(scenario, (sc) => {
      const limits = {
        sendBudget: sc.sendBudget,
        channelSendBudget: Math.floor(sc.sendBudget * sc.channelShare),
        receiveWindow: sc.receiveWindow,
        ackBytes: sc.ackBytes,
        ackDelayMs: 10,
      };
      const sim = new Sim({ limits });
      const ids: number[] = [];
      const open = (): void => {
        const plan = sc.channels[ids.length];
        if (!plan) return;
        const id = sim.client.openChannel("default");
        ids.push(id);
        sim.clientApp.active.add(id);
        sim.clientApp.plan(id, { length: plan.c, end: plan.cEnd });
        sim.serverApp.plan(id, { length: plan.s, end: plan.sEnd });
      };
      open();
      sim.connect();
      for (const s of sc.steps) {
        switch (s.op) {
          case "open":
            open();
            break;
          case "write":
            if (s.side === "c") sim.clientApp.write(sim.client, s.max);
            else if (sim.server) sim.serverApp.write(sim.server, s.max);
            break;
          case "consume":
            if (s.side === "c") sim.clientApp.consume(sim.client, s.max);
            else if (sim.server) sim.serverApp.consume(sim.server, s.max);
            break;
          case "pump":
            sim.pump(s.max);
            break;
          case "cut":
            sim.cut(s.keepC, s.keepS, s.serverNotices);
            break;
          case "reconnect":
            sim.connect();
            break;
          case "advance":
            sim.advance(s.ms);
            break;
        }
        checkBudgets(sim, limits);
      }
      while (ids.length < sc.channels.length) open();
      sim.settle();
      checkBudgets(sim, limits);

      assert.equal(sim.client.isClosed(), false, "the session survived");
      for (const [i, id] of ids.entries()) {
        const plan = sc.channels[i] as ChannelPlan;
        assert.deepEqual(
          sim.serverApp.received.get(id) ?? [],
          expected("c", id, plan.c),
          `client→server, channel ${id}`,
        );
        assert.deepEqual(
          sim.clientApp.received.get(id) ?? [],
          expected("s", id, plan.s),
          `server→client, channel ${id}`,
        );
        assert.equal(
          sim.serverApp.eofAt.get(id),
          plan.cEnd ? plan.c : undefined,
          `client EOF position, channel ${id}`,
        );
        assert.equal(
          sim.clientApp.eofAt.get(id),
          plan.sEnd ? plan.s : undefined,
          `server EOF position, channel ${id}`,
        );
        const bothEnded = plan.cEnd && plan.sEnd;
        assert.equal(sim.clientApp.closedChannels.has(id), bothEnded, `client retired channel ${id}`);
        assert.equal(sim.serverApp.closedChannels.has(id), bothEnded, `server retired channel ${id}`);
      }
      assert.equal(sim.clientApp.resets.size + sim.serverApp.resets.size, 0, "no channel was reset");

      seen.runs++;
      for (const e of sim.clientApp.events) {
        if (e.type === "resumed") {
          seen.resumes++;
          seen.replayedBytes += e.replayedBytes;
        }
      }
      if (
        sim.clientApp.maxBuffered === limits.sendBudget ||
        sim.serverApp.maxBuffered === limits.sendBudget
      ) {
        seen.fullBudgets++;
      }
      if (sim.servers.length > 1) seen.newSessions++;
    }),
    { seed: propertySeed(), numRuns: propertyRuns(1000) },
  );
  console.log(`property coverage: ${JSON.stringify(seen)}`);
  assert.ok(seen.resumes > seen.runs / 2, "many runs resume at least once");
  assert.ok(seen.replayedBytes > 0, "resumes replay lost bytes");
  assert.ok(seen.fullBudgets > seen.runs / 20, "send budgets fill up in a fair share of runs");
});

function checkBudgets(sim: Sim, limits: { sendBudget: number; channelSendBudget: number }): void {
  for (const session of [sim.client, ...sim.servers]) {
    assert.ok(
      session.bufferedTotal <= limits.sendBudget,
      `session buffer ${session.bufferedTotal} within budget`,
    );
    for (const id of session.channelIds()) {
      assert.ok(
        session.channelBuffered(id) <= limits.channelSendBudget,
        `channel ${id} buffer within budget`,
      );
    }
  }
}
