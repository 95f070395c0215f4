/** `lifeline serve`: flags, environment and config file → ServerConfig → a running LifelineServer. */
import { existsSync } from "node:fs";
import { Command, Option } from "commander";
import {
  DEFAULT_LIMITS,
  DEFAULT_SERVER_PARAMS,
  MAX_CHANNELS_PER_SESSION,
  resolveLimits,
  resolveServerParams,
} from "../core/index.js";
import { EventLog, type LogLevel } from "../ops/log.js";
import {
  defaultStateDir,
  stateFiles,
  ensureCertificate,
  ensureTokenFile,
  loadCertificate,
} from "../server/credentials.js";
import { describeTargets, LifelineServer } from "../server/server.js";
import { parseTargets } from "../server/targets.js";
import { TokenSet } from "../server/tokens.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import type { AdminServer } from "../ops/admin-server.js";
import { CertificateExpiryWatch, expiryNotice } from "../ops/certificate-expiry.js";
import { addAdminOptions, startAdmin, type AdminFlags } from "./admin.js";
import { describeSettings } from "./describe-settings.js";
import { addLayeredConfig, rereadConfigFile, type Reread } from "./layered-config.js";
import {
  collect,
  computedDefaultOption,
  countUpTo,
  durationOption,
  hostPort,
  logLevel,
  MAX_WINDOW,
  positiveInt,
  repeatableOption,
  sizeOption,
  target,
} from "./options.js";

/** Session timers travel as 32-bit milliseconds. */
const MAX_SESSION_TIMEOUT_MS = 0xffff_ffff;

interface ServeFlags extends AdminFlags {
  checkConfig?: boolean;
  listen: HostPort;
  target: string[];
  cert?: string;
  key?: string;
  tokens?: string;
  stateDir: string;
  certName: string[];
  sessionTimeout: number;
  keepalive: number;
  deadAfter: number;
  buffer: number;
  window: number;
  maxSessions: number;
  globalBuffer: number;
  maxChannels: number;
  handshakeTimeout: number;
  maxAuthFailures: number;
  maxUnauthenticatedPerAddress: number | undefined;
  logLevel: LogLevel;
  drainDelay: number;
}

