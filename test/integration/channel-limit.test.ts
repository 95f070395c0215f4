/**
 * More local connections than the server's channel limit per session: `connect` carries them on
 * further sessions instead of refusing them, and an extra session ends with its last connection.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { echoTarget, listen } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";
import { until } from "../support/until.js";

/** A connection to `port` that has had `text` echoed back; destroyed when the test ends at the latest. */
function echoing(t: TestContext, port: number, text: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1", () => socket.write(text));
    t.after(() => socket.destroy());
    let got = "";
    socket.setEncoding("utf8");
    const onData = (d: string): void => {
      got += d;
      if (got.length < text.length) return;
      socket.off("data", onData);
      if (got === text) resolve(socket);
      else reject(new Error(`sent ${JSON.stringify(text)}, got ${JSON.stringify(got)}`));
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

test(
  "connections beyond the channel limit go on further sessions, which end with their last connection",
  { timeout: 30_000 },
  async (t) => {
    const { server } = echoTarget();
    const { serve, port, dir, fingerprint } = await startServe(t, await listen(t, server), [
      "--max-channels",
      "2",
    ]);
    const { connect, port: local } = await startConnect(t, port, { dir, fingerprint });

    // Five at once, all waiting for the first session: two fit on it, two on a second, one on a third.
    const sockets = await Promise.all([0, 1, 2, 3, 4].map((i) => echoing(t, local, `connection ${i}`)));
    assert.equal(serve.events("session.created").length, 3, "three sessions for five connections");
    assert.equal(connect.events("channel.refused").length, 0, "no connection refused");
    assert.equal(connect.events("session.full").length, 2, "the first and the second session filled up");

    for (const socket of sockets) socket.end();
    await until(() => serve.events("session.closed").length === 2, "the two extra sessions to end");
    // The one left carries the next connection; no new session is needed.
    await echoing(t, local, "after");
    assert.equal(serve.events("session.created").length, 3);
    assert.equal(serve.events("session.closed").length, 2);
  },
);
