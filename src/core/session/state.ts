/** Session lifecycle: one enum and the table of legal transitions (docs/PROTOCOL.md, "Session states"). */
import { LifelineError } from "../errors.js";

export const SessionState = {
  /** Client only: no link yet, or the first handshake failed before WELCOME. */
  Idle: "idle",
  /** Client only: link up, HELLO sent, waiting for WELCOME. */
  Connecting: "connecting",
  /** A link is attached and carries channel traffic. */
  Established: "established",
  /** The link is lost; buffers are kept until a resume or the session timeout. */
  Suspended: "suspended",
  /** Client only: a new link is up, RESUME sent, waiting for RESUMED. */
  Resuming: "resuming",
  /** Terminal: closed by either side, refused, or expired. */
  Closed: "closed",
} as const;

export type SessionState = (typeof SessionState)[keyof typeof SessionState];

const ALLOWED: Record<SessionState, readonly SessionState[]> = {
  idle: ["connecting", "closed"],
  connecting: ["established", "idle", "closed"],
  established: ["suspended", "closed"],
  // The server goes straight back to established when a RESUME arrives on a new link.
  suspended: ["resuming", "established", "closed"],
  resuming: ["established", "suspended", "closed"],
  closed: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return ALLOWED[from].includes(to);
}

export function assertTransition(from: SessionState, to: SessionState): void {
  if (!canTransition(from, to)) {
    throw new LifelineError("INVALID_STATE", `illegal session transition ${from} -> ${to}`);
  }
}
