/** What a session reports to its I/O layer. Every variant is listed in docs/EVENTS.md. */
import type { ErrorCode } from "../errors.js";
import type { SessionState } from "./state.js";

export type SuspendReason = "link-lost" | "link-dead" | "replaced" | "address-gone";

/** Why the I/O layer reports a link down: its transport closed, or its local address left the machine. */
export type LinkDownReason = Extract<SuspendReason, "link-lost" | "address-gone">;

export type SessionEvent =
  /** Every state change, for the log. */
  | { type: "state"; from: SessionState; to: SessionState }
  /** Client: WELCOME accepted. Server: HELLO accepted. */
  | { type: "established"; sessionId: Uint8Array }
  /** The link is gone; the session waits for a resume. */
  | { type: "suspended"; reason: SuspendReason }
  /** A new link took over; `replayedBytes` will be sent again. */
  | { type: "resumed"; outageMs: number; replayedBytes: number }
  /** Terminal. `remote` is true when the peer sent the CLOSE. */
  | { type: "closed"; code: ErrorCode; wireCode: number; reason: string; remote: boolean }
  /**
   * The I/O layer must close the transport numbered `link` (dead, or replaced by a newer one),
   * after writing `farewell` on it when present.
   */
  | { type: "close-link"; link: number; farewell?: Uint8Array[] }
  /** Server is draining: open no more channels. */
  | { type: "goaway"; code: ErrorCode }
  /** A PONG measured this round-trip time in milliseconds. */
  | { type: "rtt"; ms: number }
  /** Server: the client asks for a channel to the target named `target`. */
  | { type: "open-request"; channel: number; target: string }
  /** Client: the server connected the channel's target. */
  | { type: "channel-opened"; channel: number }
  /** Stream bytes for the application, in order, each exactly once. */
  | { type: "data"; channel: number; bytes: Uint8Array }
  /** The peer ended its direction (half-close). */
  | { type: "eof"; channel: number }
  /** Room in the send budget again after a short write. */
  | { type: "writable"; channel: number }
  /** The channel was aborted (both directions): by the peer (`remote`), locally, or with the session. */
  | { type: "channel-reset"; channel: number; code: ErrorCode; remote: boolean }
  /** Both directions ended and were acknowledged; the channel id is retired. */
  | { type: "channel-closed"; channel: number };
