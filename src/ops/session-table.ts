/**
 * The sessions of one process, as `lifeline status` and the metrics see them: the live ones, the
 * last few that ended (so an administrator can still see that a session expired), and byte totals
 * that survive the sessions they were counted in.
 */
import { SessionState, type Session } from "../core/index.js";
import type { SessionStats } from "../transport/session-stats.js";

export interface TrackedSession {
  /** Hex session id ("" while a client session is still being established). */
  readonly id: string;
  /** The client's address (server side) or the server's (client side). */
  readonly peer: string;
  /** Server side: the name the token file gives the session's token, if any. */
  readonly tokenName?: string | undefined;
  readonly session: Session;
  readonly stats: SessionStats;
}

export type StatusState = "connecting" | "connected" | "suspended" | "resuming" | "expired" | "closed";

export interface SessionStatus {
  id: string;
  peer: string;
  tokenName?: string;
  state: StatusState;
  /** Suspended or resuming: seconds until the session expires. */
  secondsLeft?: number;
  ageSeconds: number;
  channels: number;
  /** Bytes held for replay until the peer acknowledges them. */
  bufferedToPeer: number;
  /** Bytes received and handed to applications that have not taken them yet. */
  bufferedFromPeer: number;
  resumes: number;
  lastOutageMs?: number;
  rttMs?: number;
  intoTunnel: number;
  outOfTunnel: number;
  /** Ended sessions: how they ended and how long ago. */
  closeCode?: string;
  endedSecondsAgo?: number;
}

export interface Totals {
  intoTunnel: number;
  outOfTunnel: number;
  replayedBytes: number;
}

/** How many ended sessions `status` still shows. */
const RECENTLY_ENDED = 50;

const STATE_NAMES: Record<SessionState, StatusState> = {
  idle: "connecting",
  connecting: "connecting",
  established: "connected",
  suspended: "suspended",
  resuming: "resuming",
  closed: "closed",
};

export class SessionTable {
  private readonly live = new Set<TrackedSession>();
  private readonly ended: { status: SessionStatus; at: number }[] = [];
  private readonly endedTotals: Totals = { intoTunnel: 0, outOfTunnel: 0, replayedBytes: 0 };

  /** @param now monotonic milliseconds */
  constructor(private readonly now: () => number) {}

  add(tracked: TrackedSession): void {
    this.live.add(tracked);
  }

  /** `tracked` is closed: keep its last status for a while, and its bytes in the totals. */
  remove(tracked: TrackedSession, closeCode: string): void {
    if (!this.live.delete(tracked)) return;
    const status = this.describe(tracked);
    status.state = closeCode === "SESSION_EXPIRED" ? "expired" : "closed";
    status.closeCode = closeCode;
    this.ended.unshift({ status, at: this.now() });
    this.ended.length = Math.min(this.ended.length, RECENTLY_ENDED);
    this.endedTotals.intoTunnel += tracked.stats.intoTunnel;
    this.endedTotals.outOfTunnel += tracked.stats.outOfTunnel;
    this.endedTotals.replayedBytes += tracked.stats.replayedBytes;
  }

  get size(): number {
    return this.live.size;
  }

  sessions(): SessionStatus[] {
    return [...this.live].map((tracked) => this.describe(tracked));
  }

  recentlyEnded(): SessionStatus[] {
    const now = this.now();
    return this.ended.map(({ status, at }) => ({
      ...status,
      endedSecondsAgo: Math.round((now - at) / 1000),
    }));
  }

  /** Live sessions by state. */
  countByState(): Map<StatusState, number> {
    const counts = new Map<StatusState, number>();
    for (const tracked of this.live) {
      const state = STATE_NAMES[tracked.session.state];
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    return counts;
  }

  /** Bytes carried and replayed since the process started, by live and ended sessions together. */
  totals(): Totals {
    const totals = { ...this.endedTotals };
    for (const { stats } of this.live) {
      totals.intoTunnel += stats.intoTunnel;
      totals.outOfTunnel += stats.outOfTunnel;
      totals.replayedBytes += stats.replayedBytes;
    }
    return totals;
  }

  /** Bytes buffered by all live sessions, each way. */
  buffered(): { toPeer: number; fromPeer: number } {
    let toPeer = 0;
    let fromPeer = 0;
    for (const { session, stats } of this.live) {
      toPeer += session.bufferedTotal;
      fromPeer += stats.unflushed;
    }
    return { toPeer, fromPeer };
  }

  private describe({ id, peer, tokenName, session, stats }: TrackedSession): SessionStatus {
    const left = session.expiresIn();
    return {
      id,
      peer,
      ...(tokenName === undefined ? {} : { tokenName }),
      state: STATE_NAMES[session.state],
      ...(left === undefined ? {} : { secondsLeft: Math.ceil(left / 1000) }),
      ageSeconds: Math.round((this.now() - stats.startedAt) / 1000),
      channels: session.channelIds().length,
      bufferedToPeer: session.bufferedTotal,
      bufferedFromPeer: stats.unflushed,
      resumes: stats.resumes,
      ...(stats.lastOutageMs === undefined ? {} : { lastOutageMs: stats.lastOutageMs }),
      ...(stats.rttMs === undefined ? {} : { rttMs: stats.rttMs }),
      intoTunnel: stats.intoTunnel,
      outOfTunnel: stats.outOfTunnel,
    };
  }
}
