/** Session behaviours driven with fake time: keepalive, dead links, expiry, refusals, resets, limits. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthMethod,
  ClientSession,
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  ServerLink,
  ServerSession,
  SessionState,
  SharedBudget,
  WIRE_CODES,
  type Frame,
  type ResumeFrame,
} from "../../src/core/index.js";
import { expectLifelineError } from "../support/errors.js";
import { FakeEnv } from "../support/fake-env.js";
import { Sim } from "../support/sim.js";

const LIMITS = {
  sendBudget: 8192,
  channelSendBudget: 4096,
  receiveWindow: 2048,
  ackBytes: 512,
  ackDelayMs: 10,
};

function established(params = {}): Sim {
  const sim = new Sim({ limits: LIMITS, params });
  sim.connect();
  sim.pump(1 << 20);
  assert.equal(sim.client.state, SessionState.Established);
  return sim;
}

function openOne(sim: Sim): number {
  const id = sim.client.openChannel("default");
  sim.clientApp.active.add(id);
  sim.pump(1 << 20);
  return id;
}

/** The refusal code of a server link (read afresh: assertions narrow properties). */
function failureOf(link: ServerLink): string | undefined {
  return link.failure?.code;
}

/** Decodes what a session wants to transmit (after the preamble, if any). */
function framesOut(chunks: Uint8Array[], preamble = false): Frame[] {
  return new FrameDecoder({ expectPreamble: preamble }).push(concatBytes(chunks));
}

test("the client pings at the announced interval and measures the round trip from the echo", () => {
  const sim = established({ keepaliveIntervalMs: 3000, deadAfterMs: 5000 });
  sim.advance(2999);
  assert.deepEqual(framesOut(sim.client.pollTransmit()), [], "nothing before the interval");
  sim.advance(1);
  sim.pump(1 << 20);
  sim.env.advance(0);
  const rtts = sim.clientApp.events.filter((e) => e.type === "rtt");
  assert.equal(rtts.length, 1, "the client's PING was answered");
  assert.equal(sim.client.state, SessionState.Established);
});

test("an idle server answers the client's PINGs without sending its own, and still detects a dead link", () => {
  const sim = established({ keepaliveIntervalMs: 3000, deadAfterMs: 5000 });
  const server = sim.server!;
  for (let i = 0; i < 9; i++) {
    sim.advance(3000);
    sim.pump(1 << 20);
  }
  const rtts = (app: typeof sim.clientApp): number => app.events.filter((e) => e.type === "rtt").length;
  assert.equal(rtts(sim.clientApp), 9, "every client PING was answered");
  assert.equal(rtts(sim.serverApp), 0, "the server sent no PING of its own");
  assert.equal(server.state, SessionState.Established, "the client's PINGs keep the link alive");
  sim.advance(3000);
  sim.pump(1 << 20);
  sim.pump(1 << 20);
  assert.equal(rtts(sim.serverApp), 1, "every tenth interval, the server measures the round trip");
  // Black-hole: nothing is delivered any more; the server's own clock finds the link dead.
  const link = server.currentLink;
  sim.env.advance(4999);
  server.tick();
  assert.equal(server.state, SessionState.Established);
  sim.env.advance(1);
  server.tick();
  assert.deepEqual(
    server.takeEvents().filter((e) => e.type === "close-link" || e.type === "suspended"),
    [
      { type: "close-link", link },
      { type: "suspended", reason: "link-dead" },
    ],
  );
});

test("a silent link is declared dead after deadAfter with nothing received, and the session suspends", () => {
  const sim = established({ keepaliveIntervalMs: 3000, deadAfterMs: 5000 });
  const link = sim.client.currentLink;
  // Black-hole: nothing is delivered any more, in either direction.
  sim.env.advance(4999);
  sim.client.tick();
  assert.equal(sim.client.state, SessionState.Established);
  sim.env.advance(1);
  sim.client.tick();
  const events = sim.client.takeEvents();
  assert.deepEqual(
    events.filter((e) => e.type === "close-link" || e.type === "suspended"),
    [
      { type: "close-link", link },
      { type: "suspended", reason: "link-dead" },
    ],
  );
  assert.equal(sim.client.state, SessionState.Suspended);
  assert.equal(sim.client.nextDeadline(), sim.env.now() + 180_000, "the expiry timer is armed");
});

