/**
 * `lifeline connect --stdio`, as ssh runs it as ProxyCommand: a clear error and no crash when no
 * session can be had, and a clean CLOSE when ssh hangs it up, so that serve lets the target go at
 * once instead of holding it for the session timeout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { deadPort, echoTarget, listen, pseudoRandom } from "../support/net-fixtures.js";
import { lifeline, stateDir } from "../support/procs.js";
import { connectArgs, startServe } from "../support/setup.js";
import { until } from "../support/until.js";

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
  "SIGHUP (ssh exiting) ends a --stdio session with CLOSE: serve closes it at once; nothing is logged on the way",
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
    await client.exited;
    // ssh shows its ProxyCommand's stderr on the user's terminal: a working session says nothing there.
    assert.deepEqual(
      client.records.map((r) => r.event),
      [],
      "--stdio logs warnings and errors only, unless --log-level says otherwise",
    );
  },
);

test(
  "--stdio: the target's end of stream closes stdout at once, while stdin still goes through",
  { timeout: 30_000 },
  async (t) => {
    const sent = pseudoRandom(7)(4 << 20);
    let received = "";
    let inputEnded!: () => void;
    const ended = new Promise<void>((resolve) => (inputEnded = resolve));
    // Says its piece and half-closes, as a server of a request/response protocol may, then reads on.
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.end(sent);
      s.on("data", (d: Buffer) => (received += d.toString()));
      s.once("end", inputEnded);
    });
    const served = await startServe(t, await listen(t, target));
    // stdout is a real pipe (a FIFO), as ssh and shells give: a socket pair, as Node gives its
    // children, would show the end of stream without the descriptor being closed. The test keeps a
    // write end of its own open for a while, as `2>&1` or a wrapper script would.
    const dir = stateDir(t);
    const fifo = join(dir, "stdout");
    execFileSync("mkfifo", [fifo]);
    const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeEnd = openSync(fifo, "w");
    const client = lifeline(t, connectArgs(served.port, served, dir, ["--no-fallback"], ["--stdio"]), {
      stdio: writeEnd,
    });
    const pid = client.child.pid as number;
    // Read only once connect has found the pipe full: the event loop then watches descriptor 1.
    await until(() => watchesDescriptor(pid, 1), "connect waiting for room in the pipe");
    const reader = new Socket({ fd: readEnd, writable: false });
    t.after(() => reader.destroy());
    const chunks: Buffer[] = [];
    let got = 0;
    let outputEnded = false;
    reader.on("data", (d: Buffer) => chunks.push(d) && (got += d.length));
    reader.once("end", () => (outputEnded = true));
    await until(() => got === sent.length, "all the target sent, on stdout");
    assert.ok(Buffer.concat(chunks).equals(sent), "stdout carries what the target sent");

    // Its stdout ended, connect let descriptor 1 go (to /dev/null) and no longer watches it: a watch
    // left on the pipe, which the test still holds open, would wake the event loop for ever.
    await until(
      () => readlinkSync(`/proc/${pid}/fd/1`) === "/dev/null" && !watchesDescriptor(pid, 1),
      "descriptor 1 released and no longer watched",
    );

    closeSync(writeEnd);
    await until(() => outputEnded, "the end of connect's stdout, with its stdin still open", 10_000);
    assert.equal(client.child.exitCode, null, "stdout ended while connect still runs");
    client.child.stdin?.end("after");
    await ended;
    assert.equal(received, "after");
    assert.equal(await client.exited, 0);
  },
);

/** Whether an epoll instance of process `pid` watches its descriptor `fd` (Linux: /proc fdinfo). */
function watchesDescriptor(pid: number, fd: number): boolean {
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (link !== "anon_inode:[eventpoll]") continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${name}`, "utf8");
    if (new RegExp(`^tfd:\\s+${fd}\\s`, "m").test(info)) return true;
  }
  return false;
}

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
