/** Edge cases found in review: each test pins one fix. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  fromHex,
  MAX_CLOSE_REASON,
  MAX_TRACKED_CHANNELS,
  ServerLink,
  ServerSession,
  SessionState,
  WIRE_CODES,
  type Frame,
} from "../../src/core/index.js";
import { expectLifelineError } from "../support/errors.js";
import { FakeEnv } from "../support/fake-env.js";
import { Sim } from "../support/sim.js";

function decodeAll(chunks: Uint8Array[]): Frame[] {
  return new FrameDecoder().push(concatBytes(chunks));
}

function newServer(env: FakeEnv, params = {}): ServerSession {
  const link = new ServerLink(env.now() + 1000);
  const hello = link.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 100, authMethod: 1, authData: new Uint8Array() }),
    ]),
  );
  const server = new ServerSession(hello as never, link.decoder, { params }, env);
  server.pollTransmit();
  return server;
}

test("a long CLOSE reason is cut on a UTF-8 character boundary, so the peer can decode it", () => {
  const reason = "a" + "é".repeat(600);
  const [frame] = new FrameDecoder().push(encodeFrameBytes({ kind: "close", code: 0, reason }));
  assert.equal(frame?.kind, "close");
  const got = (frame as { reason: string }).reason;
  assert.ok(reason.startsWith(got) && new TextEncoder().encode(got).length <= MAX_CLOSE_REASON);
});

test("the encoder refuses frames its decoder would reject", () => {
  expectLifelineError(() => encodeFrameBytes({ kind: "ping", timestamp: 2 ** 53 }), "FRAME_MALFORMED");
  expectLifelineError(
    () => encodeFrameBytes({ kind: "data", channel: 0, offset: 0, data: new Uint8Array(1) }),
    "FRAME_MALFORMED",
  );
  expectLifelineError(
    () => encodeFrameBytes({ kind: "data", channel: 1, offset: 0, data: new Uint8Array(0) }),
    "FRAME_MALFORMED",
  );
  expectLifelineError(
    () => encodeFrameBytes({ kind: "open", channel: 1, target: "10.0.0.1:22 " }),
    "FRAME_MALFORMED",
  );
});

test("an unknown core frame type is refused from its header, before its payload arrives", () => {
  expectLifelineError(() => new FrameDecoder().push(fromHex("7f 00000000 00010000")), "UNKNOWN_FRAME_TYPE");
});

test("a WELCOME with impossible timers or too many channels is malformed", () => {
  const welcome = (over: object): Frame =>
    ({
      kind: "welcome",
      sessionId: new Uint8Array(16),
      resumeSecret: new Uint8Array(32),
      sessionTimeoutMs: 1000,
      keepaliveIntervalMs: 3000,
      deadAfterMs: 5000,
      maxChannels: 8,
      receiveWindow: 100,
      ...over,
    }) as Frame;
  const bytes = (over: object): Uint8Array => {
    const b = encodeFrameBytes(welcome({}));
    const out = encodeFrameBytes(welcome(over));
    assert.equal(out.length, b.length);
    return out;
  };
  expectLifelineError(() => new FrameDecoder().push(bytes({ deadAfterMs: 3000 })), "FRAME_MALFORMED");
  expectLifelineError(() => new FrameDecoder().push(bytes({ maxChannels: 1025 })), "FRAME_MALFORMED");
});

test("a resume table reporting less than was already acknowledged closes the session with PROTOCOL_ERROR", () => {
  const sim = new Sim({ limits: { ackBytes: 1, ackDelayMs: 1 } });
  const id = sim.client.openChannel("default");
  sim.clientApp.active.add(id);
  sim.clientApp.plan(id, { length: 100, end: false });
  sim.serverApp.plan(id, { length: 100, end: false });
  sim.settle();
  assert.equal(sim.clientApp.received.get(id)?.length, 100);
  const server = sim.server!;
  sim.cut(0, 0, true);
  const secret = (sim.client as unknown as { resumeSecret: Uint8Array }).resumeSecret;
  const link = new ServerLink(sim.env.now() + 1000);
  link.receive(encodePreamble(1));
  server.resume(
    // The server has sent 100 bytes that this client acknowledged; it now claims to have none.
    {
      kind: "resume",
      sessionId: server.sessionId,
      resumeSecret: secret,
      highestChannel: id,
      channels: [{ channel: id, received: 0, windowLimit: 0, opened: true }],
    },
    link.decoder,
  );
  assert.equal(server.state, SessionState.Closed);
  const last = decodeAll(server.pollTransmit()).at(-1);
  assert.equal(last?.kind === "close" && last.code, WIRE_CODES.PROTOCOL_ERROR);
});

test("a client sending anything between its HELLO and the reply is refused", () => {
  const link = new ServerLink(1000);
  link.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 1, authMethod: 1, authData: new Uint8Array() }),
    ]),
  );
  const failureOf = (l: ServerLink): string | undefined => l.failure?.code;
  assert.equal(failureOf(link), undefined);
  link.receive(encodeFrameBytes({ kind: "ping", timestamp: 1 }));
  assert.equal(failureOf(link), "PROTOCOL_ERROR");
});

test("the link replaced by a resume is sent CLOSE REPLACED before it is cut", () => {
  const sim = new Sim({ limits: {} });
  sim.connect();
  sim.pump(1 << 20);
  const oldLink = sim.server!.currentLink;
  sim.cut(0, 0, false);
  sim.settle();
  const closing = sim.serverApp.events.find((e) => e.type === "close-link" && e.link === oldLink);
  assert.ok(closing?.type === "close-link" && closing.farewell);
  const [farewell] = decodeAll(closing.farewell);
  assert.equal(farewell?.kind === "close" && farewell.code, WIRE_CODES.REPLACED);
});

test("a client that never confirms RESETs cannot make the server track unbounded channels", () => {
  const env = new FakeEnv();
  const server = newServer(env, { maxChannels: 1 });
  const link = server.currentLink!;
  const opens: Uint8Array[] = [];
  for (let id = 1; id <= MAX_TRACKED_CHANNELS + 1; id++)
    opens.push(encodeFrameBytes({ kind: "open", channel: id, target: "a" }));
  server.receive(link, concatBytes(opens));
  assert.equal(server.state, SessionState.Closed);
  const last = decodeAll(server.pollTransmit()).at(-1);
  assert.equal(last?.kind === "close" && last.code, WIRE_CODES.PROTOCOL_ERROR);
});

test("a channel reset during an outage, with unacknowledged data, does not break the resume", () => {
  const sim = new Sim({ limits: {} });
  sim.connect();
  sim.pump(1 << 20);
  const id = sim.client.openChannel("default");
  sim.clientApp.active.add(id);
  sim.pump(1 << 20);
  sim.cut(0, 0, true);
  sim.client.write(id, new Uint8Array(100)); // buffered, never sent
  sim.client.reset(id, "CHANNEL_ABORTED");
  sim.settle();
  assert.equal(sim.client.state, SessionState.Established, "the session survived the resume");
  assert.equal(sim.serverApp.resets.get(id), "CHANNEL_ABORTED");
  assert.deepEqual(sim.client.channelIds(), []);
});

test("a channel reset before WELCOME is never opened on the server", () => {
  const sim = new Sim({ limits: {} });
  const id = sim.client.openChannel("default");
  sim.client.reset(id, "CHANNEL_ABORTED");
  sim.connect();
  sim.settle();
  assert.equal(sim.client.state, SessionState.Established);
  assert.ok(!sim.serverApp.events.some((e) => e.type === "open-request"), "no OPEN reached the server");
  assert.deepEqual(sim.client.channelIds(), []);
});

test("a partial frame right behind HELLO is refused like a whole one", () => {
  const link = new ServerLink(1000);
  const hello = encodeFrameBytes({
    kind: "hello",
    receiveWindow: 1,
    authMethod: 1,
    authData: new Uint8Array(),
  });
  const ping = encodeFrameBytes({ kind: "ping", timestamp: 1 });
  link.receive(concatBytes([encodePreamble(1), hello, ping.subarray(0, 4)]));
  assert.equal(link.failure?.code, "PROTOCOL_ERROR");
});

test("the session timeout keeps running while a resume attempt is in progress", () => {
  const sim = new Sim({ limits: { handshakeTimeoutMs: 100_000 }, params: { sessionTimeoutMs: 10_000 } });
  sim.connect();
  sim.pump(1 << 20);
  sim.cut(0, 0, true);
  sim.env.advance(9_000);
  sim.client.linkUp(); // a RESUME goes out, and no answer ever comes
  assert.equal(sim.client.state, SessionState.Resuming);
  sim.env.advance(1_000);
  sim.client.tick();
  assert.equal(sim.client.state, SessionState.Closed);
  assert.ok(sim.client.takeEvents().some((e) => e.type === "closed" && e.code === "SESSION_EXPIRED"));
});

test("the encoder refuses codes that are not u16 and tables out of order", () => {
  expectLifelineError(
    () => encodeFrameBytes({ kind: "reset", channel: 1, code: 0x1_0000 }),
    "FRAME_MALFORMED",
  );
  expectLifelineError(
    () =>
      encodeFrameBytes({
        kind: "resumed",
        resumeSecret: new Uint8Array(32),
        highestChannel: 5,
        channels: [
          { channel: 3, received: 0, windowLimit: 0, opened: false },
          { channel: 2, received: 0, windowLimit: 0, opened: false },
        ],
      }),
    "FRAME_MALFORMED",
  );
  expectLifelineError(
    () =>
      encodeFrameBytes({
        kind: "resumed",
        resumeSecret: new Uint8Array(31),
        highestChannel: 0,
        channels: [],
      }),
    "FRAME_MALFORMED",
  );
});

test("channels whose readers stall do not starve the other channels of the shared budget", () => {
  const limits = {
    sendBudget: 8192,
    channelSendBudget: 4096,
    receiveWindow: 2048,
    ackBytes: 512,
    ackDelayMs: 10,
  };
  const sim = new Sim({ limits });
  sim.connect();
  sim.pump(1 << 20);
  const [a, b, c] = [1, 2, 3].map(() => sim.client.openChannel("default"));
  sim.pump(1 << 20);
  for (let i = 0; i < 20; i++) {
    for (const ch of [a!, b!]) sim.client.write(ch, new Uint8Array(1 << 20)); // the server app never reads these
    sim.pump(1 << 20);
    sim.advance(10);
  }
  assert.ok(sim.client.write(c!, new Uint8Array(100)) === 100, "an unrelated channel still has room");
});

test("a small DATA payload does not keep the large read it arrived in alive", () => {
  // One read: a 1-byte DATA frame, then a 60,000-byte extension frame that is skipped.
  const big = new Uint8Array(18 + 9 + 60_000);
  big.set(encodeFrameBytes({ kind: "data", channel: 1, offset: 0, data: new Uint8Array([7]) }));
  big.set(fromHex("80 00000000 0000ea60"), 18);
  const decoder = new FrameDecoder();
  const [frame] = decoder.push(big);
  assert.ok(frame?.kind === "data");
  assert.notEqual(frame.data.buffer, big.buffer, "copied out of the read");
});

test("frames decoded before bad bytes in the same read are still delivered, then the error", () => {
  const decoder = new FrameDecoder();
  const close = encodeFrameBytes({ kind: "close", code: WIRE_CODES.AUTH_FAILED, reason: "bad token" });
  const frames = decoder.push(concatBytes([close, fromHex("7f 00000000 00000000")]));
  assert.equal(frames[0]?.kind, "close");
  assert.equal(decoder.failure?.code, "UNKNOWN_FRAME_TYPE");
  expectLifelineError(() => decoder.push(new Uint8Array(1)), "UNKNOWN_FRAME_TYPE");
});

test("nothing is sent after the peer's CLOSE, not even a PONG for a PING in the same read", () => {
  const env = new FakeEnv();
  const server = newServer(env);
  server.receive(
    server.currentLink!,
    concatBytes([
      encodeFrameBytes({ kind: "ping", timestamp: 5 }),
      encodeFrameBytes({ kind: "close", code: 0, reason: "" }),
    ]),
  );
  assert.equal(server.state, SessionState.Closed);
  assert.deepEqual(server.pollTransmit(), []);
});

test("a peer that makes us queue replies it never reads is cut off", () => {
  const env = new FakeEnv();
  const server = newServer(env, { maxChannels: 1 });
  const link = server.currentLink!;
  const frames: Uint8Array[] = [];
  for (let id = 1; id <= 20_000; id++) {
    frames.push(encodeFrameBytes({ kind: "open", channel: id, target: "a" }));
    frames.push(encodeFrameBytes({ kind: "reset", channel: id, code: 0 }));
  }
  server.receive(link, concatBytes(frames)); // never calling pollTransmit: the peer reads nothing
  assert.equal(server.state, SessionState.Closed);
});

test("a RESET that crosses the peer's retirement of the channel is settled by the final ACK", () => {
  const sim = new Sim({ limits: {} });
  sim.connect();
  sim.pump(1 << 20);
  const ch = sim.client.openChannel("default");
  sim.pump(1 << 20);
  sim.client.end(ch);
  sim.server!.end(ch);
  // Deliver step by step so that the server retires the channel before the client's reset arrives.
  const internals = sim as unknown as {
    flush(): void;
    deliverC2S(n: number): number;
    deliverS2C(n: number): number;
  };
  internals.flush();
  internals.deliverC2S(1 << 20);
  internals.deliverS2C(1 << 20);
  internals.flush();
  internals.deliverC2S(1 << 20);
  assert.deepEqual(sim.server!.channelIds(), [], "the server retired it");
  sim.client.reset(ch);
  for (let i = 0; i < 5; i++) {
    sim.pump(1 << 20);
    sim.advance(10);
  }
  assert.deepEqual(sim.client.channelIds(), [], "no tombstone left behind");
});

test("consume takes whole byte counts only", () => {
  const sim = new Sim({ limits: {} });
  sim.connect();
  sim.pump(1 << 20);
  const ch = sim.client.openChannel("default");
  expectLifelineError(() => sim.client.consume(ch, Number.NaN), "INVALID_ARGUMENT");
  expectLifelineError(() => sim.client.consume(ch, 0.5), "INVALID_ARGUMENT");
});
