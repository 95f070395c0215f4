/**
 * One client session: dials, completes the handshake, carries channels, and after every link loss
 * reconnects (at once, then with jittered backoff capped at 600 ms) until the session resumes or its
 * timeout runs out.
 */
import { randomInt } from "node:crypto";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import {
  AuthMethod,
  ClientSession,
  SessionState,
  toHex,
  type ErrorCode,
  type SessionEvent,
  type SessionLimits,
} from "../core/index.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { BackpressureLog } from "../ops/backpressure-log.js";
import type { EventLog } from "../ops/log.js";
import type { TrackedSession } from "../ops/session-table.js";
import { nodeEnv } from "../transport/node-env.js";
import { SessionPump } from "../transport/session-pump.js";
import type { SessionStats } from "../transport/session-stats.js";
import { addressWatch } from "./address-watch.js";
import { backoffDelay } from "./backoff.js";
import { dial, RESUME_TLS_WAIT_MS, TLS_WAIT_FACTOR, UnreachableError } from "./dialer.js";
import { SecurityError, type Verification } from "./verify.js";

export interface RunnerConfig {
  server: HostPort;
  target: string;
  verification: Verification;
  token: Uint8Array;
  limits: Partial<SessionLimits>;
  /**
   * Time allowed for the TCP connection of one attempt, in milliseconds. TLS then gets three times as
   * long on the first connection, and at least RESUME_TLS_WAIT_MS when resuming.
   */
  dialTimeoutMs: number;
}

/** The server refused this client (token, method, rate limit): falling back would be a downgrade. */
export class RefusedError extends SecurityError {
  constructor(
    message: string,
    /** The server's CLOSE code: one of REFUSALS. */
    readonly code: ErrorCode,
  ) {
    super(message);
  }
}

/** CLOSE codes by which a server refuses this client, as opposed to being unable to take it now. */
export const REFUSALS: readonly ErrorCode[] = ["AUTH_FAILED", "AUTH_METHOD_UNSUPPORTED", "RATE_LIMITED"];

export type ChannelOutcome = "closed" | "reset";

/** RESET codes by which the server refuses a channel rather than ending one that ran. */
const SERVER_REFUSALS: readonly ErrorCode[] = ["TARGET_UNKNOWN", "TARGET_UNREACHABLE", "CHANNEL_LIMIT"];

export class ClientRunner implements TrackedSession {
  readonly session: ClientSession;
  readonly pump: SessionPump;
  private sessionId = "";
  /** When the dial that may resume the session began, in monotonic ms. */
  private dialStartedAt = 0;
  private reconnecting = false;
  /** Reconnect attempts since the last successful resume: a link that dies at once does not reset the backoff. */
  private attempt = 0;
  private pendingStart: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private readonly channelDone = new Map<number, (outcome: ChannelOutcome) => void>();
  private settledWaiters: (() => void)[] = [];
  private readonly backpressure: BackpressureLog;

  constructor(
    private readonly config: RunnerConfig,
    private readonly log: EventLog,
    private readonly onEnd: (runner: ClientRunner, code: ErrorCode) => void,
  ) {
    this.session = new ClientSession(
      { authMethod: AuthMethod.BearerToken, authData: config.token, limits: config.limits },
      nodeEnv,
    );
    this.backpressure = new BackpressureLog(log, {
      full: "send buffer full: input paused",
      released: "send buffer has room: input resumed",
    });
    this.pump = new SessionPump(this.session, {
      onEvent: (event) => this.onEvent(event),
      onBackpressure: (channel, paused) =>
        this.backpressure.changed(channel, paused, this.session.state === SessionState.Established, {
          session: this.sessionId,
          channel,
          buffered: this.session.bufferedTotal,
        }),
    });
  }

  get id(): string {
    return this.sessionId;
  }

  get peer(): string {
    return formatHostPort(this.config.server);
  }

  get stats(): SessionStats {
    return this.pump.stats;
  }

  /** True while new channels may join this session. */
  get usable(): boolean {
    return !this.session.isClosed() && !this.goingAway;
  }

  /** True while a new channel may join this session now: it is usable and below its channel limit. */
  get hasRoom(): boolean {
    return this.usable && this.session.hasRoomForChannel();
  }

  /** True while the session has a working link (not in an outage). */
  get connected(): boolean {
    return this.session.state === SessionState.Established;
  }

