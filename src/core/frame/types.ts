/**
 * Frame types of protocol v1, as a discriminated union on `kind`. Field documentation follows
 * docs/PROTOCOL.md; byte layouts live in encode.ts and decode.ts, which implement that spec.
 */

/** Type byte of each frame. Types 0x80-0xFF are extensions: a receiver skips those it does not know. */
export const FrameType = {
  Hello: 0x01,
  Welcome: 0x02,
  Resume: 0x03,
  Resumed: 0x04,
  Open: 0x10,
  Opened: 0x11,
  Data: 0x12,
  Eof: 0x13,
  Reset: 0x14,
  Ack: 0x15,
  Ping: 0x20,
  Pong: 0x21,
  GoAway: 0x30,
  Close: 0x31,
} as const;

/** First type byte of the extension range that receivers must skip when unknown. */
export const FIRST_EXTENSION_TYPE = 0x80;

/** Client → server, first frame of a new session. */
export interface HelloFrame {
  kind: "hello";
  /** Bytes of stream data the server may send on each channel before the client's first ACK. */
  receiveWindow: number;
  /** Authentication method (AuthMethod) and its opaque data, at most 4096 bytes. */
  authMethod: number;
  authData: Uint8Array;
}

/** Server → client, accepts a HELLO and fixes the session's parameters. */
export interface WelcomeFrame {
  kind: "welcome";
  /** 16 random bytes naming the session. */
  sessionId: Uint8Array;
  /** 32 random bytes the client must present to resume; replaced on every resume. */
  resumeSecret: Uint8Array;
  /** How long the server keeps a session without a link, in milliseconds. */
  sessionTimeoutMs: number;
  /** The client sends a PING at this interval, in milliseconds; the server answers each (PROTOCOL.md, section 10). */
  keepaliveIntervalMs: number;
  /** A link on which nothing arrives for this long is dead, in milliseconds. */
  deadAfterMs: number;
  /** Most channels open at once in this session. */
  maxChannels: number;
  /** Bytes the client may send on each channel before the server's first ACK. */
  receiveWindow: number;
}

/** One row of a resume table: what the sender of the table knows about a channel. */
export interface ChannelState {
  channel: number;
  /** Next stream offset the table's sender expects from its peer on this channel (EOF counts as one). */
  received: number;
  /** The peer may send stream bytes up to (not including) this offset. */
  windowLimit: number;
  /** Server: the target connection is established. Client: OPENED has been received. */
  opened: boolean;
}

export interface ChannelTable {
  /** Client: highest channel id it has allocated. Server: highest channel id it has seen OPEN for. */
  highestChannel: number;
  channels: ChannelState[];
}

/** Client → server, first frame of a link that continues an existing session. */
export interface ResumeFrame extends ChannelTable {
  kind: "resume";
  sessionId: Uint8Array;
  resumeSecret: Uint8Array;
}

/** Server → client, accepts a RESUME; carries the next resume secret. */
export interface ResumedFrame extends ChannelTable {
  kind: "resumed";
  resumeSecret: Uint8Array;
}

/** Client → server: open channel `channel` to the configured target called `target`. */
export interface OpenFrame {
  kind: "open";
  channel: number;
  target: string;
}

/** Server → client: the target connection for `channel` is established. */
export interface OpenedFrame {
  kind: "opened";
  channel: number;
}

/** Stream bytes of `channel` starting at stream offset `offset`. */
export interface DataFrame {
  kind: "data";
  channel: number;
  offset: number;
  data: Uint8Array;
}

/** The sender's direction of `channel` ends at `offset` (the total bytes sent); EOF occupies that offset. */
export interface EofFrame {
  kind: "eof";
  channel: number;
  offset: number;
}

/** Abortive close of both directions of `channel`, or refusal of an OPEN; `code` says why. */
export interface ResetFrame {
  kind: "reset";
  channel: number;
  code: number;
}

/** Cumulative acknowledgement and flow-control credit for one direction of `channel`. */
export interface AckFrame {
  kind: "ack";
  channel: number;
  /** Every stream offset below this has been received (EOF counts as one offset). */
  received: number;
  /** The peer may send stream bytes up to (not including) this offset. Never decreases. */
  windowLimit: number;
}

export interface PingFrame {
  kind: "ping";
  /** The sender's clock in milliseconds; opaque to the receiver, which echoes it. */
  timestamp: number;
}

export interface PongFrame {
  kind: "pong";
  timestamp: number;
}

/** Server → client: no new channels will be accepted; the session will be closed. */
export interface GoAwayFrame {
  kind: "goaway";
  code: number;
}

/** Ends the session for good (never resumed), or refuses a handshake. */
export interface CloseFrame {
  kind: "close";
  code: number;
  /** Human-readable detail, UTF-8, at most 1024 bytes. */
  reason: string;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | ResumeFrame
  | ResumedFrame
  | OpenFrame
  | OpenedFrame
  | DataFrame
  | EofFrame
  | ResetFrame
  | AckFrame
  | PingFrame
  | PongFrame
  | GoAwayFrame
  | CloseFrame;

export type FrameKind = Frame["kind"];

/** Target names are configuration keys, never addresses: letters, digits, '.', '_' and '-'. */
export const TARGET_NAME_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;
