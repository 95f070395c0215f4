/**
 * Acceptance (issue 6, host part): a real `lifeline host` process serving real shells in real
 * pseudo-terminals. Tokens are always checked; window size, TERM and exit status are carried;
 * sessions outlive their connections and are replayed on attach, until the idle limit; one client
 * at a time; a malformed connection is refused alone; a client that does not read neither blocks
 * the program nor grows the host's memory, and still gets the last output and the exit status.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HostClient, HostError } from "../../src/terminal/host-client.js";
import { listen } from "../support/net-fixtures.js";
import { lifeline, runLifeline, stateDir, type LifelineProcess } from "../support/procs.js";

const SIZE = { cols: 100, rows: 30 };

interface Host {
  proc: LifelineProcess;
  port: number;
  token: string;
  dir: string;
}

/** `lifeline host` on a free loopback port, with bash as the shell and a temporary home. */
async function startHost(t: TestContext, extra: string[] = []): Promise<Host> {
  const dir = stateDir(t);
  const proc = lifeline(t, ["host", "--listen", "127.0.0.1:0", "--state-dir", dir, ...extra], {
    // No history file: a shell hung up as the host is killed would write one into the home the
    // test is removing.
    env: { SHELL: "/bin/bash", HOME: dir, HISTFILE: "/dev/null" },
  });
  const port = await proc.port();
  const token = readFileSync(join(dir, "tokens"), "utf8")
    .split("\n")
    .find((line) => line.trim() !== "" && !line.startsWith("#"));
  assert.ok(token, "the host created a token file");
  return { proc, port, token, dir };
}

/** A client connection, closed when the test ends; past HELLO with the host's token unless `hello` is false. */
async function client(t: TestContext, host: Host, hello = true): Promise<HostClient> {
  const c = await HostClient.connect(host.port);
  t.after(() => c.close());
  if (hello) await c.hello(host.token);
  return c;
}

/**
 * Runs `command` in the shell and resolves with what it printed, between two markers that the
 * terminal's echo of the command line cannot match (the shell computes them).
 */
async function run(c: HostClient, command: string): Promise<string> {
  const n = Math.floor(Math.random() * 1e6);
  c.input(`echo "<<$((${n}+0))>>"; ${command}; echo "<<$((${n}+1))>>"\r`);
  const match = await c.waitForOutput(new RegExp(`<<${n}>>\\r\\n([^]*?)<<${n + 1}>>`));
  return (match[1] as string).trim();
}

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof HostError && err.code === code);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a wrong or missing token is refused with AUTH_FAILED, and no shell is started", async (t) => {
  const host = await startHost(t);
  const wrong = await client(t, host, false);
  await refusedWith(wrong.hello("not-the-token"), "AUTH_FAILED");
  await wrong.closed;
  const missing = await client(t, host, false);
  await refusedWith(missing.hello(undefined), "AUTH_FAILED");
  await missing.closed;
  await host.proc.waitFor("auth.failed");

  // NEW before HELLO is a protocol error, not a way around the token.
  const skipping = await client(t, host, false);
  skipping.send({ type: "new", size: SIZE, term: "xterm" });
  await refusedWith(skipping.expect("attached"), "PROTOCOL");
  await skipping.closed;

  const future = await client(t, host, false);
  await refusedWith(future.hello(host.token, 2), "VERSION_UNSUPPORTED");

  // The right token still works afterwards: nothing was rate-limited or broken.
  const good = await client(t, host);
  assert.deepEqual(await good.list(), []);
  assert.equal(host.proc.events("terminal.created").length, 0, "no shell was ever started");
});

test("NEW carries the window size and TERM; RESIZE reaches the program", async (t) => {
  const host = await startHost(t);
  const c = await client(t, host);
  const id = await c.create(SIZE, "xterm-lifeline-test");
  assert.match(id, /^[a-z2-7]{8}$/);
  assert.equal(await run(c, "stty size"), "30 100");
  assert.equal(await run(c, "echo $TERM"), "xterm-lifeline-test");
  assert.equal(await run(c, "echo $LIFELINE_SESSION"), id);
  c.resize({ cols: 120, rows: 40 });
  assert.equal(await run(c, "stty size"), "40 120");
  const created = await host.proc.waitFor("terminal.created");
  assert.equal(created.session, id);
  assert.equal(created.term, "xterm-lifeline-test");
});

