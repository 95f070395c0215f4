/**
 * Acceptance (issue 3, points 4 and 5): an outage longer than the session timeout closes both ends
 * cleanly with the expected events; with a small buffer and the link down, the application's
 * writes stop being accepted once the budget is full, and after the resume every byte arrives.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { createHash } from "node:crypto";
import { FaultProxy, listen, pseudoRandom } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";

/** Resolves when `socket` has closed; whether by a reset (an aborted connection) is `socket.errored`. */
function closed(socket: Socket): Promise<void> {
  socket.on("error", () => undefined);
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve())));
}

test(
  "an outage longer than the session timeout closes the target and the application connection",
  { timeout: 60_000 },
  async (t) => {
    const targetSockets: Socket[] = [];
    const target = createServer((s) => {
      targetSockets.push(s);
      s.on("error", () => undefined);
      s.pipe(s);
    });
    const served = await startServe(t, await listen(t, target), [
      "--session-timeout",
      "2s",
      "--keepalive",
      "300ms",
      "--dead-after",
      "1s",
    ]);
    const proxy = new FaultProxy(served.port);
    const client = await startConnect(t, await listen(t, proxy.server), served);

    const app = connect(client.port, "127.0.0.1").on("error", () => undefined);
    app.write("ping");
    await new Promise((resolve) => app.once("data", resolve));
    assert.equal(targetSockets.length, 1);

    proxy.down = true;
    proxy.cut();
    await Promise.all([closed(app), closed(targetSockets[0]!)]);
    assert.equal(
      (app.errored as NodeJS.ErrnoException | null)?.code,
      "ECONNRESET",
      "the application sees a reset",
    );

    const expired = await served.serve.waitFor("session.expired");
    assert.match(expired.msg, /target connections closed/);
    await client.connect.waitFor("link.lost");
    await client.connect.waitFor("session.expired");
    assert.equal(served.serve.events("session.resumed").length, 0);
  },
);

test(
  "with the link down, input stops at the buffer budget and every byte arrives after the resume",
  { timeout: 60_000 },
  async (t) => {
    const received = createHash("sha256");
    let receivedBytes = 0;
    let targetEnded!: () => void;
    const targetDone = new Promise<void>((resolve) => (targetEnded = resolve));
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.on("data", (chunk: Buffer) => {
        received.update(chunk);
        receivedBytes += chunk.length;
      });
      s.on("end", () => {
        s.end();
        targetEnded();
      });
    });
    const served = await startServe(t, await listen(t, target));
    const proxy = new FaultProxy(served.port);
    const client = await startConnect(t, await listen(t, proxy.server), served, [
      "--buffer",
      "64k",
      "--window",
      "64k",
    ]);

    const app = connect(client.port, "127.0.0.1");
    await new Promise((resolve) => app.once("connect", resolve));
    await client.connect.waitFor("session.created");
    proxy.down = true;
    proxy.cut();
    await client.connect.waitFor("link.lost");

    // Write until the socket stops taking data and stays stopped: lifeline has stopped reading it.
    const next = pseudoRandom(42);
    const sent = createHash("sha256");
    let sentBytes = 0;
    const stalled = await new Promise<boolean>((resolve) => {
      const more = (): void => {
        for (;;) {
          const chunk = next(16 * 1024);
          sent.update(chunk);
          sentBytes += chunk.length;
          if (!app.write(chunk)) break;
        }
        const timer = setTimeout(() => resolve(true), 1500);
        app.once("drain", () => {
          clearTimeout(timer);
          more();
        });
      };
      more();
    });
    assert.ok(stalled, "writes stopped being accepted");
    const full = await client.connect.waitFor("buffer.full");
    assert.ok(
      (full.buffered as number) <= 64 * 1024,
      `buffered ${String(full.buffered)} within the 64 KiB budget`,
    );

    proxy.down = false;
    await client.connect.waitFor("session.resumed");
    app.end();
    await targetDone;
    assert.equal(receivedBytes, sentBytes);
    assert.equal(received.digest("hex"), sent.digest("hex"));
    assert.ok(client.connect.events("buffer.released").length > 0);
  },
);

