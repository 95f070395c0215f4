/**
 * The one incremental decoder of lifeline frames. Accepts bytes in any chunking and returns whole
 * frames. Limits are enforced on the 9-byte header, before any payload is buffered, so a hostile
 * length costs nothing. A payload that lies whole inside one input chunk is returned as a view of
 * that chunk (zero copy): callers must not reuse chunks they pass in. A DATA frame that spans
 * chunks is returned in pieces, each a DATA frame for its part of the stream with its own offset,
 * so that stream bytes are never gathered into a copy either (the meaning is the same: DATA is
 * addressed by offset).
 */
import { readU16, readU32, readU64 } from "../bytes.js";
import {
  CHANNEL_ENTRY_SIZE,
  FRAME_HEADER_SIZE,
  MAGIC,
  MAX_AUTH_DATA,
  MAX_CHANNELS_PER_SESSION,
  MAX_TRACKED_CHANNELS,
  MAX_CLOSE_REASON,
  MAX_FRAME_PAYLOAD,
  PREAMBLE_SIZE,
  PROTOCOL_VERSION,
  RESUME_SECRET_SIZE,
  SESSION_ID_SIZE,
} from "../constants.js";
import { LifelineError } from "../errors.js";
import { decodeUtf8 } from "../text.js";
import {
  FIRST_EXTENSION_TYPE,
  FrameType,
  TARGET_NAME_PATTERN,
  type ChannelTable,
  type Frame,
} from "./types.js";

export interface DecoderOptions {
  /** Read and check a peer preamble (magic + version) before the first frame. Default false. */
  expectPreamble?: boolean;
  /** Largest accepted payload in bytes; at most the protocol's MAX_FRAME_PAYLOAD (65544), the default. */
  maxPayload?: number;
}

const enum Phase {
  Preamble,
  Header,
  Payload,
  /** The u64 offset of a DATA frame that spans chunks, read into `head`. */
  DataOffset,
  /** The stream bytes of that frame, returned piece by piece. */
  DataBytes,
  Failed,
}

/** Nothing to fill: zero bytes long, so every decoder can share it. */
const NO_PAYLOAD = new Uint8Array(0);

export class FrameDecoder {
  /** The version the peer announced in its preamble, once read. */
  peerVersion: number | undefined;
  /** The error that stopped the decoder, once it has failed. */
  failure: LifelineError | undefined;

  // A server holds a decoder per idle session for as long as the session lives, so buffers are
  // allocated only for what needs them: a header or payload split across reads.
  private phase: Phase;
  private readonly maxPayload: number;
  private preambleFill = 0;
  /** The preamble's version bytes read so far (the magic is checked byte by byte, not kept). */
  private version = 0;
  private head: Uint8Array | undefined;
  private headFill = 0;
  private type = 0;
  private channel = 0;
  private payload = NO_PAYLOAD;
  private payloadFill = 0;
  /** DataBytes: stream offset of the next piece, and bytes of the frame still to come. */
  private dataOffset = 0;
  private dataLeft = 0;

  constructor(options: DecoderOptions = {}) {
    this.phase = options.expectPreamble ? Phase.Preamble : Phase.Header;
    this.maxPayload = Math.min(options.maxPayload ?? MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD);
  }

  /**
   * Feeds bytes; returns the frames they complete. On bad input it throws LifelineError, and keeps
   * throwing it after. Frames completed before the bad bytes in the same chunk are still returned
   * (they may carry the peer's own CLOSE); the error is then in `failure` and thrown by the next push.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure) throw this.failure;
    const frames: Frame[] = [];
    try {
      this.consume(chunk, frames);
      return frames;
    } catch (err) {
      this.phase = Phase.Failed;
      this.failure =
        err instanceof LifelineError
          ? err
          : new LifelineError("INTERNAL_ERROR", "decoder failure", { cause: err });
      if (frames.length > 0) return frames;
      throw this.failure;
    }
  }

  /** True when no partial preamble or frame is held. */
  get idle(): boolean {
    return this.phase === Phase.Header && this.headFill === 0;
  }