test("a link given up because its address left the machine suspends with that reason, and only the current link counts", () => {
  const sim = established({ keepaliveIntervalMs: 3000, deadAfterMs: 5000 });
  const link = sim.client.currentLink as number;
  sim.client.linkDown(link + 1, "address-gone");
  assert.equal(sim.client.state, SessionState.Established, "a link number that is not current is ignored");
  sim.client.linkDown(link, "address-gone");
  assert.deepEqual(
    sim.client.takeEvents().filter((e) => e.type === "close-link" || e.type === "suspended"),
    [
      { type: "close-link", link },
      { type: "suspended", reason: "address-gone" },
    ],
  );
  assert.equal(sim.client.state, SessionState.Suspended);
});

test("a session left without a link past the timeout expires on both sides and resets its channels", () => {
  const sim = established({ sessionTimeoutMs: 60_000 });
  const id = openOne(sim);
  sim.cut(0, 0, true);
  sim.advance(59_999);
  assert.equal(sim.client.state, SessionState.Suspended);
  sim.advance(1);
  for (const [app, session] of [
    [sim.clientApp, sim.client],
    [sim.serverApp, sim.server!],
  ] as const) {
    assert.equal(session.state, SessionState.Closed);
    assert.equal(app.resets.get(id), "SESSION_EXPIRED");
    assert.ok(app.events.some((e) => e.type === "closed" && e.code === "SESSION_EXPIRED" && !e.remote));
  }
});

test("a resume with a wrong secret is refused and leaves the real session untouched", () => {
  const sim = established();
  const id = openOne(sim);
  sim.clientApp.plan(id, { length: 3000, end: false });
  sim.clientApp.write(sim.client, 3000);
  sim.cut(0, 0, true);
  const server = sim.server!;
  const forged: ResumeFrame = {
    kind: "resume",
    sessionId: server.sessionId,
    resumeSecret: new Uint8Array(32).fill(9),
    highestChannel: 5,
    channels: [],
  };
  assert.equal(server.checkResume(forged), "BAD_SECRET");
  expectLifelineError(() => server.resume(forged, new FrameDecoder()), "BAD_SECRET");
  assert.equal(server.state, SessionState.Suspended);
  assert.deepEqual(server.channelIds(), [id]);
  sim.settle();
  assert.equal(sim.serverApp.received.get(id)?.length, 3000, "the real client resumes and delivers");
});

test("the resume secret rotates, and the old one stops working once the client has the new one", () => {
  const sim = established();
  const server = sim.server!;
  const table = { highestChannel: 0, channels: [] };
  const secretOf = (): Uint8Array => (sim.client as unknown as { resumeSecret: Uint8Array }).resumeSecret;
  const first = secretOf();
  sim.cut(0, 0, true);
  sim.settle();
  const second = secretOf();
  assert.notDeepEqual(second, first, "rotated on resume");
  const withSecret = (resumeSecret: Uint8Array): ResumeFrame => ({
    kind: "resume",
    sessionId: server.sessionId,
    resumeSecret,
    ...table,
  });
  assert.equal(
    server.checkResume(withSecret(first)),
    "BAD_SECRET",
    "the old secret is dead after confirmation",
  );
  assert.equal(server.checkResume(withSecret(second)), undefined);
});

test("a channel reset while the link is down reaches the peer after the resume", () => {
  const sim = established();
  const id = openOne(sim);
  sim.cut(0, 0, false);
  sim.client.reset(id, "CHANNEL_ABORTED");
  sim.settle();
  assert.equal(sim.serverApp.resets.get(id), "CHANNEL_ABORTED");
  assert.deepEqual(sim.client.channelIds(), [], "client retired the channel after the confirmation");
  assert.deepEqual(sim.server!.channelIds(), []);
});

test("opens beyond the channel limit are refused with CHANNEL_LIMIT", () => {
  const sim = established({ maxChannels: 1 });
  openOne(sim);
  // The client knows the limit and refuses locally...
  expectLifelineError(() => sim.client.openChannel("default"), "CHANNEL_LIMIT");
  // ...and a client that ignores it is refused by the server.
  const link = new ServerLink(sim.env.now() + 1000);
  const hello = link.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 100, authMethod: 1, authData: new Uint8Array() }),
    ]),
  );
  const server = new ServerSession(hello as never, link.decoder, { params: { maxChannels: 1 } }, sim.env);
  const serverLink = server.currentLink!;
  server.pollTransmit();
  server.receive(
    serverLink,
    concatBytes([
      encodeFrameBytes({ kind: "open", channel: 1, target: "a" }),
      encodeFrameBytes({ kind: "open", channel: 2, target: "a" }),
    ]),
  );
  assert.deepEqual(framesOut(server.pollTransmit()), [
    { kind: "reset", channel: 2, code: WIRE_CODES.CHANNEL_LIMIT },
  ]);
});

