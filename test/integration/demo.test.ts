/**
 * Acceptance (issue 6, point 5): `lifeline demo` in a real terminal: a shell in a lifeline session,
 * a silent fault switched on with SIGUSR1, a command typed during the outage that runs once after
 * the resume, and a clean exit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lifelineArgs } from "../../src/cli/command.js";
import { TmuxTerminal } from "../support/tmux.js";
import { until } from "../support/until.js";

/** Running, as opposed to gone or a zombie that its parent (tmux) has not reaped yet. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const demoDirs = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith("lifeline-demo-"));

test(
  "lifeline demo: SIGUSR1 silences the link, the status line shows, typed input runs once after the resume",
  { timeout: 90_000 },
  async (t) => {
    const terminal = TmuxTerminal.start(
      t,
      [process.execPath, ...lifelineArgs(["demo", "--drop-seconds", "8s"])],
      { cols: 120, rows: 30 },
      {
        SHELL: "/bin/bash",
      },
    );
    const before = demoDirs();
    const intro = await terminal.waitFor(/lifeline demo \(pid (\d+)\)/);
    const pid = Number(/lifeline demo \(pid (\d+)\)/.exec(intro)?.[1]);
    terminal.type("echo before-$((3+4))\r");
    await terminal.waitFor(/^before-7$/m);

    process.kill(pid, "SIGUSR1");
    // Typed into the silent link before anything noticed: counted as buffered once keepalives find
    // out (within the default 5 s), as what is typed after.
    terminal.type("echo early-$((1+1))\r");
    await terminal.waitFor(/connection lost, reconnecting, \d+ s left, 20 keystrokes buffered/, 15_000);
    terminal.type("echo during-$((5+6))\r");
    await terminal.waitFor(/^during-11$/m, 20_000);
    await terminal.waitFor(/^(?![\s\S]*connection lost)/);
    assert.equal(terminal.screen().split("\nearly-2\n").length - 1, 1);
    assert.equal(terminal.screen().split("\nduring-11\n").length - 1, 1);

    terminal.press("C-]", "d");
    // The demo ends, and takes its host, its server and its temporary directory with it.
    await terminal.waitFor(/\[lifeline: quit\]/);
    await until(() => !running(pid), "the demo process to end");
    await until(() => demoDirs().every((d) => before.includes(d)), "the demo's temporary directory to go");
  },
);

/** The processes `pid` started that are still there. */
function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

test(
  "lifeline demo: closing its terminal (SIGHUP) ends its host and server and removes its directory",
  { timeout: 60_000 },
  async (t) => {
    const terminal = TmuxTerminal.start(
      t,
      [process.execPath, ...lifelineArgs(["demo"])],
      { cols: 120, rows: 30 },
      { SHELL: "/bin/bash" },
    );
    const before = demoDirs();
    const intro = await terminal.waitFor(/lifeline demo \(pid (\d+)\)/);
    const pid = Number(/lifeline demo \(pid (\d+)\)/.exec(intro)?.[1]);
    terminal.type("echo up-$((1+2))\r");
    await terminal.waitFor(/^up-3$/m);
    const roles = children(pid);
    assert.equal(roles.length, 2, "the demo runs a host and a server");
    t.after(() => {
      // Should this test fail, the roles it found are not left behind.
      for (const role of roles.filter(running)) process.kill(role, "SIGKILL");
      for (const d of demoDirs())
        if (!before.includes(d)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    });

    process.kill(pid, "SIGHUP");
    await until(() => !running(pid), "the demo process to end");
    await until(() => roles.every((role) => !running(role)), "its host and server to end");
    await until(() => demoDirs().every((d) => before.includes(d)), "the demo's temporary directory to go");
  },
);
