/** What an administrator wants to know about one session, kept up to date by its pump. */
import type { SessionEvent } from "../core/index.js";

export class SessionStats {
  /** Bytes read from local applications (or targets) and taken into the session. */
  intoTunnel = 0;
  /** Bytes delivered out of the session and flushed to local applications (or targets). */
  outOfTunnel = 0;
  /** Bytes handed to application sockets that have not flushed them yet. */
  unflushed = 0;
  resumes = 0;
  replayedBytes = 0;
  lastOutageMs: number | undefined;
  rttMs: number | undefined;

  /** @param startedAt monotonic milliseconds at which the session began */
  constructor(readonly startedAt: number) {}

  observe(event: SessionEvent): void {
    if (event.type === "resumed") {
      this.resumes++;
      this.replayedBytes += event.replayedBytes;
      this.lastOutageMs = event.outageMs;
    } else if (event.type === "rtt") {
      this.rttMs = event.ms;
    }
  }
}
