/**
 * The event log never holds the service up: when whoever reads `serve`'s stderr stops reading (a
 * stuck journal, a full pipe), sessions carry on, and the lines written meanwhile arrive once the
 * reader reads again; and what waits for the reader is bounded.
 */
import { spawn } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duplex } from "node:stream";
import { readFileSync } from "node:fs";
import { ClientRunner } from "../../src/client/runner.js";
import { EventLog } from "../../src/ops/log.js";
import { lifelineArgs } from "../../src/cli/command.js";
import { listen } from "../support/net-fixtures.js";
import { runLifeline, stateDir } from "../support/procs.js";
import { TmuxTerminal } from "../support/tmux.js";
import { startConnect, startServe } from "../support/setup.js";
import { until } from "../support/until.js";

test(
  "a log reader that stops reading never stops serve, and gets every line once it reads again",
  { timeout: 60_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target));
    const stderr = served.serve.child.stderr!;
    stderr.pause(); // from here on, nothing reads serve's log

    // About 200 KB of warnings, far more than a pipe and the reader's buffer hold: channels to a
    // target serve does not have, each refused with a `channel.refused` line.
    const token = readFileSync(join(served.dir, "tokens"), "utf8")
      .split("\n")
      .find((line) => line.trim() !== "" && !line.startsWith("#")) as string;
    const runner = new ClientRunner(
      {
        server: { host: "127.0.0.1", port: served.port },
        target: "no-such-target-".repeat(4),
        verification: { mode: "pin", pins: [served.fingerprint] },
        token: new TextEncoder().encode(token),
        limits: {},
        dialTimeoutMs: 5000,
      },
      new EventLog("test", "silent"),
      () => undefined,
    );
    await runner.start();
    t.after(() => runner.close());
    const refusals = 800;
    for (let i = 0; i < refusals; i++) {
      const app = new Duplex({ read() {}, write: (_chunk, _enc, cb) => cb() });
      const outcome = new Promise((resolve) => runner.openChannel(app, resolve));
      let timer: NodeJS.Timeout | undefined;
      const refused = await Promise.race([
        outcome,
        new Promise((resolve) => (timer = setTimeout(() => resolve("no answer"), 10_000))),
      ]);
      clearTimeout(timer);
      assert.equal(
        refused,
        "reset",
        `channel ${i + 1} of ${refusals} was refused while the log was not read`,
      );
    }

    // A new session is served too.
    const client = await startConnect(t, served.port, served);
    const app = tcpConnect(client.port, "127.0.0.1");
    t.after(() => app.destroy());
    app.setEncoding("utf8");
    let echoed = "";
    app.on("data", (text: string) => (echoed += text));
    app.write("still served");
    await until(() => echoed === "still served", "an echo through a new session", 10_000);

    stderr.resume();
    await until(
      () => served.serve.events("channel.refused").length === refusals,
      `${refusals} channel.refused lines`,
      10_000,
    );
    assert.equal(served.serve.events("session.created").length, 2, "both sessions were logged");
  },
);

test(
  "log lines waiting for a stopped reader are bounded: beyond 16 MiB they are dropped, counted, and never cut",
  { timeout: 60_000 },
  async (t) => {
    const flood = spawn(
      process.execPath,
      [fileURLToPath(new URL("../support/log-flood.js", import.meta.url)), "64"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    t.after(() => flood.kill("SIGKILL"));
    flood.stderr.pause(); // nothing reads its log until it has written everything
    let report = "";
    flood.stdout.setEncoding("utf8").on("data", (text: string) => (report += text));
    await until(() => report.endsWith("\n"), "the flood's report", 30_000);
    const { lines, dropped, grownMiB } = JSON.parse(report) as {
      lines: number;
      dropped: number;
      grownMiB: number;
    };

    let received = "";
    flood.stderr.setEncoding("utf8").on("data", (text: string) => (received += text));
    flood.stderr.resume();
    await new Promise((resolve) => flood.once("close", resolve));
    const arrived = received.split("\n").filter((line) => line !== "");
    assert.ok(dropped > 0, `lines beyond the limit were dropped (${dropped} of ${lines})`);
    assert.equal(arrived.length, lines - dropped, "every line not counted as dropped arrived");
    for (const line of arrived) assert.equal(JSON.parse(line).event, "channel.refused");
    // The limit, the pipe's own buffer and the line that crossed the limit.
    assert.ok(received.length <= 17 * 2 ** 20, `about 16 MiB waited (${received.length} bytes)`);
    // Unbounded, 64 MiB of lines held for the reader grew the process by about 250 MiB.
    assert.ok(
      grownMiB < 128,
      `the process grew by ${grownMiB.toFixed(0)} MiB while writing 64 MiB of log lines`,
    );
  },
);

test(
  "on a terminal the log is lines for a person; through a pipe it is JSON",
  { timeout: 30_000 },
  async (t) => {
    const taken = createServer();
    const port = await listen(t, taken);
    const args = ["serve", "--listen", `127.0.0.1:${port}`, "--state-dir", stateDir(t)];
    // A start that fails by itself (the port is taken), so that nothing is left running.
    const terminal = TmuxTerminal.start(t, [process.execPath, ...lifelineArgs(args)], {
      cols: 200,
      rows: 30,
    });
    const screen = await terminal.waitFor(
      /ERROR: serve startup\.failed: cannot start: cannot listen on 127\.0\.0\.1:\d+/,
    );
    assert.match(screen, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: serve certificate\.created: /m);
    assert.doesNotMatch(screen, /"level":/);
    const piped = await runLifeline(t, args);
    assert.match(piped.stderr, /^\{"level":50,.*"event":"startup\.failed"/m);
  },
);
