/**
 * Target connections on the server: a target that refuses resets only its channel (logged as
 * `target.unreachable`), and one that fails after it connected aborts only its channel; the session
 * carries on with the next one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, createServer, type Socket } from "node:net";
import { deadPort, listen } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";

/** Connects to `port` and resolves once the connection closes: what arrived, and whether it was reset. */
function untilClosed(port: number, write?: string): Promise<{ got: string; reset: boolean }> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let got = "";
    let reset = false;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (got += d));
    socket.once("connect", () => write && socket.write(write));
    socket.once("error", (err: NodeJS.ErrnoException) => (reset = err.code === "ECONNRESET"));
    socket.once("close", () => resolve({ got, reset }));
  });
}

test("a refusing target resets only its channel", { timeout: 30_000 }, async (t) => {
  const { serve, port, dir, fingerprint } = await startServe(t, await deadPort());
  const { connect, port: local } = await startConnect(t, port, { dir, fingerprint });
  // Reset, as a refused direct connection would be, not closed as if the target had answered nothing.
  assert.deepEqual(await untilClosed(local, "hello"), { got: "", reset: true });
  const record = await serve.waitFor("target.unreachable");
  assert.equal(record.target, "default");
  assert.equal(serve.events("session.closed").length, 0, "the session lives on");
  assert.equal(connect.child.exitCode, null);
  // The client's log says why too: its user may have no access to the server's.
  const refused = await connect.waitFor("channel.refused");
  assert.equal(refused.code, "TARGET_UNREACHABLE");
  assert.equal(refused.target, "default");
});

test("a target name the server does not have: the client's log says so", { timeout: 30_000 }, async (t) => {
  const { port, dir, fingerprint } = await startServe(t, await deadPort());
  const { connect, port: local } = await startConnect(t, port, { dir, fingerprint }, ["--target", "nope"]);
  assert.deepEqual(await untilClosed(local, "hello"), { got: "", reset: true });
  const refused = await connect.waitFor("channel.refused");
  assert.equal(refused.code, "TARGET_UNKNOWN");
  assert.match(refused.msg, /TARGET_UNKNOWN \(target "nope"\)/);
});

test(
  "a target that fails after connecting aborts its channel, and the next one works",
  { timeout: 30_000 },
  async (t) => {
    let first = true;
    const target = createServer((socket: Socket) => {
      if (first) {
        first = false;
        socket.once("data", () => {
          socket.write("partial");
          setTimeout(() => socket.resetAndDestroy(), 100);
        });
      } else {
        socket.pipe(socket);
      }
    });
    const { serve, port, dir, fingerprint } = await startServe(t, await listen(t, target));
    const { port: local } = await startConnect(t, port, { dir, fingerprint });
    // What the target sent, then the reset, as a direct connection would show them.
    assert.deepEqual(await untilClosed(local, "hello"), { got: "partial", reset: true });
    assert.equal(serve.events("target.unreachable").length, 0, "it was reachable");
    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(local, "127.0.0.1", () => socket.write("again"));
      socket.setEncoding("utf8");
      socket.once("data", (d: string) => {
        socket.destroy();
        resolve(d);
      });
      socket.once("error", reject);
    });
    assert.equal(echoed, "again");
    assert.equal(serve.events("session.closed").length, 0, "the session lives on");
  },
);
