/**
 * One session on the server: the core session, its pump, and the target connections its channels
 * open. Logs the session's lifecycle with the event codes of docs/EVENTS.md.
 */
import { connect, type Socket } from "node:net";
import { SessionState, toHex, type ServerSession, type SessionEvent } from "../core/index.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { BackpressureLog } from "../ops/backpressure-log.js";
import type { EventLog } from "../ops/log.js";
import type { TrackedSession } from "../ops/session-table.js";
import { nodeEnv } from "../transport/node-env.js";
import { SessionPump, type PumpHooks } from "../transport/session-pump.js";
import type { SessionStats } from "../transport/session-stats.js";
import { tokenNameField, type TokenEntry } from "./tokens.js";

export class ServedSession implements TrackedSession, PumpHooks {
  readonly id: string;
  readonly pump: SessionPump;
  client: string;
  /** When the connection now carrying (or resuming) the session was accepted, in monotonic ms. */
  linkAcceptedAt = 0;
  private backpressure: BackpressureLog | undefined;

  constructor(
    readonly session: ServerSession,
    /** The target a name stands for now (the list may change on reload), or undefined. */
    private readonly targetNamed: (name: string) => HostPort | undefined,
    private readonly log: EventLog,
    client: string,
    /** The token the session was opened with (its digest and name): a reload that revokes it ends the session. */
    public token: TokenEntry,
    private readonly onClosed: (served: ServedSession, code: string) => void,
  ) {
    this.id = toHex(session.sessionId);
    this.client = client;
    this.pump = new SessionPump(session, this);
  }

  get peer(): string {
    return this.client;
  }

  get tokenName(): string | undefined {
    return this.token.name;
  }

  get stats(): SessionStats {
    return this.pump.stats;
  }

  onEvent(event: SessionEvent): void {
    const session = this.id;
    switch (event.type) {
      case "established":
        this.log.info("session.created", "session created", {
          session,
          client: this.client,
          ...tokenNameField(this.tokenName),
        });
        break;
      case "suspended":
        this.log.warn("session.interrupted", "session interrupted: link lost, keeping targets open", {
          session,
          reason: event.reason,
          timeoutMs: this.session.sessionParams?.sessionTimeoutMs,
        });
        break;
      case "resumed":
        this.log.info("session.resumed", "session resumed", {
          session,
          client: this.client,
          outageMs: event.outageMs,
          replayedBytes: event.replayedBytes,
          resumeLatencyMs: nodeEnv.now() - this.linkAcceptedAt,
        });
        break;
      case "open-request":
        this.openTarget(event.channel, event.target);
        break;
      case "channel-closed":
        this.log.debug("channel.closed", "channel closed", { session, channel: event.channel });
        break;
      case "closed": {
        const expired = event.code === "SESSION_EXPIRED";
        if (expired) {
          this.log.warn(
            "session.expired",
            "session expired: no resume within the session timeout; target connections closed",
            {
              session,
            },
          );
        } else {
          this.log.info("session.closed", "session closed", {
            session,
            code: event.code,
            reason: event.reason,
            remote: event.remote,
          });
        }
        this.onClosed(this, event.code);
        break;
      }
      default:
        break;
    }
  }

  onBackpressure(channel: number, paused: boolean): void {
    const fields = { session: this.id, channel, buffered: this.session.bufferedTotal };
    // Made on first use: most sessions never fill their buffer.
    this.backpressure ??= new BackpressureLog(this.log, {
      full: "send buffer full: reading from the target paused",
      released: "send buffer has room: reading from the target resumed",
    });
    this.backpressure.changed(channel, paused, this.session.state === SessionState.Established, fields);
  }

  private openTarget(channel: number, name: string): void {
    const target = this.targetNamed(name);
    if (!target) {
      this.log.warn("channel.refused", "channel refused: no such target", {
        session: this.id,
        channel,
        target: name,
      });
      this.session.reset(channel, "TARGET_UNKNOWN");
      this.pump.service();
      return;
    }
    const socket: Socket = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const unreachable = (err: Error): void => {
      this.log.warn("target.unreachable", "target unreachable", {
        session: this.id,
        channel,
        target: name,
        address: formatHostPort(target),
        error: err.message,
      });
      this.session.reset(channel, "TARGET_UNREACHABLE");
      this.pump.service();
    };
    socket.once("connect", () => {
      // Later failures are the pump's to handle (it aborts the channel); this listener, and what it
      // holds, need not live as long as the connection.
      socket.off("error", unreachable);
      this.session.acceptChannel(channel);
      this.log.info("channel.opened", "channel opened", { session: this.id, channel, target: name });
      this.pump.service();
    });
    socket.once("error", unreachable);
    // Writes from the client are buffered by the socket until it connects.
    this.pump.attachChannel(channel, socket);
  }
}
