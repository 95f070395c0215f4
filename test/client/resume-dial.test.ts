/**
 * The resume dial against in-process servers on loopback: a connection swallowed before TLS is
 * overtaken by a later attempt, and a connection waiting its turn is kept rather than abandoned.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { UnreachableError } from "../../src/client/dialer.js";
import { dialResume, RESUME_ATTEMPTS } from "../../src/client/resume-dial.js";
import { SecurityError } from "../../src/client/verify.js";
import { ensureCertificate } from "../../src/server/credentials.js";
import { deadPort, listen } from "../support/net-fixtures.js";

interface Served {
  port: number;
  pin: string;
  /** Connections in arrival order: the client's port, and whether the client has closed it. */
  connections: { port: number | undefined; closed: boolean }[];
}

/** A TLS server that starts TLS on connection `i` after `holdMs(i)` ms, or never when undefined. */
async function server(t: TestContext, holdMs: (i: number) => number | undefined): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-resume-dial-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key, fingerprint } = await ensureCertificate(dir);
  const connections: Served["connections"] = [];
  const tls = createTlsServer({ cert, key });
  tls.on("secureConnection", (socket) => socket.on("error", () => undefined));
  const listener = createNetServer((raw: Socket) => {
    const state = { port: raw.remotePort, closed: false };
    connections.push(state);
    raw.on("error", () => undefined).on("close", () => (state.closed = true));
    t.after(() => raw.destroy());
    const hold = holdMs(connections.length - 1);
    if (hold !== undefined) setTimeout(() => tls.emit("connection", raw), hold);
    else raw.resume(); // read (and drop) what comes, so that the client's close is seen
  });
  return { port: await listen(t, listener), pin: fingerprint, connections };
}

/** Dials `served` to resume; answers the client port of the connection that won. */
async function winner(served: Served, timeoutMs: number): Promise<number | undefined> {
  const { socket } = await dialResume(
    { host: "127.0.0.1", port: served.port },
    { mode: "pin", pin: served.pin },
    timeoutMs,
  );
  const port = socket.localPort;
  socket.destroy();
  return port;
}

const closed = async (connections: Served["connections"]): Promise<void> => {
  while (connections.some((c) => !c.closed)) await new Promise((resolve) => setTimeout(resolve, 10));
};

test("a connection swallowed before TLS is overtaken by another attempt after 3 × the dial timeout", async (t) => {
  const served = await server(t, (i) => (i === 0 ? undefined : 0));
  const won = await winner(served, 50);
  assert.equal(served.connections.length, 2);
  assert.equal(won, served.connections[1]!.port, "the second connection won");
  await closed(served.connections.slice(0, 1));
});

test("a connection waiting its turn is kept: when it is served first it wins, and the later attempts are closed", async (t) => {
  // Every connection waits 400 ms for TLS; with a 50 ms dial timeout, attempts start every 150 ms.
  const served = await server(t, () => 400);
  const won = await winner(served, 50);
  assert.ok(served.connections.length >= 2, "another attempt started beside the waiting one");
  assert.equal(won, served.connections[0]!.port, "the first connection won");
  await closed(served.connections.slice(1));
});

test("no more than RESUME_ATTEMPTS connections, and a failure once every one of them has failed", async (t) => {
  const served = await server(t, () => undefined);
  await assert.rejects(
    dialResume({ host: "127.0.0.1", port: served.port }, { mode: "pin", pin: served.pin }, 20),
    (err) => err instanceof UnreachableError && err.code === "TIMEOUT",
  );
  assert.equal(served.connections.length, RESUME_ATTEMPTS);
});

test("a refused connection fails the dial at once; a certificate that fails verification too", async (t) => {
  await assert.rejects(
    dialResume({ host: "127.0.0.1", port: await deadPort() }, { mode: "pin", pin: "unused" }, 1000),
    (err) => err instanceof UnreachableError && err.code === "ECONNREFUSED",
  );
  const served = await server(t, () => 0);
  await assert.rejects(
    dialResume(
      { host: "127.0.0.1", port: served.port },
      { mode: "pin", pin: `${served.pin.slice(0, -4)}AAA=` },
      1000,
    ),
    (err) => err instanceof SecurityError,
  );
});