test("a session outlives its connection: LIST, ATTACH, replay, and the shell's state is intact", async (t) => {
  const host = await startHost(t);
  const first = await client(t, host);
  const id = await first.create(SIZE);
  assert.equal(await run(first, "export X=42; echo before-$((20+1))"), "before-21");
  first.close();
  await host.proc.waitFor("terminal.detached", (r) => r.session === id);

  const second = await client(t, host);
  const [listed, ...others] = await second.list();
  assert.equal(others.length, 0);
  assert.equal(listed?.id, id);
  assert.equal(listed?.attached, false);
  assert.equal(listed?.command, "/bin/bash");
  // LIST may be followed by another LIST, then ATTACH.
  assert.equal((await second.list()).length, 1);
  await second.attach(id, { cols: 90, rows: 20 });
  await second.waitForOutput(/before-21/); // replayed: nothing new was typed yet
  assert.equal(await run(second, "echo $X"), "42");
  assert.equal(await run(second, "stty size"), "20 90", "ATTACH's size is the new window size");
  const attached = await host.proc.waitFor("terminal.attached", (r) => r.session === id);
  assert.ok((attached.replayedBytes as number) > 0);

  const third = await client(t, host);
  assert.equal((await third.list())[0]?.attached, true);
  await refusedWith(third.attach("nosuchid", SIZE), "NO_SUCH_SESSION");
});

test("the program's exit status ends the session: EXIT, close, gone from LIST", async (t) => {
  const host = await startHost(t);
  const c = await client(t, host);
  const id = await c.create(SIZE);
  c.input("exit 3\r");
  assert.deepEqual(await c.exit(), { type: "exit", code: 3, signal: null });
  await c.closed;
  const exited = await host.proc.waitFor("terminal.exited", (r) => r.session === id);
  assert.equal(exited.code, 3);
  const other = await client(t, host);
  assert.deepEqual(await other.list(), []);
});

test("--command runs with the shell's -c; a signal is reported as such", async (t) => {
  const host = await startHost(t, ["--command", "echo hi-$((6*7)); read line; exit 7"]);
  const c = await client(t, host);
  await c.create(SIZE);
  await c.waitForOutput(/hi-42/);
  c.input("\r");
  assert.deepEqual(await c.exit(), { type: "exit", code: 7, signal: null });
  assert.equal((await host.proc.waitFor("listening")).command, "echo hi-$((6*7)); read line; exit 7");

  const killed = await client(t, host);
  const id = await killed.create(SIZE);
  const { pid } = await host.proc.waitFor("terminal.created", (r) => r.session === id);
  process.kill(pid as number, "SIGTERM");
  assert.deepEqual(await killed.exit(), { type: "exit", code: null, signal: 15 });
});

test("--idle-limit: a session without a client ends after the limit, and its process is gone", async (t) => {
  const host = await startHost(t, ["--idle-limit", "1s"]);
  const c = await client(t, host);
  const id = await c.create(SIZE);
  const { pid } = await host.proc.waitFor("terminal.created", (r) => r.session === id);
  assert.ok(alive(pid as number));
  await sleep(1500); // attached: the idle limit does not run
  assert.equal(host.proc.events("terminal.expired").length, 0);
  c.close();
  const detached = await host.proc.waitFor("terminal.detached", (r) => r.session === id);
  const expired = await host.proc.waitFor("terminal.expired", (r) => r.session === id);
  const after = (expired.time as number) - (detached.time as number);
  assert.ok(after >= 950 && after < 3000, `expired ${after} ms after the client left`);
  await host.proc.waitFor("terminal.exited", (r) => r.session === id);
  assert.ok(!alive(pid as number), "the shell was ended");
  assert.deepEqual(await (await client(t, host)).list(), []);
});

test("a session hung up at its idle limit is gone at once, even while its program takes its time to end", async (t) => {
  // A program that ignores the hang-up: the host kills it only 5 s later.
  const host = await startHost(t, ["--idle-limit", "1s", "--command", "trap '' HUP; sleep 600"]);
  const c = await client(t, host);
  const id = await c.create(SIZE);
  c.close();
  await host.proc.waitFor("terminal.expired", (r) => r.session === id);
  assert.equal(host.proc.events("terminal.exited").length, 0, "the program is still running");
  assert.deepEqual(await (await client(t, host)).list(), [], "LIST no longer shows it");
  await refusedWith((await client(t, host)).attach(id, SIZE), "NO_SUCH_SESSION");
  await host.proc.waitFor("terminal.exited", (r) => r.session === id);
});

