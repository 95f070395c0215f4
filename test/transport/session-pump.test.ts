/**
 * The pump between a session and application sockets, with a real server and client runner over
 * TLS on loopback, and an application socket whose events the test controls exactly; and a client
 * session's pump against a far end the test plays by hand.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import {
  AuthMethod,
  ClientSession,
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  resolveLimits,
  resolveServerParams,
  ServerLink,
  ServerSession,
  SessionState,
  type Frame,
  type HelloFrame,
  type SessionEvent,
} from "../../src/core/index.js";
import { ClientRunner } from "../../src/client/runner.js";
import { ensureCertificate } from "../../src/server/credentials.js";
import { LifelineServer } from "../../src/server/server.js";
import { TokenSet } from "../../src/server/tokens.js";
import { EventLog } from "../../src/ops/log.js";
import { nodeEnv } from "../../src/transport/node-env.js";
import { SessionPump } from "../../src/transport/session-pump.js";
import { listen, pseudoRandom } from "../support/net-fixtures.js";

/**
 * A server and a client runner in this process. The target ends its direction at once (so that the
 * application's socket can close fully), unless `echo`: then it sends back what it gets.
 */
async function setUp(t: TestContext, echo = false) {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-pump-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await ensureCertificate(dir);
  const received = createHash("sha256");
  let receivedBytes = 0;
  let targetSocket!: Socket;
  let targetEnded!: () => void;
  const ended = new Promise<void>((resolve) => (targetEnded = resolve));
  const target = createServer({ allowHalfOpen: true }, (s) => {
    targetSocket = s;
    if (!echo) s.end();
    s.on("data", (chunk: Buffer) => {
      received.update(chunk);
      receivedBytes += chunk.length;
      if (echo) s.write(chunk);
    });
    s.on("end", targetEnded);
  });
  const targetPort = await listen(t, target);
  const log = new EventLog("test", "silent");
  const limits = resolveLimits({ sendBudget: 65_536, channelSendBudget: 65_536, receiveWindow: 65_536 });
  const server = new LifelineServer(
    {
      listen: { host: "127.0.0.1", port: 0 },
      targets: new Map([["default", { host: "127.0.0.1", port: targetPort }]]),
      tokens: new TokenSet([{ token: "t" }]),
      cert: cert.cert,
      key: cert.key,
      params: resolveServerParams({}),
      limits,
      maxSessions: 10,
      globalBuffer: 1 << 30,
      handshakeTimeoutMs: 10_000,
      maxFailuresPerMinute: 100,
      maxUnauthenticatedPerAddress: undefined,
    },
    log,
  );
  const { port } = await server.start();
  t.after(() => server.stop());
  const runner = new ClientRunner(
    {
      server: { host: "127.0.0.1", port },
      target: "default",
      verification: { mode: "pin", pins: [cert.fingerprint] },
      token: new TextEncoder().encode("t"),
      limits,
      dialTimeoutMs: 5000,
    },
    log,
    () => undefined,
  );
  await runner.start();
  t.after(() => runner.close());
  return { runner, ended, received: () => ({ received, receivedBytes }), target: () => targetSocket };
}

test("bytes read from an application that then half-closes and closes are all delivered, even while held back", async (t) => {
  const { runner, ended, received: state, target: targetSocket } = await setUp(t);

  // The application: far more than the budget in one read, then EOF, then gone.
  const app = new Duplex({ read() {}, write: (_chunk, _enc, cb) => cb() });
  const data = pseudoRandom(3)(1_000_000);
  let channelDone!: (outcome: string) => void;
  const outcome = new Promise<string>((resolve) => (channelDone = resolve));
  runner.openChannel(app, channelDone);
  app.push(data);
  app.push(null);
  app.read(0); // as a net socket does on EOF: "end" is emitted although reading is paused
  await new Promise((resolve) => setImmediate(resolve));
  app.destroy(); // the application has closed its socket; lifeline still holds most of its bytes

  await ended;
  const { received, receivedBytes } = state();
  assert.equal(receivedBytes, data.length, "every byte the application sent arrived");
  assert.equal(received.digest("hex"), createHash("sha256").update(data).digest("hex"));
  assert.equal(await outcome, "closed", "the channel ended cleanly, not with a reset");
  targetSocket().destroy();
});

test("an application socket that fails ends its channel with a reset, and the caller learns it", async (t) => {
  const { runner } = await setUp(t);
  const app = new Duplex({ read() {}, write: (_chunk, _enc, cb) => cb() });
  const outcome = new Promise<string>((resolve) => runner.openChannel(app, resolve));
  app.push("some bytes");
  app.destroy(new Error("EPIPE")); // e.g. stdout closed under `lifeline connect --stdio | head`
  assert.equal(await outcome, "reset");
});

