/** Wire constants of lifeline protocol version 1. docs/PROTOCOL.md is the normative source. */

/** The protocol version this implementation speaks. */
export const PROTOCOL_VERSION = 1;

/** ASCII "LIFELINE": the first bytes either side writes on every link. */
export const MAGIC = Uint8Array.of(0x4c, 0x49, 0x46, 0x45, 0x4c, 0x49, 0x4e, 0x45);

/** Magic (8 bytes) followed by the version (u16). */
export const PREAMBLE_SIZE = MAGIC.length + 2;

/** type u8, channel u32, length u32. */
export const FRAME_HEADER_SIZE = 9;

/**
 * Largest number of stream bytes in one DATA frame: 64 KiB, the size of a Node socket read, so
 * that each read goes out as one frame that views it rather than straddling two.
 */
export const MAX_DATA_PER_FRAME = 65536;

/** Largest payload a v1 frame may carry, in bytes (a full DATA frame: u64 offset + 64 KiB). A receiver rejects a header announcing more. */
export const MAX_FRAME_PAYLOAD = 8 + MAX_DATA_PER_FRAME;

export const SESSION_ID_SIZE = 16;
export const RESUME_SECRET_SIZE = 32;
export const MAX_AUTH_DATA = 4096;
export const MAX_TARGET_NAME = 255;
export const MAX_CLOSE_REASON = 1024;

/** Protocol ceiling on open channels per session (WELCOME's maxChannels may not exceed it). */
export const MAX_CHANNELS_PER_SESSION = 1024;

/**
 * Most channels one side may track at once: open ones plus reset ones awaiting the peer's
 * confirming RESET. Bounds memory against a peer that never confirms, and the resume table size.
 */
export const MAX_TRACKED_CHANNELS = 2 * MAX_CHANNELS_PER_SESSION;

/** Bytes per entry of a resume channel table: channel u32, received u64, window limit u64, flags u8. */
export const CHANNEL_ENTRY_SIZE = 21;

/** Offsets are u64 on the wire but must stay exact in a JavaScript number. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Authentication methods carried in HELLO. */
export const AuthMethod = {
  /** A shared bearer token, compared by the server against its token list. */
  BearerToken: 1,
} as const;