export function serveCommand(): Command {
  const command = new Command("serve")
    .exitOverride()
    .description("run the session reliability service in front of TCP targets")
    .addOption(
      new Option("--listen <host:port>", "address to accept clients on")
        .argParser(hostPort(2598))
        .default({ host: "0.0.0.0", port: 2598 }, "0.0.0.0:2598"),
    )
    .addOption(
      repeatableOption(
        "--target <[name=]host:port>",
        'a target clients may reach, by name ("default" if unnamed); repeatable',
        target,
        "default=127.0.0.1:1494",
      ),
    )
    .addOption(
      computedDefaultOption(
        "--cert <file>",
        "TLS certificate (PEM)",
        "<state-dir>/server.crt, self-signed, made on first start",
      ),
    )
    .addOption(
      computedDefaultOption("--key <file>", "TLS private key (PEM), with --cert", "<state-dir>/server.key"),
    )
    .addOption(
      computedDefaultOption(
        "--tokens <file>",
        "accepted client tokens, one per line",
        "<state-dir>/tokens, made with one token on first start",
      ),
    )
    .option("--state-dir <dir>", "where generated certificate and tokens are kept", defaultStateDir())
    .addOption(
      repeatableOption(
        "--cert-name <name>",
        "another DNS name for the generated certificate (for clients using --ca); repeatable",
        collect,
      ),
    )
    .addOption(
      durationOption(
        "--session-timeout <duration>",
        "how long a session outlives its link (180, 180s, 3m)",
        DEFAULT_SERVER_PARAMS.sessionTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        "--keepalive <duration>",
        "keepalive interval announced to clients",
        DEFAULT_SERVER_PARAMS.keepaliveIntervalMs,
      ),
    )
    .addOption(
      durationOption(
        "--dead-after <duration>",
        "a link silent this long is dead",
        DEFAULT_SERVER_PARAMS.deadAfterMs,
      ),
    )
    .addOption(
      sizeOption("--buffer <bytes>", "replay buffer per session (4MiB, 64k, ...)", DEFAULT_LIMITS.sendBudget),
    )
    .addOption(
      sizeOption("--window <bytes>", "receive window per channel", DEFAULT_LIMITS.receiveWindow, MAX_WINDOW),
    )
    .option("--max-sessions <n>", "most sessions at once", positiveInt, 10_000)
    .addOption(sizeOption("--global-buffer <bytes>", "replay buffer of all sessions together", 1024 ** 3))
    .option(
      "--max-channels <n>",
      "most channels per session",
      countUpTo(MAX_CHANNELS_PER_SESSION),
      DEFAULT_SERVER_PARAMS.maxChannels,
    )
    .addOption(
      durationOption(
        "--handshake-timeout <duration>",
        "drop links that do not complete the handshake in time",
        DEFAULT_LIMITS.handshakeTimeoutMs,
      ),
    )
    .option(
      "--max-auth-failures <n>",
      "failed logins or resumes per source address per minute",
      positiveInt,
      10,
    )
    .addOption(
      computedDefaultOption(
        "--max-unauthenticated-per-address <n>",
        "connections one source address may have waiting for or in their handshake",
        "half of max(4096, max-sessions)",
      ).argParser(positiveInt),
    )
    .addOption(
      durationOption(
        "--drain-delay <duration>",
        "on SIGTERM, answer /healthz 503 and refuse new sessions this long before closing (for load balancers)",
        0,
        true,
      ),
    )
    .option("--log-level <level>", "debug, info, warn, error or silent", logLevel, "info")
    .option("--check-config", "check the settings and the files they name, print them, and exit");
  addAdminOptions(command);
  addLayeredConfig(command, "serve");
  return command.action(async (flags: ServeFlags) => {
    const log = new EventLog("serve", flags.logLevel);
    const expiry = new CertificateExpiryWatch(log);
    try {
      if (flags.checkConfig) {
        const warnings = checkConfig(flags).map((warning) => `warning: ${warning}\n`);
        process.stdout.write(`configuration OK\n${warnings.join("")}${describeSettings(command)}`);
        return;
      }
      const server = new LifelineServer(await buildConfig(flags, log, expiry), log);
      const bound = await server.start();
      // From the moment the port is open, SIGTERM drains, even while the admin endpoints start.
      const started: { admin?: AdminServer } = {};
      const stop = (): void =>
        void server.stop(flags.drainDelay).then(() => {
          started.admin?.close();
          process.exit(0);
        });
      const hup = (): void => reload(command, server, log, expiry);
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      process.on("SIGHUP", hup);
      started.admin = await startAdmin(
        flags,
        {
          role: "serve",
          table: server.table,
          health: () => server.health(),
          healthy: () => server.health().healthy,
          globalBuffer: () => server.globalBuffer,
          certificateExpiry: () => expiry.expiresAt(),
          listening: () => formatHostPort({ host: bound.address, port: bound.port }),
        },
        log,
      ).catch(async (err: unknown) => {
        process.off("SIGTERM", stop).off("SIGINT", stop).off("SIGHUP", hup);
        await server.stop();
        throw err;
      });
    } catch (err) {
      expiry.stop();
      log.error("startup.failed", `cannot start: ${(err as Error).message}`);
      process.exitCode = 2;
    }
  });
}

/** Checks what needs no side effects: flag combinations, targets, timers and limits. */
function validate(flags: ServeFlags) {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new Error("cert and key go together");
  if (flags.deadAfter <= flags.keepalive)
    throw new Error(
      `dead-after (${flags.deadAfter} ms) must be longer than keepalive (${flags.keepalive} ms), or every quiet link looks dead`,
    );
  if (flags.sessionTimeout > MAX_SESSION_TIMEOUT_MS)
    throw new Error(`session-timeout must be at most 49 days (the protocol's 32-bit milliseconds)`);
  return {
    targets: parseTargets(flags.target),
    params: resolveServerParams({
      sessionTimeoutMs: flags.sessionTimeout,
      keepaliveIntervalMs: flags.keepalive,
      deadAfterMs: flags.deadAfter,
      maxChannels: flags.maxChannels,
    }),
    limits: resolveLimits({
      sendBudget: flags.buffer,
      channelSendBudget: Math.min(flags.buffer, DEFAULT_LIMITS.channelSendBudget),
      receiveWindow: flags.window,
    }),
  };
}