test("the log names a session's token; SIGHUP closes the connections of a revoked token and the session lives on", async (t) => {
  const host = await startHost(t);
  const tokens = join(host.dir, "tokens");
  writeFileSync(tokens, `${host.token} # Ward 7\nother-token\n`);
  host.proc.kill("SIGHUP");
  await host.proc.waitFor("config.reloaded");
  const c = await client(t, host);
  const id = await c.create(SIZE);
  const created = await host.proc.waitFor("terminal.created", (r) => r.session === id);
  assert.equal(created.tokenName, "Ward 7");

  writeFileSync(tokens, "other-token\n");
  host.proc.kill("SIGHUP");
  await refusedWith(c.expect("exit"), "AUTH_FAILED");
  const revoked = await host.proc.waitFor("auth.failed", (r) => r.session === id);
  assert.equal(revoked.tokenName, "Ward 7");
  await host.proc.waitFor("terminal.detached", (r) => r.session === id);
  const other = await HostClient.connect(host.port);
  t.after(() => other.close());
  await other.hello("other-token");
  assert.deepEqual(
    (await other.list()).map((session) => [session.id, session.attached]),
    [[id, false]],
    "the session carries on, detached",
  );
});

test("a second ATTACH takes over: the first client gets TAKEN_OVER and is closed", async (t) => {
  const host = await startHost(t);
  const first = await client(t, host);
  const id = await first.create(SIZE);
  assert.equal(await run(first, "echo one"), "one");
  const second = await client(t, host);
  await second.attach(id, SIZE);
  await refusedWith(first.expect("exit"), "TAKEN_OVER");
  await first.closed;
  assert.equal(await run(second, "echo two"), "two");
  const taken = await host.proc.waitFor("terminal.detached", (r) => r.reason === "taken-over");
  assert.equal(taken.session, id);
  assert.equal((await host.proc.waitFor("terminal.attached")).tookOver, true);
});

