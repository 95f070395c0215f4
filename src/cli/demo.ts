/**
 * `lifeline demo`: session reliability to see with one's own eyes. Starts a terminal host, a
 * reliability server and an attached client on loopback, with a fault switch between client and
 * server: Ctrl-] f (or `kill -USR1 <pid>`) makes the link go silent for --drop-seconds.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { LifelineAgent } from "../client/agent.js";
import { findToken } from "../client/token.js";
import { startRole, stopRole, type ChildRole } from "../demo/child-role.js";
import { SilentLink } from "../demo/silent-link.js";
import { fingerprintOfPem } from "../ops/fingerprint.js";
import { stateFiles } from "../server/credentials.js";
import { EventLog } from "../ops/log.js";
import { TerminalAttach } from "../terminal/attach.js";
import { durationOption } from "./options.js";

interface DemoFlags {
  dropSeconds: number;
  sessionTimeout: number;
}

export function demoCommand(): Command {
  return new Command("demo")
    .exitOverride()
    .description("try session reliability: a shell in a lifeline session, with a switch that cuts the link")
    .addOption(
      durationOption("--drop-seconds <duration>", "how long the fault switch silences the link", 15_000),
    )
    .addOption(
      durationOption("--session-timeout <duration>", "how long a session outlives its link", 180_000),
    )
    .action(async (flags: DemoFlags) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        process.stderr.write("lifeline demo: needs a terminal on stdin and stdout\n");
        process.exitCode = 2;
        return;
      }
      process.exit(await runDemo(flags));
    });
}

async function runDemo(flags: DemoFlags): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-demo-"));
  const logPath = join(dir, "demo.log");
  let host: ChildRole | undefined;
  let serve: ChildRole | undefined;
  let link: SilentLink | undefined;
  const cleanup = (): void => {
    link?.close();
    stopRole(serve);
    stopRole(host);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);
  // Closing the terminal window (SIGHUP) or a kill ends the demo's host and server too, and takes
  // its directory (their token and key) with it: "exit" alone does not come on a signal.
  for (const signal of ["SIGHUP", "SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(128 + (constants.signals[signal] ?? 0));
    });
  }
  try {
    const common = ["--state-dir", dir, "--log-level", "info"];
    host = await startRole(["host", "--listen", "127.0.0.1:0", ...common], logPath);
    serve = await startRole(
      [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--target",
        `127.0.0.1:${host.port}`,
        "--session-timeout",
        `${flags.sessionTimeout}ms`,
        "--no-admin-socket",
        ...common,
      ],
      logPath,
    );
    link = new SilentLink(serve.port);
    const linkPort = await link.listen();
    const log = new EventLog("attach", "silent");
    const token = findToken(undefined, dir) ?? "";
    const agent = new LifelineAgent(
      {
        server: { host: "127.0.0.1", port: linkPort },
        target: "default",
        verification: { mode: "pin", pins: [fingerprintOfPem(readFileSync(stateFiles(dir).cert))] },
        token: new TextEncoder().encode(token),
        limits: {},
        dialTimeoutMs: 3000,
        fallback: undefined,
      },
      log,
    );
    const silentLink = link;
    const drop = (): void => silentLink.drop(flags.dropSeconds);
    process.on("SIGUSR1", drop);
    const seconds = Math.round(flags.dropSeconds / 1000);
    process.stdout.write(
      `lifeline demo (pid ${process.pid}): a shell in a lifeline session. Press Ctrl-] f (or kill -USR1 ${process.pid}) to cut the link silently for ${seconds} s,\r\n` +
        "then keep typing: your keystrokes are buffered and arrive when the link is back. Ctrl-] d or `exit` ends the demo.\r\n",
    );
    const attach = new TerminalAttach({
      carrier: agent,
      log,
      token,
      term: process.env.TERM ?? "xterm-256color",
      input: process.stdin,
      output: process.stdout,
      onFault: drop,
      hostOutlivesClient: false,
    });
    const code = await attach.run();
    await agent.stop();
    return code;
  } catch (err) {
    process.stderr.write(`lifeline demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    cleanup();
  }
}
