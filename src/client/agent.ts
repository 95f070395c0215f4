/**
 * `lifeline connect`: carries local TCP connections (or stdin/stdout) over one reliable session.
 *
 * Fallback, as the seed describes: when the reliability service cannot be reached at session
 * start (refused, unreachable, timed out, or it says it is unavailable), a local connection goes
 * directly to the fallback address, with a warning that it has no session reliability. Never after
 * a failed certificate check or a refused token: that would let whoever blocks the reliability
 * port downgrade everyone.
 */
import { connect as tcpConnect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { listenOn } from "../ops/listen.js";
import type { EventLog } from "../ops/log.js";
import { SessionTable } from "../ops/session-table.js";
import type { Health } from "../ops/status-report.js";
import { abort } from "../transport/abort.js";
import { nodeEnv } from "../transport/node-env.js";
import { UnreachableError } from "./dialer.js";
import { stdoutStream } from "./stdout-stream.js";
import { ClientRunner, RefusedError, type ChannelOutcome, type RunnerConfig } from "./runner.js";

/**
 * After the server refused this client's token (or its method), new connections are refused here
 * for this long without asking it again: every new attempt with the same token would be refused
 * too, and would count against the address, which other users behind the same NAT share (serve's
 * --max-auth-failures, per minute).
 */
export const REFUSAL_HOLD_OFF_MS = 60_000;

export interface AgentConfig extends RunnerConfig {
  /** Where local connections go when the reliability service is unavailable; undefined: no fallback. */
  fallback: HostPort | undefined;
}

export class LifelineAgent {
  /**
   * Established sessions that have not ended, oldest first. There is more than one only while the
   * local connections outnumber the server's channel limit per session.
   */
  private readonly runners: ClientRunner[] = [];
  private starting: Promise<ClientRunner> | undefined;
  private listener: Server | undefined;
  private stopping = false;
  /** Local connections carried directly to the fallback address, open now. */
  private directOpen = 0;
  /** Monotonic ms until which no new session is tried (see REFUSAL_HOLD_OFF_MS). */
  private refusedUntil = -Infinity;
  /** What `status` and the metrics see of the sessions. */
  readonly table = new SessionTable(nodeEnv.now);

  constructor(
    private readonly config: AgentConfig,
    private readonly log: EventLog,
  ) {}

  /** Accepts local connections on `address` (port 0 picks one); each becomes a channel. */
  listen(address: HostPort): Promise<AddressInfo> {
    const listener = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      socket.setNoDelay(true);
      void this.carry(socket);
    });
    this.listener = listener;
    return listenOn(
      listener,
      address,
      this.log,
      { server: formatHostPort(this.config.server) },
      { doing: "accepting local connections on" },
    );
  }

  /** Carries stdin/stdout as one connection; resolves with the process exit code. */
  async stdio(): Promise<number> {
    const local = Duplex.from({ readable: process.stdin, writable: stdoutStream() });
    // Destroying the wrapper (no session, a reset) makes it emit an error; the outcome says it all.
    local.on("error", () => undefined);
    const outcome = await this.carry(local);
    return outcome === "closed" ? 0 : 1;
  }

  /**
   * Healthy while running. Connections on the fallback do not make it unhealthy (they are the
   * designed answer to an unreachable server, and a restart would not help), but they are named:
   * they are what an administrator most needs to see.
   */
  health(): Health {
    const health: Health = { healthy: !this.stopping, status: this.stopping ? "stopping" : "ok" };
    if (this.directOpen > 0 && this.config.fallback) {
      health.directConnections = this.directOpen;
      health.fallback = formatHostPort(this.config.fallback);
    }
    return health;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.listener?.close();
    for (const runner of [...this.runners]) runner.close();
  }

  /**
   * Carries one local connection: on the oldest connected session with room for it, or a new one
   * (shared by every connection that arrives meanwhile), or directly to the fallback address.
   * Resolves with how it ended ("closed" cleanly, or "reset"/failed). Sessions fill up at the
   * server's channel limit (`maxChannels`): a pool of more connections than that spreads over
   * several sessions rather than being refused. A connection that arrives during an outage waits,
   * unread, for the session's resume; if the session ends instead (the server restarted, or the
   * outage outlasted the timeout), nothing of it reached the server, so it goes on a new session
   * or to the fallback like any new connection rather than being reset with the old session.
   */
  async carry(local: Duplex): Promise<ChannelOutcome> {
    for (;;) {
      if (this.stopping) {
        local.destroy();
        return "reset";
      }
      // Finding room and taking it happen in one step: connections that waited for the same
      // session each see the channels of those served before them.
      const withRoom = this.runners.filter((runner) => runner.hasRoom);
      const connected = withRoom.find((runner) => runner.connected);
      if (connected) return this.carryOn(connected, local);
      if (withRoom.length > 0) {
        await Promise.race(withRoom.map((runner) => runner.settled()));
        continue;
      }
      if (!this.starting && nodeEnv.now() < this.refusedUntil) {
        this.log.debug("security.failed", "the server refused this client a moment ago: connection refused", {
          server: formatHostPort(this.config.server),
          secondsLeft: Math.ceil((this.refusedUntil - nodeEnv.now()) / 1000),
        });
        local.destroy();
        return "reset";
      }
      if (!this.starting) this.noteFull();
      let fresh: ClientRunner;
      try {
        fresh = await (this.starting ??= this.startSession());
      } catch (err) {
        return this.withoutSession(local, err as Error);
      }
      // A session that ended at once refuses the connection; a full one sends it on to yet another.
      if (!fresh.usable) return this.carryOn(fresh, local);
    }
  }

  private carryOn(runner: ClientRunner, local: Duplex): Promise<ChannelOutcome> {
    return new Promise((resolve) => {
      try {
        runner.openChannel(local, (outcome) => {
          this.retireSpares();
          resolve(outcome);
        });
        local.resume(); // listener sockets start paused so no byte is read before its channel exists
        this.retireSpares(); // one started for this connection may have found room elsewhere
      } catch (err) {
        this.log.warn("channel.refused", `cannot open a channel: ${(err as Error).message}`, {
          session: runner.id,
          code: (err as { code?: string }).code ?? "UNKNOWN",
        });
        local.destroy();
        resolve("reset");
      }
    });
  }

  private noteFull(): void {
    const full = this.runners.filter((runner) => runner.usable);
    if (full.length === 0) return;
    this.log.info(
      "session.full",
      `${full.length === 1 ? "the session carries" : `all ${full.length} sessions carry`} as many connections as the server allows: starting another session`,
      { sessions: full.length, channels: full[0]?.channelCount },
    );
  }

  private async startSession(): Promise<ClientRunner> {
    const runner = new ClientRunner(this.config, this.log, (ended, code) => {
      const at = this.runners.indexOf(ended);
      if (at >= 0) this.runners.splice(at, 1);
      this.table.remove(ended, code);
    });
    try {
      await runner.start();
      if (this.stopping) runner.close();
      // Only established sessions (failed dials are the fallback's story), and not one that closed meanwhile.
      if (!runner.session.isClosed()) {
        this.runners.push(runner);
        this.table.add(runner);
      }
      return runner;
    } finally {
      this.starting = undefined;
    }
  }

  /**
   * A session without connections ends while another connected session has room: extra sessions
   * live only while the others are full. One stays, even without connections, for the next ones.
   */
  private retireSpares(): void {
    for (const runner of [...this.runners]) {
      if (runner.channelCount > 0 || !runner.usable) continue;
      if (this.runners.some((other) => other !== runner && other.hasRoom && other.connected)) runner.close();
    }
  }

  private withoutSession(local: Duplex, err: Error): Promise<ChannelOutcome> {
    if (!(err instanceof UnreachableError)) {
      // A certificate or token failure, or anything unexpected (e.g. an unwritable known-hosts file):
      // the reliability service answered, so falling back would only weaken security.
      // Not after RATE_LIMITED: the server counts nothing against the address for those, and lifts its
      // block on its own clock, which a hold-off here would only outlast.
      const refused = err instanceof RefusedError && err.code !== "RATE_LIMITED";
      if (refused) this.refusedUntil = nodeEnv.now() + REFUSAL_HOLD_OFF_MS;
      const holdOff = refused ? `; new connections are refused for ${REFUSAL_HOLD_OFF_MS / 1000} s` : "";
      this.log.error(
        "security.failed",
        `${err.message.replace(/\.$/, "")}; not falling back to a direct connection${holdOff}`,
        {
          server: formatHostPort(this.config.server),
        },
      );
      local.destroy();
      return Promise.resolve("reset");
    }
    const fallback = this.config.fallback;
    const reason = err.message;
    if (!fallback) {
      this.log.error("link.failed", `reliability service unavailable (${reason}) and fallback is disabled`, {
        server: formatHostPort(this.config.server),
      });
      local.destroy();
      return Promise.resolve("reset");
    }
    return this.direct(local, fallback, reason);
  }

  /** Pipes `local` straight to the fallback address: this connection has no session reliability. */
  private direct(local: Duplex, fallback: HostPort, reason: string): Promise<ChannelOutcome> {
    return new Promise((resolve) => {
      const remote: Socket = tcpConnect({ host: fallback.host, port: fallback.port, allowHalfOpen: true });
      let connected = false;
      let failed = false;
      // A host that drops the SYN would otherwise hold the connection for the kernel's two minutes.
      remote.setTimeout(this.config.dialTimeoutMs, () => {
        if (!connected) remote.destroy(new Error(`no connection within ${this.config.dialTimeoutMs} ms`));
      });
      remote.once("connect", () => {
        connected = true;
        this.directOpen++;
        remote.setTimeout(0);
        remote.setNoDelay(true);
        this.log.warn(
          "fallback.used",
          `reliability service unavailable (${reason}): connected directly to ${formatHostPort(fallback)}, WITHOUT session reliability`,
          {
            fallback: formatHostPort(fallback),
            reason,
          },
        );
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      });
      remote.once("error", (e) => {
        failed = true;
        if (!connected) {
          this.log.error(
            "fallback.failed",
            `reliability service unavailable (${reason}) and the fallback ${formatHostPort(fallback)} failed too: ${e.message}`,
            {
              fallback: formatHostPort(fallback),
            },
          );
        }
        abort(local); // the fallback's reset reaches the application as one
        remote.destroy();
      });
      local.once("error", () => abort(remote));
      let open = 2;
      const closed = (): void => {
        if (--open === 0) resolve(connected && !failed ? "closed" : "reset");
      };
      remote.once("close", () => {
        if (connected) this.directOpen--;
        closed();
      });
      local.once("close", closed);
    });
  }
}