  /** Resolves once the session is connected or has ended: at once unless it is in an outage. */
  settled(): Promise<void> {
    if (this.connected || this.session.isClosed()) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private settle(): void {
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Channels opened here that have not ended yet. */
  get channelCount(): number {
    return this.channelDone.size;
  }

  private goingAway = false;

  /** Dials and completes HELLO/WELCOME. Rejects with UnreachableError, SecurityError or RefusedError. */
  async start(): Promise<void> {
    this.log.info("link.connecting", "connecting to the reliability service", { server: this.peer });
    const { socket, note } = await dial(
      this.config.server,
      this.config.verification,
      this.config.dialTimeoutMs,
    );
    if (note) this.log.warn("link.connected", note);
    const established = new Promise<void>((resolve, reject) => (this.pendingStart = { resolve, reject }));
    this.attachLink(socket);
    await established;
  }

  /**
   * Makes `socket` the session's link. If its local address leaves the machine (roaming), the link is
   * given up within a second: nothing can reach that address any more, and waiting for the
   * keepalive's verdict would add `dead-after` to every move between networks.
   */
  private attachLink(socket: TLSSocket): void {
    const link = this.session.linkUp();
    this.pump.attachLink(link, socket);
    const unwatch = addressWatch.watch(socket, () => {
      this.session.linkDown(link, "address-gone");
      this.pump.service();
    });
    socket.once("close", unwatch);
  }

  /** Carries `socket` on a new channel of this session; `done` learns how the channel ended. */
  openChannel(socket: Duplex, done?: (outcome: ChannelOutcome) => void): number {
    const channel = this.session.openChannel(this.config.target);
    this.channelDone.set(channel, done ?? ignoreOutcome);
    this.pump.attachChannel(channel, socket);
    return channel;
  }

  /** Ends the session for good (the application is done, or the agent stops). */
  close(): void {
    this.session.close("NORMAL", "the client is done");
    this.pump.service();
  }

  private onEvent(event: SessionEvent): void {
    switch (event.type) {
      case "established":
        this.sessionId = toHex(event.sessionId);
        this.log.info("session.created", "session established", {
          session: this.sessionId,
          server: this.peer,
        });
        this.pendingStart?.resolve();
        this.pendingStart = undefined;
        break;
      case "state":
        if (event.to === SessionState.Idle && this.pendingStart) {
          this.pendingStart.reject(new UnreachableError("the link was lost before the server answered"));
          this.pendingStart = undefined;
        }
        break;
      case "suspended": {
        const left = this.session.expiresIn();
        this.log.warn(
          "link.lost",
          `connection lost (${event.reason}), reconnecting: ${Math.round((left ?? 0) / 1000)} s left, ${this.session.bufferedTotal} bytes buffered`,
          {
            session: this.sessionId,
            reason: event.reason,
            secondsLeft: Math.round((left ?? 0) / 1000),
            buffered: this.session.bufferedTotal,
          },
        );
        void this.reconnect();
        break;
      }
      case "resumed":
        this.attempt = 0;
        this.log.info("session.resumed", `resumed after ${event.outageMs} ms`, {
          session: this.sessionId,
          outageMs: event.outageMs,
          replayedBytes: event.replayedBytes,
          resumeLatencyMs: nodeEnv.now() - this.dialStartedAt,
        });
        this.settle();
        break;
      case "goaway":
        this.goingAway = true;
        break;
      case "channel-closed":
        this.finishChannel(event.channel, "closed");
        break;
      case "channel-reset":
        if (event.remote && SERVER_REFUSALS.includes(event.code)) {
          // The server's side of it is in its own log; this is the only place the client's user looks.
          this.log.warn(
            "channel.refused",
            `the server refused the connection: ${event.code} (target "${this.config.target}")`,
            {
              session: this.sessionId,
              channel: event.channel,
              code: event.code,
              target: this.config.target,
            },
          );
        }
        this.finishChannel(event.channel, "reset");
        break;
      case "closed":
        this.onClosed(event.code, event.reason, event.remote);
        break;
      default:
        break;
    }
  }

  private onClosed(code: ErrorCode, reason: string, remote: boolean): void {
    if (this.pendingStart) {
      const refused = REFUSALS.includes(code);
      const message = `the server refused the session: ${code}${reason ? ` (${reason})` : ""}`;
      this.pendingStart.reject(refused ? new RefusedError(message, code) : new UnreachableError(message));
      this.pendingStart = undefined;
    } else if (code === "SESSION_EXPIRED") {
      this.log.warn(
        "session.expired",
        "session expired: the link stayed down past the session timeout; local connections closed",
        {
          session: this.sessionId,
        },
      );
    } else {
      this.log.info("session.closed", `session closed: ${code}`, {
        session: this.sessionId,
        code,
        reason,
        remote,
      });
    }
    for (const channel of [...this.channelDone.keys()]) this.finishChannel(channel, "reset");
    this.onEnd(this, code);
    this.settle();
  }

  private finishChannel(channel: number, outcome: ChannelOutcome): void {
    const done = this.channelDone.get(channel);
    this.channelDone.delete(channel);
    done?.(outcome);
  }

  /** Dials until a link is up again, the session closes, or a security check fails. */
  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (this.session.state === SessionState.Suspended) {
        const attempt = this.attempt++;
        const delay = backoffDelay(attempt, () => randomInt(1_000_000) / 1_000_000);
        if (delay > 0) await sleep(delay);
        if (this.session.state !== SessionState.Suspended) return;
        this.dialStartedAt = nodeEnv.now();
        try {
          const { socket } = await dial(
            this.config.server,
            this.config.verification,
            this.config.dialTimeoutMs,
            Math.max(RESUME_TLS_WAIT_MS, TLS_WAIT_FACTOR * this.config.dialTimeoutMs),
          );
          if (this.session.state !== SessionState.Suspended) {
            socket.destroy();
            return;
          }
          this.attachLink(socket);
          return;
        } catch (err) {
          if (err instanceof SecurityError) {
            this.log.error("security.failed", err.message, { session: this.sessionId });
            this.session.close("NORMAL", "the server failed verification");
            this.pump.service();
            return;
          }
          this.log.debug("link.failed", (err as Error).message, { session: this.sessionId, attempt });
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }
}

function ignoreOutcome(): void {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