  private consume(chunk: Uint8Array, frames: Frame[]): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.phase === Phase.Preamble) {
        pos = this.readPreamble(chunk, pos);
      } else if (this.phase === Phase.Header) {
        let h: Uint8Array;
        let at: number;
        if (this.headFill === 0 && end - pos >= FRAME_HEADER_SIZE) {
          h = chunk;
          at = pos;
          pos += FRAME_HEADER_SIZE;
        } else {
          const head = (this.head ??= new Uint8Array(FRAME_HEADER_SIZE));
          const take = Math.min(FRAME_HEADER_SIZE - this.headFill, end - pos);
          head.set(chunk.subarray(pos, pos + take), this.headFill);
          this.headFill += take;
          pos += take;
          if (this.headFill < FRAME_HEADER_SIZE) break;
          this.headFill = 0;
          h = head;
          at = 0;
        }
        const type = h[at] as number;
        const channel = readU32(h, at + 1);
        const length = readU32(h, at + 5);
        if (type < FIRST_EXTENSION_TYPE && !KNOWN_TYPES.has(type)) {
          throw new LifelineError("UNKNOWN_FRAME_TYPE", `unknown frame type 0x${type.toString(16)}`);
        }
        if (length > this.maxPayload) {
          throw new LifelineError(
            "FRAME_TOO_LARGE",
            `frame type 0x${type.toString(16)} announces ${length} payload bytes; the limit is ${this.maxPayload}`,
          );
        }
        if (end - pos >= length) {
          const frame = parsePayload(type, channel, viewOrCopy(chunk, pos, length));
          if (frame) frames.push(frame);
          pos += length;
        } else if (type === FrameType.Data) {
          requireChannel(type, channel);
          if (length < 9)
            throw malformed(type, `DATA needs an offset and at least one byte, got ${length} bytes`);
          this.channel = channel;
          this.dataLeft = length - 8;
          this.headFill = 0;
          this.phase = Phase.DataOffset;
        } else {
          this.type = type;
          this.channel = channel;
          this.payload = new Uint8Array(length);
          this.payloadFill = 0;
          this.phase = Phase.Payload;
        }
      } else if (this.phase === Phase.DataOffset) {
        const head = (this.head ??= new Uint8Array(FRAME_HEADER_SIZE));
        const take = Math.min(8 - this.headFill, end - pos);
        head.set(chunk.subarray(pos, pos + take), this.headFill);
        this.headFill += take;
        pos += take;
        if (this.headFill === 8) {
          this.headFill = 0;
          this.dataOffset = offset(head, 0, FrameType.Data);
          this.phase = Phase.DataBytes;
        }
      } else if (this.phase === Phase.DataBytes) {
        const take = Math.min(this.dataLeft, end - pos);
        const data = viewOrCopy(chunk, pos, take);
        frames.push({ kind: "data", channel: this.channel, offset: this.dataOffset, data });
        this.dataOffset += take;
        this.dataLeft -= take;
        pos += take;
        if (this.dataLeft === 0) this.phase = Phase.Header;
      } else {
        const take = Math.min(this.payload.length - this.payloadFill, end - pos);
        this.payload.set(chunk.subarray(pos, pos + take), this.payloadFill);
        this.payloadFill += take;
        pos += take;
        if (this.payloadFill === this.payload.length) {
          const frame = parsePayload(this.type, this.channel, this.payload);
          if (frame) frames.push(frame);
          this.payload = NO_PAYLOAD;
          this.phase = Phase.Header;
        }
      }
    }
  }

  /** Checks each magic byte as it arrives, so a wrong protocol is rejected on its first byte. */
  private readPreamble(chunk: Uint8Array, pos: number): number {
    while (pos < chunk.length && this.preambleFill < PREAMBLE_SIZE) {
      const byte = chunk[pos++] as number;
      if (this.preambleFill < MAGIC.length && byte !== MAGIC[this.preambleFill]) {
        throw new LifelineError(
          "BAD_MAGIC",
          `not a lifeline peer: byte ${this.preambleFill} of the preamble is 0x${byte.toString(16)}`,
        );
      }
      if (this.preambleFill >= MAGIC.length) this.version = (this.version << 8) | byte;
      this.preambleFill++;
    }
    if (this.preambleFill === PREAMBLE_SIZE) {
      const version = this.version;
      if (version !== PROTOCOL_VERSION) {
        throw new LifelineError(
          "UNSUPPORTED_VERSION",
          `peer speaks protocol version ${version}; this build speaks ${PROTOCOL_VERSION}`,
        );
      }
      this.peerVersion = version;
      this.phase = Phase.Header;
    }
    return pos;
  }
}