test("a peer that sends past the window is closed with FLOW_CONTROL_ERROR", () => {
  const env = new FakeEnv();
  const link = new ServerLink(env.now() + 1000);
  const hello = link.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 100, authMethod: 1, authData: new Uint8Array() }),
    ]),
  );
  const server = new ServerSession(hello as never, link.decoder, { limits: { receiveWindow: 10 } }, env);
  server.pollTransmit();
  server.receive(
    server.currentLink!,
    concatBytes([
      encodeFrameBytes({ kind: "open", channel: 1, target: "a" }),
      encodeFrameBytes({ kind: "data", channel: 1, offset: 0, data: new Uint8Array(11) }),
    ]),
  );
  assert.equal(server.state, SessionState.Closed);
  const last = framesOut(server.pollTransmit()).at(-1);
  assert.equal(last?.kind === "close" && last.code, WIRE_CODES.FLOW_CONTROL_ERROR);
});

test("a full send budget short-writes, and an acknowledgement makes the channel writable again", () => {
  const sim = established();
  const id = openOne(sim);
  const took = sim.client.write(id, new Uint8Array(10_000));
  // A channel buffers at most the peer's window plus a little read-ahead (an eighth of the budget here).
  assert.equal(took, LIMITS.receiveWindow + LIMITS.sendBudget / 8, "accepted up to window + read-ahead");
  assert.equal(sim.client.write(id, new Uint8Array(1)), 0, "nothing more while full");
  sim.pump(1 << 20);
  sim.serverApp.consume(sim.server!);
  sim.advance(LIMITS.ackDelayMs);
  sim.pump(1 << 20);
  assert.ok(sim.clientApp.events.some((e) => e.type === "writable" && e.channel === id));
});

test("a delayed ACK goes with the answer sent within the delay, and none follows on its own", () => {
  const sim = established();
  const id = openOne(sim);
  const server = sim.server!;
  const sent: Frame[] = [];
  const poll = server.pollTransmit.bind(server);
  server.pollTransmit = (max?: number) => {
    const out = poll(max);
    sent.push(...framesOut(out));
    return out;
  };
  sim.client.write(id, new Uint8Array(10));
  sim.pump(1 << 20);
  assert.equal(sent.length, 0, "the request's ACK waits (delayed ACK)");

  server.write(id, new Uint8Array(20)); // the answer, within the delay
  sim.pump(1 << 20);
  assert.deepEqual(
    sent.map((f) => (f.kind === "ack" ? `ack ${f.received}` : f.kind)),
    ["ack 10", "data"],
    "the ACK went with the answer",
  );
  sim.advance(LIMITS.ackDelayMs);
  sim.pump(1 << 20);
  assert.equal(sent.length, 2, "no ACK of its own after the delay");
});

test("GOAWAY stops new channels on both ends", () => {
  const sim = established();
  sim.server!.goAway();
  sim.pump(1 << 20);
  assert.ok(sim.clientApp.events.some((e) => e.type === "goaway" && e.code === "GOING_AWAY"));
  expectLifelineError(() => sim.client.openChannel("default"), "GOING_AWAY");
});

test("a resume while the server still holds the old link replaces it", () => {
  const sim = established();
  const server = sim.server!;
  const oldLink = server.currentLink;
  sim.cut(0, 0, false); // the server never notices
  sim.settle();
  const events = server.takeEvents();
  assert.deepEqual(
    events.filter((e) => e.type === "close-link"),
    [],
  );
  assert.ok(sim.serverApp.events.some((e) => e.type === "close-link" && e.link === oldLink));
  assert.ok(sim.serverApp.events.some((e) => e.type === "suspended" && e.reason === "replaced"));
  assert.notEqual(server.currentLink, oldLink);
});

