/**
 * Acceptance (issue 6): `lifeline attach` in a real terminal (tmux), through `lifeline serve` to a
 * real `lifeline host`, with the link cut by a fault proxy: the status line, buffered keystrokes
 * that run exactly once, window size carried (even when changed during the outage), expiry with
 * reattachment to the still-running shell, and input stopped at the buffer limit with nothing lost.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { deadPort, FaultProxy, listen } from "../support/net-fixtures.js";
import { BIN, nodeFlags } from "../../src/cli/command.js";
import { lifeline, stateDir } from "../support/procs.js";
import { startServe } from "../support/setup.js";
import { TmuxTerminal } from "../support/tmux.js";

/** A shell with a known prompt and no user configuration, so screens are predictable. */
const SHELL = "env PS1='ready$ ' HISTFILE=/dev/null bash --norc --noprofile -i";

interface Stage {
  proxy: FaultProxy;
  terminal: TmuxTerminal;
  hostPort: number;
  /** Starts another `lifeline attach` with `args` in its own terminal, through the proxy. */
  attach(args: string[]): TmuxTerminal;
  /** The same `lifeline attach` as a shell command line. */
  command(args: string[]): string;
}

async function stage(
  t: TestContext,
  options: { serve?: string[]; attach?: string[]; size?: { cols: number; rows: number } } = {},
): Promise<Stage> {
  const dir = stateDir(t);
  const host = lifeline(t, ["host", "--listen", "127.0.0.1:0", "--state-dir", dir, "--command", SHELL]);
  const hostPort = await host.port();
  const served = await startServe(
    t,
    hostPort,
    ["--keepalive", "300ms", "--dead-after", "1s", ...(options.serve ?? [])],
    dir,
  );
  const proxy = new FaultProxy(served.port);
  const proxyPort = await listen(t, proxy.server);
  const clientDir = stateDir(t);
  const argv = (args: string[]): string[] => [
    process.execPath,
    ...nodeFlags(),
    BIN,
    "attach",
    "--pin",
    served.fingerprint,
    "--token-file",
    join(dir, "tokens"),
    "--state-dir",
    clientDir,
    ...args,
  ];
  const attach = (args: string[]): TmuxTerminal => TmuxTerminal.start(t, argv(args), options.size);
  const terminal = attach(["--server", `127.0.0.1:${proxyPort}`, "--no-fallback", ...(options.attach ?? [])]);
  await terminal.waitFor(/^ready\$ ?$/m);
  return {
    proxy,
    terminal,
    hostPort,
    attach: (args) => attach(["--server", `127.0.0.1:${proxyPort}`, ...args]),
    command: (args) =>
      argv(["--server", `127.0.0.1:${proxyPort}`, ...args])
        .map((a) => `'${a}'`)
        .join(" "),
  };
}

function cut(proxy: FaultProxy): void {
  proxy.down = true;
  proxy.cut();
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

test(
  "a command typed while the link is down runs exactly once after the resume; the status line appears and clears",
  { timeout: 60_000 },
  async (t) => {
    const { proxy, terminal } = await stage(t);
    terminal.type("echo one-$((1+1))\r");
    await terminal.waitFor(/^one-2$/m);

    cut(proxy);
    await terminal.waitFor(/connection lost, reconnecting, \d+ s left, 0 keystrokes buffered/);
    terminal.type("echo two-$((2+2))\r");
    const during = await terminal.waitFor(
      /connection lost, reconnecting, \d+ s left, 18 keystrokes buffered/,
    );
    assert.doesNotMatch(during, /^two-4$/m, "nothing runs while the link is down");

    proxy.down = false;
    const after = await terminal.waitFor(/^two-4$/m);
    await terminal.waitFor(/^(?![\s\S]*connection lost)/);
    assert.equal(count(terminal.screen(), "\ntwo-4\n"), 1, after);
  },
);

test("a resize during the outage reaches the remote program", { timeout: 60_000 }, async (t) => {
  const { proxy, terminal } = await stage(t, { size: { cols: 100, rows: 30 } });
  terminal.type("stty size\r");
  await terminal.waitFor(/^30 100$/m);
  cut(proxy);
  await terminal.waitFor(/connection lost/);
  terminal.resize(120, 40);
  proxy.down = false;
  await terminal.waitFor(/^(?![\s\S]*connection lost)/);
  terminal.type("clear; stty size\r");
  await terminal.waitFor(/^40 120$/m);
});

test(
  "after expiry, attach says so and reattaches to the shell, which kept its state",
  { timeout: 60_000 },
  async (t) => {
    const staged = await stage(t, { serve: ["--session-timeout", "2s"] });
    const { proxy, terminal } = staged;
    terminal.type("export X=42\r");
    await terminal.waitFor(/ready\$ export X=42\n^ready\$ ?$/m);
    cut(proxy);
    await terminal.waitFor(/Press r to reattach, q to quit/, 20_000);
    proxy.down = false;
    terminal.type("r");
    terminal.type("echo x-$X\r");
    await terminal.waitFor(/^x-42$/m);

    // Detach; the host lists the session; a new attach to it by id finds the shell still there.
    terminal.press("C-]", "d");
    const detached = await terminal.waitFor(/detached; the session keeps running: lifeline attach (\w+)/);
    const id = /lifeline attach (\w+)/.exec(detached)?.[1] as string;
    // Run as a user would, from a shell: tmux may drop the last output of a pane's own short-lived command.
    const listing = TmuxTerminal.start(t, [
      "sh",
      "-c",
      `${staged.command(["--list", "--no-fallback"])}; sleep 60`,
    ]);
    await listing.waitFor(new RegExp(`^${id}  detached \\d+ s  100x30`, "m"));
    const again = staged.attach([id, "--no-fallback"]);
    await again.waitFor(/^ready\$ ?$/m);
    again.type("echo y-$X\r");
    await again.waitFor(/^y-42$/m);
  },
);

test(
  "with a tiny buffer, input stops when it is full, the status line says so, and nothing typed is lost",
  { timeout: 60_000 },
  async (t) => {
    const { proxy, terminal } = await stage(t, { attach: ["--buffer", "1k"] });
    cut(proxy);
    await terminal.waitFor(/connection lost/);
    terminal.type("echo ");
    for (let i = 0; i < 6; i++) terminal.type("x".repeat(500));
    terminal.type(" | wc -c\r");
    await terminal.waitFor(/buffer full \(\d+ keystrokes buffered\): input stopped/);
    proxy.down = false;
    await terminal.waitFor(/^3001$/m, 20_000);
  },
);

test(
  "with the reliability service down, attach goes straight to the host port and says it has no session reliability",
  { timeout: 60_000 },
  async (t) => {
    const staged = await stage(t);
    const direct = staged.attach([
      "--server",
      `127.0.0.1:${await deadPort()}`,
      "--fallback",
      `127.0.0.1:${staged.hostPort}`,
    ]);
    await direct.waitFor(/connected directly, WITHOUT session reliability/);
    await direct.waitFor(/^ready\$ ?$/m);
    direct.type("echo z-$((6*7))\r");
    await direct.waitFor(/^z-42$/m);
  },
);