/**
 * `length` bytes of `chunk` from `at`. A view keeps its whole read alive, so parts much smaller than
 * the read are copied: the bytes a peer may leave unconsumed (one window) can then never pin much
 * more memory than that.
 */
function viewOrCopy(chunk: Uint8Array, at: number, length: number): Uint8Array {
  const view = chunk.subarray(at, at + length);
  return length * 4 < chunk.length ? view.slice() : view;
}

/** Parses one payload; returns undefined for an unknown extension frame, which is skipped. */
function parsePayload(type: number, channel: number, p: Uint8Array): Frame | undefined {
  switch (type) {
    case FrameType.Data: {
      requireChannel(type, channel);
      if (p.length < 9)
        throw malformed(type, `DATA needs an offset and at least one byte, got ${p.length} bytes`);
      return { kind: "data", channel, offset: offset(p, 0, type), data: p.subarray(8) };
    }
    case FrameType.Ack: {
      requireChannel(type, channel);
      exact(type, p, 16);
      return { kind: "ack", channel, received: offset(p, 0, type), windowLimit: offset(p, 8, type) };
    }
    case FrameType.Eof:
      requireChannel(type, channel);
      exact(type, p, 8);
      return { kind: "eof", channel, offset: offset(p, 0, type) };
    case FrameType.Reset:
      requireChannel(type, channel);
      exact(type, p, 2);
      return { kind: "reset", channel, code: readU16(p, 0) };
    case FrameType.Open: {
      requireChannel(type, channel);
      const n = p.length === 0 ? 0 : (p[0] as number);
      if (p.length !== 1 + n)
        throw malformed(type, `OPEN target length ${n} does not match payload ${p.length}`);
      const target = String.fromCharCode(...p.subarray(1));
      if (!TARGET_NAME_PATTERN.test(target))
        throw malformed(type, "OPEN target name has characters outside [A-Za-z0-9._-]");
      return { kind: "open", channel, target };
    }
    case FrameType.Opened:
      requireChannel(type, channel);
      exact(type, p, 0);
      return { kind: "opened", channel };
    case FrameType.Ping:
    case FrameType.Pong: {
      requireSession(type, channel);
      exact(type, p, 8);
      const timestamp = offset(p, 0, type);
      return type === FrameType.Ping ? { kind: "ping", timestamp } : { kind: "pong", timestamp };
    }
    case FrameType.GoAway:
      requireSession(type, channel);
      exact(type, p, 2);
      return { kind: "goaway", code: readU16(p, 0) };
    case FrameType.Close: {
      requireSession(type, channel);
      if (p.length < 2 || p.length > 2 + MAX_CLOSE_REASON)
        throw malformed(type, `CLOSE payload of ${p.length} bytes`);
      const reason = decodeUtf8(p.subarray(2));
      if (reason === undefined) throw malformed(type, "CLOSE reason is not valid UTF-8");
      return { kind: "close", code: readU16(p, 0), reason };
    }
    case FrameType.Hello: {
      requireSession(type, channel);
      if (p.length < 7) throw malformed(type, `HELLO payload of ${p.length} bytes`);
      const n = readU16(p, 5);
      if (n > MAX_AUTH_DATA || p.length !== 7 + n)
        throw malformed(type, `HELLO auth length ${n} does not fit`);
      return {
        kind: "hello",
        receiveWindow: positive(type, readU32(p, 0), "receive window"),
        authMethod: p[4] as number,
        authData: p.subarray(7),
      };
    }
    case FrameType.Welcome: {
      requireSession(type, channel);
      exact(type, p, 68);
      const at = SESSION_ID_SIZE + RESUME_SECRET_SIZE;
      const keepaliveIntervalMs = positive(type, readU32(p, at + 4), "keepalive interval");
      const deadAfterMs = positive(type, readU32(p, at + 8), "dead-after time");
      const maxChannels = positive(type, readU32(p, at + 12), "channel limit");
      if (deadAfterMs <= keepaliveIntervalMs)
        throw malformed(type, "dead-after time must exceed the keepalive interval");
      if (maxChannels > MAX_CHANNELS_PER_SESSION) {
        throw malformed(type, `channel limit ${maxChannels} exceeds ${MAX_CHANNELS_PER_SESSION}`);
      }
      return {
        kind: "welcome",
        sessionId: p.slice(0, SESSION_ID_SIZE),
        resumeSecret: p.slice(SESSION_ID_SIZE, at),
        sessionTimeoutMs: positive(type, readU32(p, at), "session timeout"),
        keepaliveIntervalMs,
        deadAfterMs,
        maxChannels,
        receiveWindow: positive(type, readU32(p, at + 16), "receive window"),
      };
    }
    case FrameType.Resume: {
      requireSession(type, channel);
      const at = SESSION_ID_SIZE + RESUME_SECRET_SIZE;
      if (p.length < at + 8) throw malformed(type, `RESUME payload of ${p.length} bytes`);
      return {
        kind: "resume",
        sessionId: p.slice(0, SESSION_ID_SIZE),
        resumeSecret: p.slice(SESSION_ID_SIZE, at),
        ...readTable(type, p, at),
      };
    }
    case FrameType.Resumed: {
      requireSession(type, channel);
      if (p.length < RESUME_SECRET_SIZE + 8) throw malformed(type, `RESUMED payload of ${p.length} bytes`);
      return {
        kind: "resumed",
        resumeSecret: p.slice(0, RESUME_SECRET_SIZE),
        ...readTable(type, p, RESUME_SECRET_SIZE),
      };
    }
    default:
      // Only extension types reach here: unknown core types were refused at the header.
      return undefined;
  }
}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

