/** `lifeline connect`: flags → AgentConfig → local listener or stdio. */
import { Command } from "commander";
import { DEFAULT_LIMITS, resolveLimits } from "../core/index.js";
import { LifelineAgent, type AgentConfig } from "../client/agent.js";
import { findToken } from "../client/token.js";
import { chooseVerification } from "../client/verify.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import type { AdminServer } from "../ops/admin-server.js";
import { addAdminOptions, startAdmin, type AdminFlags } from "./admin.js";
import { describeSettings } from "./describe-settings.js";
import { addLayeredConfig } from "./layered-config.js";
import { EventLog, type LogLevel } from "../ops/log.js";
import { DEFAULT_TARGET } from "../server/targets.js";
import {
  addTrustOptions,
  computedDefaultOption,
  durationOption,
  hostPort,
  logLevel,
  MAX_WINDOW,
  sizeOption,
} from "./options.js";

/** The flags of a client session (`connect` and `attach`). */
export interface SessionFlags {
  server?: HostPort;
  target: string;
  ca?: string;
  pin: string[];
  knownHosts?: string;
  tokenFile?: string;
  fallback?: HostPort | boolean;
  buffer: number;
  window: number;
  dialTimeout: number;
  stateDir: string;
}

interface ConnectFlags extends SessionFlags, AdminFlags {
  checkConfig?: boolean;
  listen?: HostPort;
  stdio?: boolean;
  logLevel: LogLevel;
}

export function connectCommand(): Command {
  const command = new Command("connect")
    .exitOverride()
    .description("carry local TCP connections (or stdin/stdout) over a reliable session to a lifeline server")
    .option(
      "--listen <host:port>",
      "accept local connections here; each becomes a channel (port 0: any free port)",
      hostPort(),
    )
    .option("--stdio", "carry stdin/stdout as one connection (for ssh -o ProxyCommand)");
  addSessionOptions(command)
    .option("--log-level <level>", "debug, info, warn, error or silent (--stdio: warn)", logLevel, "info")
    .option("--check-config", "check the settings and the files they name, print them, and exit");
  addAdminOptions(command);
  addLayeredConfig(command, "connect");
  return command.action(async (flags: ConnectFlags) => {
    // Under ssh (ProxyCommand), stderr is the user's terminal: only what needs them goes there.
    if (flags.stdio && command.getOptionValueSource("logLevel") === "default")
      command.setOptionValueWithSource("logLevel", "warn", "default");
    const log = new EventLog("connect", command.getOptionValue("logLevel") as LogLevel);
    let agent: LifelineAgent;
    let config: AgentConfig;
    try {
      if (flags.listen && flags.stdio) throw new Error("give only one of --listen and --stdio");
      config = buildConfig(flags);
      if (flags.checkConfig) {
        process.stdout.write(`configuration OK\n${describeSettings(command)}`);
        return;
      }
      if (!flags.listen && !flags.stdio) throw new Error("give --listen HOST:PORT or --stdio");
      agent = new LifelineAgent(config, log);
    } catch (err) {
      log.error("startup.failed", `cannot start: ${(err as Error).message}`);
      process.exitCode = 2;
      return;
    }
    let listening: string | undefined;
    let admin: AdminServer;
    try {
      admin = await startAdmin(
        flags,
        {
          role: "connect",
          table: agent.table,
          health: () => agent.health(),
          healthy: () => agent.health().healthy,
          listening: () => listening,
          server: formatHostPort(config.server),
        },
        log,
      );
      if (flags.listen) {
        const bound = await agent.listen(flags.listen);
        listening = formatHostPort({ host: bound.address, port: bound.port });
      }
    } catch (err) {
      log.error("startup.failed", `cannot start: ${(err as Error).message}`);
      process.exitCode = 2;
      return;
    }
    // A signal ends the session with CLOSE, so that the server lets its targets go at once instead
    // of holding them for the session timeout. SIGHUP too: ssh sends it to its ProxyCommand when it
    // exits, and a terminal that closes sends it to the connect running in it.
    const stopOn = (code: number): void => {
      const stop = (): void =>
        void agent.stop().then(() => {
          admin.close();
          // One turn for the CLOSE to be written before the process goes.
          setImmediate(() => process.exit(code));
        });
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(signal, stop);
    };
    if (flags.stdio) {
      stopOn(1);
      process.exitCode = await agent.stdio();
      await agent.stop();
      admin.close();
      return;
    }
    stopOn(0);
  });
}

/** The options of a client session, shared by `connect` and `attach`. */
export function addSessionOptions(command: Command): Command {
  command
    .option("--server <host[:port]>", "the lifeline server (port 2598 by default); required", hostPort(2598))
    .option("--target <name>", "the server-side target to reach", DEFAULT_TARGET);
  return addTrustOptions(command)
    .addOption(
      computedDefaultOption(
        "--fallback <host:port>",
        "direct address when the reliability service is down",
        "<server host>:1494",
      ).argParser(hostPort(1494)),
    )
    .option("--no-fallback", "never connect directly; fail instead")
    .addOption(
      sizeOption(
        "--buffer <bytes>",
        "replay buffer for what the applications send (4MiB, 64k, ...)",
        DEFAULT_LIMITS.sendBudget,
      ),
    )
    .addOption(
      sizeOption("--window <bytes>", "receive window per channel", DEFAULT_LIMITS.receiveWindow, MAX_WINDOW),
    )
    .addOption(durationOption("--dial-timeout <duration>", "time allowed for one connection attempt", 5000));
}

/** The agent configuration from connect's flags (attach shares them). */
export function buildConfig(flags: SessionFlags): AgentConfig {
  const server = flags.server;
  if (!server) throw new Error("no server: give --server HOST[:PORT] (or server: in the config file)");
  // Commander leaves the flag undefined when neither --fallback nor --no-fallback is given: the default is on.
  const fallback =
    flags.fallback === false
      ? undefined
      : typeof flags.fallback === "object"
        ? flags.fallback
        : { host: server.host, port: 1494 };
  const limits = resolveLimits({
    sendBudget: flags.buffer,
    channelSendBudget: Math.min(flags.buffer, DEFAULT_LIMITS.channelSendBudget),
    receiveWindow: flags.window,
  });
  return {
    server,
    target: flags.target,
    verification: chooseVerification(flags),
    token: new TextEncoder().encode(readToken(flags)),
    limits,
    dialTimeoutMs: flags.dialTimeout,
    fallback,
  };
}

export function readToken(flags: SessionFlags): string {
  const token = findToken(flags.tokenFile, flags.stateDir);
  if (token) return token;
  throw new Error(
    "no token: give --token-file FILE or set LIFELINE_TOKEN (the server prints where its token file is)",
  );
}
