/** `lifeline host`: flags, environment and config file → TerminalHostConfig → a running TerminalHost. */
import { accessSync, constants, existsSync } from "node:fs";
import { userInfo } from "node:os";
import { Command, Option } from "commander";
import type { HostPort } from "../ops/address.js";
import { EventLog, type LogLevel } from "../ops/log.js";
import { defaultStateDir, ensureTokenFile, stateFiles } from "../server/credentials.js";
import { TokenSet } from "../server/tokens.js";
import { TerminalHost, type TerminalHostConfig } from "../terminal/host.js";
import { describeSettings } from "./describe-settings.js";
import { addLayeredConfig } from "./layered-config.js";
import { durationOption, hostPort, logLevel, positiveInt, sizeOption } from "./options.js";

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_IDLE_LIMIT_MS = 2 ** 31 - 1;
/** Scrollback is allocated when a session starts: a bound keeps a typo from exhausting memory. */
const MAX_SCROLLBACK = 64 * 1024 ** 2;
const HELLO_TIMEOUT_MS = 10_000;

interface HostFlags {
  checkConfig?: boolean;
  listen: HostPort;
  tokens?: string;
  stateDir: string;
  command?: string;
  idleLimit: number;
  scrollback: number;
  maxSessions: number;
  logLevel: LogLevel;
}

export function hostCommand(): Command {
  const command = new Command("host")
    .exitOverride()
    .description(
      "serve interactive terminal sessions (a login shell, or --command) that outlive their connections",
    )
    .addOption(
      new Option(
        "--listen <host:port>",
        "address to accept clients on (normally only lifeline serve, on this machine)",
      )
        .argParser(hostPort(1494))
        .default({ host: "127.0.0.1", port: 1494 }, "127.0.0.1:1494"),
    )
    .option(
      "--tokens <file>",
      "accepted client tokens, one per line; default: the state directory's, shared with lifeline serve",
    )
    .option("--state-dir <dir>", "where the generated token file is kept", defaultStateDir())
    .option("--command <command>", "run this with the shell's -c instead of a login shell")
    .addOption(
      durationOption(
        "--idle-limit <duration>",
        "how long a session lives without a client (0: until its program exits)",
        3_600_000,
        true,
      ),
    )
    .addOption(
      sizeOption("--scrollback <bytes>", "recent output kept per session, replayed on attach", 256 * 1024),
    )
    .option("--max-sessions <n>", "most sessions at once", positiveInt, 64)
    .option("--log-level <level>", "debug, info, warn, error or silent", logLevel, "info")
    .option("--check-config", "check the settings and the files they name, print them, and exit");
  addLayeredConfig(command, "host");
  return command.action(async (flags: HostFlags) => {
    const log = new EventLog("host", flags.logLevel);
    try {
      if (flags.checkConfig) {
        validate(flags);
        const tokens = flags.tokens ?? stateFiles(flags.stateDir).tokens;
        if (flags.tokens || existsSync(tokens)) TokenSet.fromFile(tokens);
        process.stdout.write(`configuration OK\n${describeSettings(command)}`);
        return;
      }
      const host = new TerminalHost(buildConfig(flags, log), log);
      // Before the port opens: whoever sees `listening` may stop the host at once.
      const stop = (): void => void host.stop().then(() => process.exit(0));
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      process.on("SIGHUP", () => reload(host, flags, log));
      await host.start();
    } catch (err) {
      log.error("startup.failed", `cannot start: ${(err as Error).message}`);
      process.exitCode = 2;
    }
  });
}

/** The login shell: $SHELL, else the user's shell in the password database, else /bin/sh. */
function loginShell(): string {
  return process.env.SHELL || userInfo().shell || "/bin/sh";
}

/** Checks what needs no side effects: limits, and that the shell can be run. */
function validate(flags: HostFlags): { shell: string } {
  if (flags.idleLimit > MAX_IDLE_LIMIT_MS)
    throw new Error("idle-limit must be at most 24 days (0: a session lives until its program exits)");
  if (flags.scrollback > MAX_SCROLLBACK) throw new Error("scrollback must be at most 64MiB");
  const shell = loginShell();
  try {
    accessSync(shell, constants.X_OK);
  } catch {
    throw new Error(`the shell ${shell} cannot be run (set SHELL to a shell that can)`);
  }
  return { shell };
}

function tokensPath(flags: HostFlags, log: EventLog): string {
  if (flags.tokens) return flags.tokens;
  const generated = ensureTokenFile(flags.stateDir);
  if (generated.created)
    log.info("tokens.created", `created a client token in ${generated.path} (mode 0600)`, {
      path: generated.path,
    });
  return generated.path;
}

function buildConfig(flags: HostFlags, log: EventLog): TerminalHostConfig {
  const { shell } = validate(flags);
  return {
    listen: flags.listen,
    tokens: TokenSet.fromFile(tokensPath(flags, log)),
    shell,
    command: flags.command || undefined,
    idleLimitMs: flags.idleLimit,
    scrollback: flags.scrollback,
    maxSessions: flags.maxSessions,
    helloTimeoutMs: HELLO_TIMEOUT_MS,
  };
}

/** SIGHUP: re-reads the token file; on any error the running tokens stay. */
function reload(host: TerminalHost, flags: HostFlags, log: EventLog): void {
  try {
    const { revoked } = host.reload(TokenSet.fromFile(flags.tokens ?? stateFiles(flags.stateDir).tokens));
    log.info("config.reloaded", `reloaded tokens; ${revoked} connection(s) with a revoked token closed`, {
      revoked,
    });
  } catch (err) {
    log.error(
      "config.invalid",
      `reload refused, still running with the previous tokens: ${(err as Error).message}`,
    );
  }
}