function readTable(type: number, p: Uint8Array, at: number): ChannelTable {
  const highestChannel = readU32(p, at);
  const count = readU32(p, at + 4);
  if (count > MAX_TRACKED_CHANNELS || p.length !== at + 8 + count * CHANNEL_ENTRY_SIZE) {
    throw malformed(type, `channel table of ${count} entries does not fit ${p.length} bytes`);
  }
  const channels = [];
  let previous = 0;
  for (let i = 0, e = at + 8; i < count; i++, e += CHANNEL_ENTRY_SIZE) {
    const id = readU32(p, e);
    if (id <= previous || id > highestChannel)
      throw malformed(type, "channel table ids must ascend and not exceed the highest id");
    previous = id;
    const flags = p[e + 20] as number;
    if (flags > 1) throw malformed(type, `unknown channel flags 0x${flags.toString(16)}`);
    channels.push({
      channel: id,
      received: offset(p, e + 4, type),
      windowLimit: offset(p, e + 12, type),
      opened: flags === 1,
    });
  }
  return { highestChannel, channels };
}

function offset(p: Uint8Array, at: number, type: number): number {
  const v = readU64(p, at);
  if (v < 0) throw malformed(type, "a u64 field exceeds 2^53-1");
  return v;
}

function positive(type: number, v: number, what: string): number {
  if (v === 0) throw malformed(type, `${what} must not be zero`);
  return v;
}

function exact(type: number, p: Uint8Array, size: number): void {
  if (p.length !== size) throw malformed(type, `payload is ${p.length} bytes, expected ${size}`);
}

function requireChannel(type: number, channel: number): void {
  if (channel === 0) throw malformed(type, "channel frame on channel 0");
}

function requireSession(type: number, channel: number): void {
  if (channel !== 0) throw malformed(type, `session frame on channel ${channel}`);
}

function malformed(type: number, detail: string): LifelineError {
  return new LifelineError("FRAME_MALFORMED", `frame type 0x${type.toString(16)}: ${detail}`);
}
