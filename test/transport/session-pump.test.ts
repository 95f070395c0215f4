/**
 * The pump between a session and application sockets, with a real server and client runner over
 * TLS on loopback, and an application socket whose events the test controls exactly.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { resolveLimits, resolveServerParams } from "../../src/core/index.js";
import { ClientRunner } from "../../src/client/runner.js";
import { ensureCertificate } from "../../src/server/credentials.js";
import { LifelineServer } from "../../src/server/server.js";
import { TokenSet } from "../../src/server/tokens.js";
import { EventLog } from "../../src/ops/log.js";
import { listen, pseudoRandom } from "../support/net-fixtures.js";

async function setUp(t: TestContext) {
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
    s.end(); // the target's direction ends at once: the application's socket can then close fully
    s.on("data", (chunk: Buffer) => {
      received.update(chunk);
      receivedBytes += chunk.length;
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
      tokens: new TokenSet(["t"]),
      cert: cert.cert,
      key: cert.key,
      params: resolveServerParams({}),
      limits,
      maxSessions: 10,
      globalBuffer: 1 << 30,
      handshakeTimeoutMs: 10_000,
      maxFailuresPerMinute: 100,
    },
    log,
  );
  const { port } = await server.start();
  t.after(() => server.stop());
  const runner = new ClientRunner(
    {
      server: { host: "127.0.0.1", port },
      target: "default",
      verification: { mode: "pin", pin: cert.fingerprint },
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
