import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, streamByte } from "../support/sim.js";
import { SessionState } from "../../src/core/index.js";

const SMALL = {
  sendBudget: 8192,
  channelSendBudget: 4096,
  receiveWindow: 2048,
  ackBytes: 512,
  ackDelayMs: 10,
};

function expected(side: "c" | "s", channel: number, length: number): number[] {
  return Array.from({ length }, (_, i) => streamByte(side, channel, i));
}

function openChannels(sim: Sim, plans: { c: number; s: number }[]): number[] {
  return plans.map((p) => {
    const id = sim.client.openChannel("default");
    sim.clientApp.active.add(id);
    sim.clientApp.plan(id, { length: p.c, end: true });
    sim.serverApp.plan(id, { length: p.s, end: true });
    return id;
  });
}

test("a session carries data both ways and closes channels cleanly", () => {
  const sim = new Sim({ limits: SMALL });
  const ids = openChannels(sim, [
    { c: 10_000, s: 7_000 },
    { c: 0, s: 3 },
  ]);
  sim.settle();
  assert.equal(sim.client.state, SessionState.Established);
  for (const id of ids) {
    assert.deepEqual(
      sim.serverApp.received.get(id) ?? [],
      expected("c", id, sim.clientApp.plans.get(id)!.length),
    );
    assert.deepEqual(
      sim.clientApp.received.get(id) ?? [],
      expected("s", id, sim.serverApp.plans.get(id)!.length),
    );
    assert.ok(sim.clientApp.closedChannels.has(id), `client retired channel ${id}`);
    assert.ok(sim.serverApp.closedChannels.has(id), `server retired channel ${id}`);
  }
  assert.deepEqual(sim.client.channelIds(), []);
  assert.deepEqual(sim.server!.channelIds(), []);
});

test("a cut mid-transfer is resumed and every byte arrives once, in order", () => {
  const sim = new Sim({ limits: SMALL });
  const [id] = openChannels(sim, [{ c: 50_000, s: 50_000 }]);
  sim.connect();
  for (let i = 0; i < 40; i++) {
    sim.clientApp.write(sim.client, 3000);
    if (sim.server) sim.serverApp.write(sim.server, 3000);
    sim.clientApp.consume(sim.client);
    if (sim.server) sim.serverApp.consume(sim.server);
    sim.pump(1500);
    if (i % 7 === 3) {
      sim.cut(37, 11, i % 2 === 0);
      sim.connect();
    }
  }
  sim.settle();
  assert.deepEqual(sim.serverApp.received.get(id!), expected("c", id!, 50_000));
  assert.deepEqual(sim.clientApp.received.get(id!), expected("s", id!, 50_000));
  assert.ok(sim.clientApp.events.some((e) => e.type === "resumed"));
  assert.ok(sim.clientApp.maxBuffered <= SMALL.sendBudget);
});
