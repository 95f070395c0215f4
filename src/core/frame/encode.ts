/** The one encoder of lifeline frames. Pure: returns byte chunks, writes nowhere. */
import { writeU16, writeU32, writeU64, concatBytes } from "../bytes.js";
import {
  CHANNEL_ENTRY_SIZE,
  FRAME_HEADER_SIZE,
  MAGIC,
  MAX_AUTH_DATA,
  MAX_CLOSE_REASON,
  MAX_DATA_PER_FRAME,
  MAX_OFFSET,
  MAX_TRACKED_CHANNELS,
  PREAMBLE_SIZE,
  RESUME_SECRET_SIZE,
  SESSION_ID_SIZE,
} from "../constants.js";
import { LifelineError } from "../errors.js";
import { encodeUtf8 } from "../text.js";
import { FrameType, TARGET_NAME_PATTERN, type ChannelTable, type Frame } from "./types.js";

export function encodePreamble(version: number): Uint8Array {
  const out = new Uint8Array(PREAMBLE_SIZE);
  out.set(MAGIC, 0);
  writeU16(out, MAGIC.length, version);
  return out;
}

/**
 * Encodes a frame as one or two chunks. A DATA frame's stream bytes are returned by reference as
 * the second chunk, never copied, so a transport can write both with one vectored write.
 */
export function encodeFrame(frame: Frame): Uint8Array[] {
  switch (frame.kind) {
    case "data": {
      const n = frame.data.length;
      if (n === 0 || n > MAX_DATA_PER_FRAME)
        throw invalid(`DATA carries 1..${MAX_DATA_PER_FRAME} bytes, not ${n}`);
      const head = header(FrameType.Data, frame.channel, 8 + n, 8);
      writeOffset(head, FRAME_HEADER_SIZE, frame.offset);
      return [head, frame.data];
    }
    case "ack": {
      const out = header(FrameType.Ack, frame.channel, 16);
      writeOffset(out, FRAME_HEADER_SIZE, frame.received);
      writeOffset(out, FRAME_HEADER_SIZE + 8, frame.windowLimit);
      return [out];
    }
    case "eof": {
      const out = header(FrameType.Eof, frame.channel, 8);
      writeOffset(out, FRAME_HEADER_SIZE, frame.offset);
      return [out];
    }
    case "reset": {
      const out = header(FrameType.Reset, frame.channel, 2);
      writeCode(out, FRAME_HEADER_SIZE, frame.code);
      return [out];
    }
    case "open": {
      if (!TARGET_NAME_PATTERN.test(frame.target))
        throw invalid(`bad target name ${JSON.stringify(frame.target)}`);
      const out = header(FrameType.Open, frame.channel, 1 + frame.target.length);
      out[FRAME_HEADER_SIZE] = frame.target.length;
      for (let i = 0; i < frame.target.length; i++)
        out[FRAME_HEADER_SIZE + 1 + i] = frame.target.charCodeAt(i);
      return [out];
    }
    case "opened":
      return [header(FrameType.Opened, frame.channel, 0)];
    case "ping":
    case "pong": {
      const out = header(frame.kind === "ping" ? FrameType.Ping : FrameType.Pong, 0, 8);
      writeOffset(out, FRAME_HEADER_SIZE, frame.timestamp);
      return [out];
    }
    case "goaway": {
      const out = header(FrameType.GoAway, 0, 2);
      writeCode(out, FRAME_HEADER_SIZE, frame.code);
      return [out];
    }
    case "close": {
      const reason = truncateUtf8(encodeUtf8(frame.reason), MAX_CLOSE_REASON);
      const out = header(FrameType.Close, 0, 2 + reason.length);
      writeCode(out, FRAME_HEADER_SIZE, frame.code);
      out.set(reason, FRAME_HEADER_SIZE + 2);
      return [out];
    }
    case "hello": {
      const n = frame.authData.length;
      if (n > MAX_AUTH_DATA) throw invalid(`auth data is ${n} bytes, at most ${MAX_AUTH_DATA}`);
      const out = header(FrameType.Hello, 0, 7 + n);
      let at = FRAME_HEADER_SIZE;
      writeU32(out, at, frame.receiveWindow);
      out[at + 4] = frame.authMethod;
      writeU16(out, at + 5, n);
      at += 7;
      out.set(frame.authData, at);
      return [out];
    }
    case "welcome": {
      const out = header(FrameType.Welcome, 0, 68);
      let at = FRAME_HEADER_SIZE;
      out.set(fixed("session id", frame.sessionId, SESSION_ID_SIZE), at);
      out.set(fixed("resume secret", frame.resumeSecret, RESUME_SECRET_SIZE), at + 16);
      at += 48;
      for (const v of [
        frame.sessionTimeoutMs,
        frame.keepaliveIntervalMs,
        frame.deadAfterMs,
        frame.maxChannels,
        frame.receiveWindow,
      ]) {
        writeU32(out, at, v);
        at += 4;
      }
      return [out];
    }
    case "resume": {
      const out = header(FrameType.Resume, 0, 48 + tableSize(frame));
      out.set(fixed("session id", frame.sessionId, SESSION_ID_SIZE), FRAME_HEADER_SIZE);
      out.set(fixed("resume secret", frame.resumeSecret, RESUME_SECRET_SIZE), FRAME_HEADER_SIZE + 16);
      writeTable(out, FRAME_HEADER_SIZE + 48, frame);
      return [out];
    }
    case "resumed": {
      const out = header(FrameType.Resumed, 0, 32 + tableSize(frame));
      out.set(fixed("resume secret", frame.resumeSecret, RESUME_SECRET_SIZE), FRAME_HEADER_SIZE);
      writeTable(out, FRAME_HEADER_SIZE + 32, frame);
      return [out];
    }
    default:
      return assertNever(frame);
  }
}