test("garbage is refused with PROTOCOL on its connection only; other sessions carry on", async (t) => {
  const host = await startHost(t);
  const worker = await client(t, host);
  await worker.create(SIZE);
  assert.equal(await run(worker, "echo alive"), "alive");

  const garbage = await client(t, host, false);
  garbage.socket.write(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
  await refusedWith(garbage.expect("ready"), "PROTOCOL");
  await garbage.closed;

  // A client past HELLO and attached to its own session sends a malformed message.
  const broken = await client(t, host);
  const brokenId = await broken.create(SIZE);
  broken.socket.write(Buffer.from([0x06, 0, 0, 0, 2, 0x7b, 0x7d])); // RESIZE without a size
  await refusedWith(broken.expect("exit"), "PROTOCOL");
  await broken.closed;
  // And a well-formed message out of order: HELLO after ATTACHED.
  const again = await client(t, host);
  await again.attach(brokenId, SIZE);
  again.send({ type: "hello", version: 1, token: host.token });
  await refusedWith(again.expect("exit"), "PROTOCOL");

  assert.equal(await run(worker, "echo still-$((1+1))"), "still-2");
  assert.equal((await host.proc.waitFor("terminal.refused")).code, "PROTOCOL");
  const sessions = await (await client(t, host)).list();
  assert.equal(sessions.length, 2, "the malformed client's session is detached, not ended");
});

test("--max-sessions: one more NEW is refused with SERVER_BUSY", async (t) => {
  const host = await startHost(t, ["--max-sessions", "1"]);
  await (await client(t, host)).create(SIZE);
  await refusedWith((await client(t, host)).create(SIZE), "SERVER_BUSY");
});

test("connections that never say HELLO cannot keep a real client out: the oldest waiting ones make room", async (t) => {
  const host = await startHost(t, ["--max-sessions", "1"]);
  const silent: Socket[] = [];
  t.after(() => silent.forEach((socket) => socket.destroy()));
  let dropped = 0;
  for (let i = 0; i < 120; i++) {
    const socket = connect(host.port, "127.0.0.1");
    socket.on("error", () => undefined).on("close", () => dropped++);
    socket.resume();
    silent.push(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
  }
  const real = await client(t, host);
  assert.deepEqual(await real.list(), [], "a real client gets in and is served");
  // 120 silent connections, at most 32 waiting for HELLO: the others were closed, oldest first.
  while (dropped < 120 - 32) await sleep(50);
  assert.equal(
    silent.slice(0, 120 - 32).every((socket) => socket.destroyed),
    true,
  );
});

/** Resident memory of process `pid`, in bytes. */
function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
}

test("input for a program that does not read it stops the client's connection, and the host's memory stays bounded", async (t) => {
  const host = await startHost(t, ["--command", "sleep 600"]);
  const c = await client(t, host);
  await c.create(SIZE);
  const before = rss(host.proc.child.pid as number);
  const piece = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  // Until the host stops taking it: its connection backs up into this one (or 256 MiB went through).
  while (sent < 256 * 2 ** 20 && c.socket.writableLength < 8 * 2 ** 20) {
    c.input(piece);
    sent += piece.length;
    if (c.socket.writableLength > 2 ** 20) await sleep(20);
  }
  assert.ok(c.socket.writableLength >= 8 * 2 ** 20, `the host stopped reading (${sent} bytes sent)`);
  await sleep(500);
  const grown = rss(host.proc.child.pid as number) - before;
  assert.ok(grown < 32 * 2 ** 20, `the host grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  const sessions = await (await client(t, host)).list();
  assert.equal(sessions.length, 1, "the host still answers other clients");
});

test("a large paste reaches a program that reads it, every byte in order", async (t) => {
  const host = await startHost(t, ["--command", "stty raw -echo; echo go; head -c 3000000 | sha256sum"]);
  const c = await client(t, host);
  await c.create(SIZE);
  await c.waitForOutput(/go/);
  const paste = Buffer.alloc(3_000_000);
  for (let i = 0; i < paste.length; i++) paste[i] = 0x20 + ((i * 7919) % 95);
  for (let at = 0; at < paste.length; at += 60_000) c.input(paste.subarray(at, at + 60_000));
  const digest = createHash("sha256").update(paste).digest("hex");
  await c.waitForOutput(new RegExp(digest), 60_000);
});

/**
 * A client that sends NEW and reads nothing until the session's program has exited; then it reads
 * again. Resolves after its ATTACHED, with what followed still to come.
 */
async function readAfterExit(t: TestContext, host: Host): Promise<HostClient> {
  const c = await client(t, host);
  c.socket.pause();
  c.send({ type: "new", size: SIZE, term: "xterm" });
  const { session } = await host.proc.waitFor("terminal.created");
  await host.proc.waitFor("terminal.exited", (r) => r.session === session, 30_000);
  c.socket.resume();
  await c.expect("attached");
  return c;
}

test("a client that does not read never holds the program up nor fills the host's memory", async (t) => {
  const total = 32 * 1024 * 1024; // far more than the socket buffers, the high-water mark and the scrollback
  const host = await startHost(t, [
    "--command",
    `head -c ${total} /dev/zero | tr '\\0' x; echo; echo END-$((6*7))`,
  ]);
  const c = await readAfterExit(t, host);
  assert.deepEqual(await c.exit(), { type: "exit", code: 0, signal: null });
  assert.match(c.text, /END-42\s*$/, "the most recent output, then EXIT");
  assert.ok(c.outputBytes < total / 2, `the host kept a bounded part, not all (${c.outputBytes} bytes)`);
});

test("a client that falls behind within the scrollback gets every byte, in order, exactly once", async (t) => {
  const lines = 3_000_000; // about 27 MB through the terminal: more than the socket buffers hold
  const host = await startHost(t, ["--scrollback", "64MiB", "--command", `seq 1 ${lines}`]);
  const c = await readAfterExit(t, host);
  await c.exit();
  const got = c.text.split("\r\n");
  assert.equal(got.pop(), "");
  assert.equal(got.length, lines);
  for (let i = 0; i < lines; i++) if (got[i] !== String(i + 1)) assert.fail(`line ${i + 1} is ${got[i]}`);
});

test("a client that stops reading while its program runs gets the rest, in order, when it reads again", async (t) => {
  const lines = 2_000_000; // about 15 MB: far more than the socket buffers and the high-water mark
  const host = await startHost(t, [
    "--scrollback",
    "64MiB",
    "--command",
    `seq 1 ${lines}; echo DONE; touch "$HOME/printed"; sleep 600`,
  ]);
  const c = await client(t, host);
  await c.create(SIZE);
  c.socket.pause();
  const printed = join(host.dir, "printed");
  for (let i = 0; i < 600 && !existsSync(printed); i++) await sleep(100);
  assert.ok(existsSync(printed), "the program printed everything while the client was not reading");
  c.socket.resume(); // the host's connection drains, and it sends the rest: the program is still running
  await c.waitForOutput(/DONE/, 60_000);
  const got = c.text.split("\r\n");
  const last = got.indexOf("DONE");
  for (let i = 0; i < lines; i++) if (got[i] !== String(i + 1)) assert.fail(`line ${i + 1} is ${got[i]}`);
  assert.equal(last, lines);
});

test("programs that exit right after a burst of output: every byte arrives before EXIT", async (t) => {
  const size = 100_000;
  const host = await startHost(t, ["--command", `head -c ${size} /dev/zero | tr '\\0' x`]);
  const clients = await Promise.all(Array.from({ length: 8 }, () => client(t, host)));
  await Promise.all(clients.map((c) => c.create(SIZE)));
  for (const c of clients) {
    assert.deepEqual(await c.exit(), { type: "exit", code: 0, signal: null });
    assert.equal(c.outputBytes, size);
  }
});

test("SIGTERM hangs up every session, tells the attached client, and exits with status 0", async (t) => {
  const host = await startHost(t);
  const attached = await client(t, host);
  await attached.create(SIZE);
  const detached = await client(t, host);
  const id = await detached.create(SIZE);
  detached.close();
  const pids = host.proc.events("terminal.created").map((r) => r.pid as number);
  await host.proc.waitFor("terminal.detached", (r) => r.session === id);
  const waiting = await client(t, host);
  host.proc.kill("SIGTERM");
  // Hung up: killed by SIGHUP, or (when bash sees its terminal gone first) an error status.
  const exit = await attached.exit();
  assert.ok(exit.signal === 1 || (exit.code !== null && exit.code !== 0), JSON.stringify(exit));
  await refusedWith(waiting.expect("sessions"), "GOING_AWAY");
  assert.equal(await host.proc.exited, 0);
  assert.equal(host.proc.events("server.stopped").length, 1);
  assert.deepEqual(
    pids.filter((pid) => alive(pid)),
    [],
    "no shell outlives the host",
  );
});

test("bad flags and settings stop lifeline host at start with status 2", async (t) => {
  const dir = stateDir(t);
  for (const args of [
    ["--idle-limit", "soon"],
    ["--listen", "not an address"],
    ["--max-sessions", "0"],
    ["--scrollback", "0"],
    ["--no-such-flag"],
  ]) {
    const result = await runLifeline(t, ["host", "--state-dir", dir, ...args]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /"event":"listening"/);
  }
  for (const [args, pattern] of [
    [["--scrollback", "1GiB"], /scrollback must be at most 64MiB/],
    [["--idle-limit", "1000h"], /idle-limit must be at most 24 days/],
    [["--tokens", join(dir, "missing")], /tokens \(.*missing\): cannot read: no such file/],
  ] as const) {
    const result = await runLifeline(t, ["host", "--listen", "127.0.0.1:0", "--state-dir", dir, ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /"event":"startup.failed"/);
    assert.match(result.stderr, pattern);
  }
  const taken = await listen(t, createServer());
  const inUse = await runLifeline(t, ["host", "--listen", `127.0.0.1:${taken}`, "--state-dir", dir]);
  assert.equal(inUse.code, 2);
  assert.match(inUse.stderr, /"event":"startup.failed".*EADDRINUSE/);
  const shell = await runLifeline(t, ["host", "--listen", "127.0.0.1:0", "--state-dir", dir], {
    env: { SHELL: "/nonexistent/sh" },
  });
  assert.equal(shell.code, 2);
  assert.match(shell.stderr, /the shell \/nonexistent\/sh cannot be run/);
});

test("settings come from a config file and LIFELINE_HOST_* too; --check-config prints them", async (t) => {
  const dir = stateDir(t);
  const config = join(dir, "host.yaml");
  writeFileSync(config, "idle-limit: 5m\nscrollback: 1MiB\n");
  const result = await runLifeline(t, ["host", "--config", config, "--state-dir", dir, "--check-config"], {
    env: { LIFELINE_HOST_MAX_SESSIONS: "8" },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /configuration OK/);
  assert.match(result.stdout, /idle-limit\s+5m\s+\(config\)/);
  assert.match(result.stdout, /scrollback\s+1MiB\s+\(config\)/);
  assert.match(result.stdout, /max-sessions\s+8\s+\(env\)/);
  assert.match(result.stdout, /listen\s+127\.0\.0\.1:1494\s+\(default\)/);
  const never = await runLifeline(t, ["host", "--idle-limit", "0", "--state-dir", dir, "--check-config"]);
  assert.match(never.stdout, /idle-limit\s+0s\s+\(cli\)/, "0: sessions never expire");
  writeFileSync(config, "idle-limt: 5m\n");
  const bad = await runLifeline(t, ["host", "--config", config, "--state-dir", dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"event":"config.invalid".*unknown key \\"idle-limt\\"/);
});