const DEAD_AFTER_MS = 400;

/**
 * A client session and its pump on a real socket whose far end the test plays by hand, so that it
 * sends exactly what the test says and nothing else; established with a dead-after of 400 ms.
 */
async function handPlayedServer(t: TestContext) {
  const near = new Socket();
  t.after(() => near.destroy());
  const accepted = new Promise<Socket>((resolve) => {
    const server = createServer(resolve);
    void listen(t, server).then((port) => near.connect(port, "127.0.0.1"));
  });
  const session = new ClientSession(
    { authMethod: AuthMethod.BearerToken, authData: new Uint8Array(1) },
    nodeEnv,
  );
  const events: SessionEvent[] = [];
  const pump = new SessionPump(session, { onEvent: (event) => events.push(event) });
  t.after(() => pump.dispose());
  await new Promise((resolve) => near.once("connect", resolve));
  pump.attachLink(session.linkUp(), near);
  const far = await accepted;
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ expectPreamble: true });
  far.on("data", (chunk: Buffer) => frames.push(...decoder.push(chunk)));
  far.write(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({
        kind: "welcome",
        sessionId: new Uint8Array(16),
        resumeSecret: new Uint8Array(32),
        sessionTimeoutMs: 60_000,
        keepaliveIntervalMs: 300,
        deadAfterMs: DEAD_AFTER_MS,
        maxChannels: 4,
        receiveWindow: 65_536,
      }),
    ]),
  );
  while (session.state !== SessionState.Established) await new Promise((resolve) => setImmediate(resolve));
  return { session, pump, events, near, far, frames };
}

/** Keeps this process busy (no event loop turn) until the dead-link deadline has passed. */
function busyPastDeadline(): void {
  const until = performance.now() + DEAD_AFTER_MS + 200;
  while (performance.now() < until);
}

test("a link is judged dead only after the socket's pending bytes are read: a process that fell behind keeps it", async (t) => {
  const { session, events, far, frames } = await handPlayedServer(t);
  // Nothing has come from the far end since WELCOME. It now sends a PING, and this process stays
  // busy past the dead-link deadline before its event loop gets to read that PING.
  far.write(encodeFrameBytes({ kind: "ping", timestamp: 7 }));
  busyPastDeadline();

  let closed = false;
  far.once("close", () => (closed = true));
  while (!closed && !frames.some((f) => f.kind === "pong" && f.timestamp === 7)) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(closed, false, "the link was kept");
  assert.equal(session.state, SessionState.Established);
  assert.deepEqual(
    events.filter((e) => e.type === "suspended"),
    [],
    "the link was not declared dead",
  );
});

test("what one read delivers to a channel is written in order, before the channel's end", async (t) => {
  const { session, pump, far, frames } = await handPlayedServer(t);
  const written: string[] = [];
  const app = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
    final(done) {
      written.push("<end>");
      done();
    },
  });
  const channel = session.openChannel("default");
  pump.attachChannel(channel, app);
  pump.service();
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  // One write of the far end, so one read here: three pieces of data and the end, in one pass.
  far.write(
    concatBytes([
      encodeFrameBytes({ kind: "opened", channel }),
      encodeFrameBytes({ kind: "data", channel, offset: 0, data: bytes("abc") }),
      encodeFrameBytes({ kind: "data", channel, offset: 3, data: bytes("def") }),
      encodeFrameBytes({ kind: "data", channel, offset: 6, data: bytes("g") }),
      encodeFrameBytes({ kind: "eof", channel, offset: 7 }),
    ]),
  );
  while (!written.includes("<end>")) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written.join(""), "abcdefg<end>", "every byte, in order, then the end");
  // Delivered bytes are consumed once flushed: the far end hears that all 7 and the end arrived.
  while (!frames.some((f) => f.kind === "ack" && f.channel === channel && f.received === 8)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test("full reads that arrive in one turn are written to the application as one write, not one each", async (t) => {
  const { session, pump, near } = await handPlayedServer(t);
  const writes: number[] = []; // the bytes of each write the application is given
  const app = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.length);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.reduce((n, { chunk }) => n + (chunk as Buffer).length, 0));
      done();
    },
  });
  t.after(() => app.destroy());
  const channel = session.openChannel("default");
  pump.attachChannel(channel, app);
  pump.service();
  const opened = encodeFrameBytes({ kind: "opened", channel });
  // Four full pieces, as Node's TLS socket hands one read of 64 KiB over: one "data" event each, in
  // the same turn. The DATA frame's header is 17 bytes (type, channel, length, offset).
  const data = pseudoRandom(1)(4 * 16384 - opened.length - 17);
  const wire = concatBytes([opened, encodeFrameBytes({ kind: "data", channel, offset: 0, data })]);
  assert.equal(wire.length, 4 * 16384);
  for (let at = 0; at < wire.length; at += 16384)
    near.emit("data", Buffer.from(wire.subarray(at, at + 16384)));
  assert.deepEqual(writes, [], "nothing is written before the turn ends");
  for (let turn = 0; turn < 100 && writes.length === 0; turn++)
    await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(writes, [data.length]);
});