test("the server's handshake: deadline, wrong protocol, wrong version, impatient client", () => {
  const slow = new ServerLink(1000);
  slow.receive(encodePreamble(1));
  slow.tick(999);
  assert.equal(slow.failure, undefined);
  slow.tick(1000);
  assert.equal(failureOf(slow), "HANDSHAKE_TIMEOUT");
  assert.deepEqual(framesOut(slow.takeOutput(), true), [
    {
      kind: "close",
      code: WIRE_CODES.HANDSHAKE_TIMEOUT,
      reason: "no HELLO or RESUME within the handshake deadline",
    },
  ]);

  const http = new ServerLink(1000);
  http.receive(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assert.equal(http.failure?.code, "BAD_MAGIC");
  assert.deepEqual(http.takeOutput(), [], "no reply to a peer that is not lifeline");

  const future = new ServerLink(1000);
  future.receive(encodePreamble(2));
  assert.equal(future.failure?.code, "UNSUPPORTED_VERSION");
  const reply = concatBytes(future.takeOutput());
  assert.deepEqual(reply.subarray(0, 10), encodePreamble(1), "the server names the version it speaks");
  assert.equal(framesOut([reply.subarray(10)])[0]?.kind, "close");

  const eager = new ServerLink(1000);
  eager.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 1, authMethod: 1, authData: new Uint8Array() }),
      encodeFrameBytes({ kind: "open", channel: 1, target: "a" }),
    ]),
  );
  assert.equal(eager.failure?.code, "PROTOCOL_ERROR");
});

test("the client treats a CLOSE in reply to HELLO as a refusal with the server's code", () => {
  const env = new FakeEnv();
  const client = new ClientSession({ authMethod: AuthMethod.BearerToken, authData: new Uint8Array(1) }, env);
  const link = client.linkUp();
  client.receive(
    link,
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "close", code: WIRE_CODES.AUTH_FAILED, reason: "bad token" }),
    ]),
  );
  assert.equal(client.state, SessionState.Closed);
  const closed = client.takeEvents().find((e) => e.type === "closed");
  assert.deepEqual(closed, {
    type: "closed",
    code: "AUTH_FAILED",
    wireCode: WIRE_CODES.AUTH_FAILED,
    reason: "bad token",
    remote: true,
  });
});

test("a handshake that stalls returns the client to idle so it can try again (or fall back)", () => {
  const env = new FakeEnv();
  const client = new ClientSession(
    { authMethod: AuthMethod.BearerToken, authData: new Uint8Array(1), limits: { handshakeTimeoutMs: 2000 } },
    env,
  );
  client.linkUp();
  assert.equal(client.nextDeadline(), env.now() + 2000);
  env.advance(2000);
  client.tick();
  assert.equal(client.state, SessionState.Idle);
});

test("every state change is reported, and illegal transitions are refused", () => {
  const sim = established();
  sim.cut(0, 0, true);
  sim.settle();
  const path = sim.clientApp.events
    .filter((e) => e.type === "state")
    .map((e) => (e.type === "state" ? e.to : ""));
  assert.deepEqual(path, ["connecting", "established", "suspended", "resuming", "established"]);
  expectLifelineError(
    () => (sim.client as unknown as { transition(s: string): void }).transition("connecting"),
    "INVALID_STATE",
  );
});

test("sessions sharing a global budget: one that is refused is woken when another gives room back", () => {
  const limits = {
    sendBudget: 8192,
    channelSendBudget: 4096,
    receiveWindow: 8192,
    ackBytes: 512,
    ackDelayMs: 10,
  };
  const shared = new SharedBudget(6000);
  const [a, b] = [new Sim({ limits, sharedBudget: shared }), new Sim({ limits, sharedBudget: shared })];
  const channel = (sim: Sim): number => {
    sim.connect();
    sim.pump(1 << 20);
    const id = sim.client.openChannel("default");
    sim.pump(1 << 20);
    return id;
  };
  const [ca, cb] = [channel(a), channel(b)];
  assert.equal(a.server!.write(ca, new Uint8Array(4096)), 4096);
  assert.equal(
    b.server!.write(cb, new Uint8Array(4096)),
    6000 - 4096,
    "only what is left of the shared budget",
  );
  assert.equal(shared.used, 6000);
  let woken = false;
  b.server!.onWake = () => (woken = true);
  b.server!.takeEvents();
  a.settle(); // a's client receives and acknowledges: a's server gives its 4096 bytes back
  assert.ok(woken, "b was woken");
  assert.ok(b.server!.takeEvents().some((e) => e.type === "writable" && e.channel === cb));
  assert.equal(
    b.server!.write(cb, new Uint8Array(4096)),
    4096 - (6000 - 4096),
    "b fills its own channel budget now",
  );
});
