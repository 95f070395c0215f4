/**
 * Every failure lifeline reports has one stable code. Each code has a wire close code (the u16 in
 * CLOSE, RESET and GOAWAY frames), so that a peer can say precisely why it closed.
 * docs/PROTOCOL.md ("Close and error codes") lists the same table.
 */
export const WIRE_CODES = {
  NORMAL: 0x0000,
  GOING_AWAY: 0x0001,
  SESSION_EXPIRED: 0x0002,
  REPLACED: 0x0003,

  PROTOCOL_ERROR: 0x0100,
  BAD_MAGIC: 0x0101,
  UNSUPPORTED_VERSION: 0x0102,
  FRAME_TOO_LARGE: 0x0103,
  FRAME_MALFORMED: 0x0104,
  UNKNOWN_FRAME_TYPE: 0x0105,
  FLOW_CONTROL_ERROR: 0x0106,
  HANDSHAKE_TIMEOUT: 0x0107,

  AUTH_FAILED: 0x0200,
  AUTH_METHOD_UNSUPPORTED: 0x0201,
  UNKNOWN_SESSION: 0x0202,
  BAD_SECRET: 0x0203,
  RATE_LIMITED: 0x0204,
  SERVER_BUSY: 0x0205,

  CHANNEL_LIMIT: 0x0300,
  TARGET_UNKNOWN: 0x0301,
  TARGET_UNREACHABLE: 0x0302,
  CHANNEL_ABORTED: 0x0303,

  INTERNAL_ERROR: 0x0400,

  // Local only: raised to the caller of the core, never sent by a correct peer.
  INVALID_ARGUMENT: 0x0500,
  INVALID_STATE: 0x0501,
} as const;

export type ErrorCode = keyof typeof WIRE_CODES;

const CODE_BY_WIRE = new Map<number, ErrorCode>(
  (Object.keys(WIRE_CODES) as ErrorCode[]).map((code) => [WIRE_CODES[code], code]),
);

/** The code for a wire value; `fallback` for a value this build does not know (a newer peer's). */
export function codeFromWire(wire: number, fallback: ErrorCode): ErrorCode {
  return CODE_BY_WIRE.get(wire) ?? fallback;
}

/** The one error type lifeline throws. Match on `code`, never on the message text. */
export class LifelineError extends Error {
  override readonly name = "LifelineError";
  readonly code: ErrorCode;
  readonly wireCode: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.wireCode = WIRE_CODES[code];
  }
}

export function isLifelineError(value: unknown): value is LifelineError {
  return value instanceof LifelineError;
}