/** Encodes a frame into one contiguous buffer (tests, vectors, handshake frames). */
export function encodeFrameBytes(frame: Frame): Uint8Array {
  const parts = encodeFrame(frame);
  return parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts);
}

/** Cuts UTF-8 to at most `max` bytes without splitting a character. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function header(
  type: number,
  channel: number,
  payloadLength: number,
  allocatePayload = payloadLength,
): Uint8Array {
  const isSessionFrame = type < FrameType.Open || type >= FrameType.Ping;
  if (isSessionFrame ? channel !== 0 : !Number.isInteger(channel) || channel < 1 || channel > 0xffff_ffff) {
    throw invalid(`frame type 0x${type.toString(16)} cannot be sent on channel ${channel}`);
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + allocatePayload);
  out[0] = type;
  writeU32(out, 1, channel);
  writeU32(out, 5, payloadLength);
  return out;
}

/** Writes a u16 close/reset code, refusing values that would be silently truncated. */
function writeCode(out: Uint8Array, at: number, code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw invalid(`code ${code} is not a u16`);
  writeU16(out, at, code);
}

/** Refuses a fixed-size byte field of the wrong length. */
function fixed(name: string, bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length !== size) throw invalid(`${name} must be ${size} bytes, not ${bytes.length}`);
  return bytes;
}

/** Writes a u64 field, refusing values a receiver would reject. */
function writeOffset(out: Uint8Array, at: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_OFFSET) {
    throw invalid(`u64 field ${value} is outside 0..2^53-1`);
  }
  writeU64(out, at, value);
}

function tableSize(table: ChannelTable): number {
  if (table.channels.length > MAX_TRACKED_CHANNELS) {
    throw invalid(
      `a channel table holds at most ${MAX_TRACKED_CHANNELS} entries, not ${table.channels.length}`,
    );
  }
  return 8 + CHANNEL_ENTRY_SIZE * table.channels.length;
}

function writeTable(out: Uint8Array, at: number, table: ChannelTable): void {
  writeU32(out, at, table.highestChannel);
  writeU32(out, at + 4, table.channels.length);
  at += 8;
  let previous = 0;
  for (const c of table.channels) {
    if (!Number.isInteger(c.channel) || c.channel <= previous || c.channel > table.highestChannel) {
      throw invalid("channel table ids must be integers, ascending, and not above the highest id");
    }
    previous = c.channel;
    writeU32(out, at, c.channel);
    writeOffset(out, at + 4, c.received);
    writeOffset(out, at + 12, c.windowLimit);
    out[at + 20] = c.opened ? 1 : 0;
    at += CHANNEL_ENTRY_SIZE;
  }
}

function invalid(message: string): LifelineError {
  return new LifelineError("FRAME_MALFORMED", `cannot encode: ${message}`);
}

export function assertNever(value: never): never {
  throw new LifelineError("INTERNAL_ERROR", `unhandled variant ${JSON.stringify(value)}`);
}