test(
  "SIGTERM stops the server cleanly: clients are told, targets are closed, the process exits 0",
  { timeout: 30_000 },
  async (t) => {
    const targetSockets: Socket[] = [];
    const target = createServer((s) => {
      targetSockets.push(s);
      s.on("error", () => undefined);
      s.pipe(s);
    });
    const served = await startServe(t, await listen(t, target));
    const client = await startConnect(t, served.port, served);
    const app = connect(client.port, "127.0.0.1").on("error", () => undefined);
    app.write("ping");
    await new Promise((resolve) => app.once("data", resolve));

    served.serve.kill("SIGTERM");
    assert.equal(await served.serve.exited, 0);
    await served.serve.waitFor("server.draining");
    await Promise.all([closed(targetSockets[0]!), closed(app)]);
    const closedEvent = await client.connect.waitFor("session.closed");
    assert.equal(closedEvent.code, "GOING_AWAY");
    assert.equal(closedEvent.remote, true, "the client was told, not left to time out");
  },
);

test(
  "a server restart loses the session: its connections are reset with a clear event; one made during the outage, and later ones, get a new session",
  { timeout: 60_000 },
  async (t) => {
    const target = createServer((s) => s.on("error", () => undefined).pipe(s));
    const targetPort = await listen(t, target);
    const first = await startServe(t, targetPort);
    const proxy = new FaultProxy(first.port);
    const client = await startConnect(t, await listen(t, proxy.server), first);
    const echoed = (socket: Socket): Promise<string> =>
      new Promise((resolve, reject) => {
        socket.once("data", (d: Buffer) => resolve(d.toString()));
        socket.once("close", () => reject(new Error("closed before its echo")));
      });
    const echo = async (): Promise<Socket> => {
      const socket = connect(client.port, "127.0.0.1").on("error", () => undefined);
      socket.write("ping");
      await echoed(socket);
      return socket;
    };
    const before = await echo();

    first.serve.kill("SIGKILL");
    await first.serve.exited;
    const second = await startServe(t, targetPort, [], first.dir); // same certificate and token, no memory of sessions
    proxy.targetPort = second.port;
    proxy.down = true;
    proxy.cut();
    await client.connect.waitFor("link.lost");
    // Made during the outage: it waits for the resume, which is refused, and then for a new session.
    const during = connect(client.port, "127.0.0.1").on("error", () => undefined);
    during.write("made during the outage");
    proxy.down = false;

    assert.equal(await echoed(during), "made during the outage");
    during.destroy();
    await closed(before);
    assert.equal(
      (before.errored as NodeJS.ErrnoException | null)?.code,
      "ECONNRESET",
      "a reset, not a clean end",
    );
    const lost = await client.connect.waitFor("session.closed");
    assert.equal(lost.code, "UNKNOWN_SESSION");
    const after = await echo();
    after.destroy();
    assert.equal(
      client.connect.events("session.created").length,
      2,
      "the next connection started a new session",
    );
  },
);

test("SIGTERM during an outage: a connection waiting for the resume is reset, no new session is tried", async (t) => {
  const target = createServer((s) => s.on("error", () => undefined).pipe(s));
  const served = await startServe(t, await listen(t, target));
  const proxy = new FaultProxy(served.port);
  const client = await startConnect(t, await listen(t, proxy.server), served);
  const first = connect(client.port, "127.0.0.1").on("error", () => undefined);
  first.write("ping");
  await new Promise((resolve) => first.once("data", resolve));
  proxy.down = true;
  proxy.cut();
  await client.connect.waitFor("link.lost");
  const waiting = connect(client.port, "127.0.0.1").on("error", () => undefined);
  await new Promise((resolve) => waiting.once("connect", resolve));

  const dialsBefore = client.connect.events("link.connecting").length;
  client.connect.kill("SIGTERM");
  assert.equal(await client.connect.exited, 0);
  await closed(waiting);
  assert.equal(client.connect.events("link.connecting").length, dialsBefore, "no new session after SIGTERM");
});