test("a server that hears a PING every so often keeps one timer, moved on each time, never made again", async (t) => {
  const handshake = new ServerLink(nodeEnv.now() + 1000);
  const hello = handshake.receive(
    concatBytes([
      encodePreamble(1),
      encodeFrameBytes({ kind: "hello", receiveWindow: 65_536, authMethod: 1, authData: new Uint8Array() }),
    ]),
  ) as HelloFrame;
  // Its own PINGs are 5 s apart: the nearest deadline is the link's death, 1 s after the last frame.
  const params = { keepaliveIntervalMs: 500, deadAfterMs: 1000 };
  const session = new ServerSession(hello, handshake.decoder, { params }, nodeEnv);
  const pump = new SessionPump(session, { onEvent: () => undefined });
  const wire = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() });
  t.after(async () => {
    wire.destroy();
    await once(wire, "close"); // the pump hears the link's loss (and arms the session's expiry) first
    pump.dispose();
  });
  // As in serve, the pump starts a little after the link came up (there, after TLS and HELLO): its
  // first timer is due in about 850 ms, and each PING later puts the deadline 1 s away.
  await new Promise((resolve) => setTimeout(resolve, 150));
  pump.attachLink(session.currentLink as number, wire);

  const setTimeoutBefore = globalThis.setTimeout;
  const onTimer = (pump as unknown as { onTimer: unknown }).onTimer;
  let made = 0;
  globalThis.setTimeout = ((callback: () => void, ms?: number) => {
    if (callback === onTimer) made++;
    return setTimeoutBefore(callback, ms);
  }) as typeof setTimeout;
  try {
    // Past the first deadline, a PING every 50 ms: each moves the deadline 1 s on.
    for (let i = 0; i < 30; i++) {
      wire.push(encodeFrameBytes({ kind: "ping", timestamp: i }));
      await new Promise((resolve) => setTimeoutBefore(resolve, 50));
    }
  } finally {
    globalThis.setTimeout = setTimeoutBefore;
  }
  assert.equal(session.state, SessionState.Established);
  // Before, a delay of 1,000 against the timer's 850 left it due at the first deadline: it fired
  // early and was made again, every dead-link delay, for every session.
  assert.equal(made, 0);
});

test("a link reset while the process was busy is reported lost, not dead", async (t) => {
  const { session, events, far } = await handPlayedServer(t);
  far.resetAndDestroy();
  busyPastDeadline();
  while (session.state === SessionState.Established) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    events.flatMap((e) => (e.type === "suspended" ? [e.reason] : [])),
    ["link-lost"],
  );
});

test("servicing an idle session clears no empty set: V8 gives every cleared Set a new table in the old generation", async (t) => {
  const { runner } = await setUp(t, true);
  let echoed = 0;
  const app = new Duplex({
    read() {},
    write: (chunk: Buffer, _enc, cb) => {
      echoed += chunk.length;
      cb();
    },
  });
  runner.openChannel(app);
  app.push("ping"); // both directions carry data once, so the session and its pump make their sets
  while (echoed < 4) await new Promise((resolve) => setTimeout(resolve, 10));

  const clear = Set.prototype.clear;
  let emptyClears = 0;
  Set.prototype.clear = function (this: Set<unknown>) {
    if (this.size === 0) emptyClears++;
    clear.call(this);
  };
  try {
    // What every keepalive does on an idle session: a service pass with nothing to send.
    for (let i = 0; i < 100; i++) runner.pump.service();
  } finally {
    Set.prototype.clear = clear;
  }
  // Each such table lives until the next full collection: 10,000 idle sessions with a channel grew
  // serve's old generation by 90 MiB a minute.
  assert.equal(emptyClears, 0);
});