/** The settings a reload applies; any other one changed in the config file waits for a restart. */
const RELOADABLE = new Set(["target", "tokens", "cert", "key", "log-level"]);

/**
 * SIGHUP: reads the config file, the token file and the certificate again, and applies the
 * targets, tokens, certificate and log level; on any error the running ones stay.
 */
function reload(
  command: Command,
  server: LifelineServer,
  log: EventLog,
  expiry: CertificateExpiryWatch,
): void {
  let reread: Reread | undefined;
  try {
    reread = rereadConfigFile(command, "serve");
    const pending = reread.changed.filter((key) => !RELOADABLE.has(key));
    // Until the restart, the flags keep saying what runs.
    reread.restore(pending);
    const flags = command.opts<ServeFlags>();
    const { targets } = validate(flags);
    const files = credentialFiles(flags);
    const tokens = TokenSet.fromFile(files.tokens);
    const certificate = loadCertificate(files.cert, files.key);
    const { revoked } = server.reload(tokens, certificate, targets);
    log.setLevel(flags.logLevel);
    const fields = {
      fingerprint: certificate.fingerprint,
      revoked,
      targets: describeTargets(targets),
      ...(pending.length > 0 ? { restartNeeded: pending } : {}),
    };
    const msg = `reloaded targets, tokens and certificate; ${revoked} session(s) with a revoked token closed`;
    if (pending.length === 0) log.info("config.reloaded", msg, fields);
    else
      log.warn(
        "config.reloaded",
        `${msg}; ${pending.join(", ")} changed: applied at the next restart`,
        fields,
      );
    expiry.watch(certificate);
  } catch (err) {
    reread?.restore();
    log.error(
      "config.invalid",
      `reload refused, still running with the previous tokens, certificate and targets: ${(err as Error).message}`,
    );
  }
}

/** --check-config: everything start-up would check, reading the files but creating none; returns warnings. */
function checkConfig(flags: ServeFlags): string[] {
  validate(flags);
  const files = credentialFiles(flags);
  const certificate =
    flags.cert || existsSync(files.cert) ? loadCertificate(files.cert, files.key) : undefined;
  if (flags.tokens || existsSync(files.tokens)) TokenSet.fromFile(files.tokens);
  const expiry = certificate && expiryNotice(certificate, new Date());
  return expiry ? [expiry.msg] : [];
}

/** The certificate, key and token file in use: the flags' own, else the state directory's. */
function credentialFiles(flags: ServeFlags): { cert: string; key: string; tokens: string } {
  const generated = stateFiles(flags.stateDir);
  return {
    cert: flags.cert ?? generated.cert,
    key: flags.key ?? generated.key,
    tokens: flags.tokens ?? generated.tokens,
  };
}

async function buildConfig(flags: ServeFlags, log: EventLog, expiry: CertificateExpiryWatch) {
  const { targets, params, limits } = validate(flags);
  const certificate =
    flags.cert && flags.key
      ? loadCertificate(flags.cert, flags.key)
      : await ensureCertificate(flags.stateDir, flags.certName);
  if (certificate.created) {
    log.info("certificate.created", `created a self-signed certificate: ${certificate.certPath}`, {
      path: certificate.certPath,
      fingerprint: certificate.fingerprint,
    });
  }
  log.info(
    "certificate.created",
    `certificate fingerprint ${certificate.fingerprint} (clients: --pin ${certificate.fingerprint})`,
    {
      fingerprint: certificate.fingerprint,
    },
  );
  expiry.watch(certificate);
  let tokensPath = flags.tokens;
  if (!tokensPath) {
    const generated = ensureTokenFile(flags.stateDir);
    tokensPath = generated.path;
    if (generated.created)
      log.info("tokens.created", `created a client token in ${generated.path} (mode 0600)`, {
        path: generated.path,
      });
  }
  return {
    listen: flags.listen,
    targets,
    tokens: TokenSet.fromFile(tokensPath),
    cert: certificate.cert,
    key: certificate.key,
    params,
    limits,
    maxSessions: flags.maxSessions,
    globalBuffer: flags.globalBuffer,
    handshakeTimeoutMs: flags.handshakeTimeout,
    maxFailuresPerMinute: flags.maxAuthFailures,
    maxUnauthenticatedPerAddress: flags.maxUnauthenticatedPerAddress,
  };
}
