/**
 * Codec and replay-buffer throughput on one core. The decoder is fed a stream cut into 64 KiB
 * chunks, as a TLS socket delivers it, so frames straddle chunk boundaries as they do for real.
 */
import {
  encodeFrame,
  encodeFrameBytes,
  FrameDecoder,
  SendBuffer,
  MAX_DATA_PER_FRAME,
  type Frame,
} from "../src/core/index.js";
import { medianSeconds } from "./machine.js";

const FRAME_DATA = 16 * 1024;
const TOTAL = 512 * 1024 * 1024;
const FRAMES = TOTAL / FRAME_DATA;
const SOCKET_CHUNK = 64 * 1024;
const RUNS = 5;

export interface CodecFigures {
  encodeMBps: number;
  /** Encoding into one contiguous buffer per frame: the cost when a transport cannot write vectors. */
  encodeCopyMBps: number;
  decodeMBps: number;
  encodeDecodeMBps: number;
  bufferTrimMBps: number;
}

export function benchCodec(): CodecFigures {
  const payload = new Uint8Array(FRAME_DATA).fill(0x5a);
  const frame: Frame = { kind: "data", channel: 1, offset: 0, data: payload };

  let encoded: Uint8Array[] = [];
  const encodeSeconds = medianSeconds(RUNS, () => {
    encoded = [];
    for (let i = 0; i < FRAMES; i++) {
      (frame as { offset: number }).offset = i * FRAME_DATA;
      for (const part of encodeFrame(frame)) encoded.push(part);
    }
  });

  const encodeCopySeconds = medianSeconds(RUNS, () => {
    for (let i = 0; i < FRAMES; i++) {
      (frame as { offset: number }).offset = i * FRAME_DATA;
      encodeFrameBytes(frame);
    }
  });

  // Lay the encoded frames out as one wire stream, then slice it the way a socket would.
  const wireBytes = encoded.reduce((n, p) => n + p.length, 0);
  const wire = new Uint8Array(wireBytes);
  let at = 0;
  for (const part of encoded) {
    wire.set(part, at);
    at += part.length;
  }
  encoded = [];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < wire.length; i += SOCKET_CHUNK) chunks.push(wire.subarray(i, i + SOCKET_CHUNK));

  let decodedBytes = 0;
  const decodeSeconds = medianSeconds(RUNS, () => {
    const decoder = new FrameDecoder();
    decodedBytes = 0;
    for (const chunk of chunks) {
      for (const f of decoder.push(chunk)) if (f.kind === "data") decodedBytes += f.data.length;
    }
  });
  if (decodedBytes !== TOTAL) throw new Error(`decoded ${decodedBytes} of ${TOTAL} bytes`);

  const bufferSeconds = medianSeconds(RUNS, () => {
    const buffer = new SendBuffer();
    let sent = 0;
    for (let i = 0; i < FRAMES; i++) {
      buffer.append(payload);
      while (sent < buffer.written) sent += buffer.read(sent, MAX_DATA_PER_FRAME).length;
      // Acknowledge in 128 KiB steps, as the default ACK policy does.
      if ((i & 7) === 7) buffer.ack(sent);
    }
    buffer.ack(sent);
  });

  const mb = TOTAL / 1e6;
  return {
    encodeMBps: mb / encodeSeconds,
    encodeCopyMBps: mb / encodeCopySeconds,
    decodeMBps: mb / decodeSeconds,
    encodeDecodeMBps: mb / (encodeSeconds + decodeSeconds),
    bufferTrimMBps: mb / bufferSeconds,
  };
}
