/**
 * `lifeline connect --stdio`, as ssh runs it as ProxyCommand: a clear error and no crash when no
 * session can be had, and a clean CLOSE when ssh hangs it up, so that serve lets the target go at
 * once instead of holding it for the session timeout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { deadPort, echoTarget, listen } from "../support/net-fixtures.js";
import { lifeline, stateDir } from "../support/procs.js";
import { connectArgs, startServe } from "../support/setup.js";

test("--stdio without a reachable server and without fallback fails with its error, not a crash", async (t) => {
  const dir = stateDir(t);
  const client = lifeline(
    t,
    ["connect", "--stdio", "--no-fallback", "--server", `127.0.0.1:${await deadPort()}`, "--state-dir", dir],
    { env: { LIFELINE_TOKEN: "x" } },
  );
  client.child.stdin?.write("hi"); // and stdin stays open, as ssh's does
  assert.equal(await client.exited, 1);
  const stderr = client.stderrText.join("\n");
  assert.ok(client.events("link.failed").length > 0, stderr);
  assert.doesNotMatch(stderr, /Unhandled|AbortError|\n\s+at /, "no stack trace");
});

test(
  "SIGHUP (ssh exiting) ends a --stdio session with CLOSE: serve closes it at once",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const served = await startServe(t, await listen(t, target.server));
    const client = lifeline(t, connectArgs(served.port, served, stateDir(t), ["--no-fallback"], ["--stdio"]));
    client.child.stdin?.write("hello");
    await new Promise<void>((resolve) =>
      client.child.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("hello")) resolve();
      }),
    );
    client.kill("SIGHUP");
    const closed = await served.serve.waitFor("session.closed");
    assert.equal(closed.code, "NORMAL");
    assert.equal(served.serve.events("session.interrupted").length, 0, "not a lost link kept for 180 s");
  },
);

test("--stdio on the fallback: a fallback connection that ends in a reset makes it exit 1, after what it sent", async (t) => {
  const direct = createServer((s) => {
    s.on("error", () => undefined);
    s.write("partial");
    setTimeout(() => s.resetAndDestroy(), 100);
  });
  const client = lifeline(
    t,
    [
      "connect",
      "--stdio",
      "--server",
      `127.0.0.1:${await deadPort()}`,
      "--fallback",
      `127.0.0.1:${await listen(t, direct)}`,
      "--state-dir",
      stateDir(t),
    ],
    { env: { LIFELINE_TOKEN: "x" } },
  );
  let out = "";
  client.child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  assert.equal(await client.exited, 1, "not a clean end");
  assert.equal(out, "partial");
  assert.equal(client.events("fallback.used").length, 1);
});
