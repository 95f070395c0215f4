/** fast-check arbitraries for every frame kind, within the protocol's limits. */
import fc from "fast-check";
import {
  concatBytes,
  MAX_CHANNELS_PER_SESSION,
  MAX_DATA_PER_FRAME,
  type ChannelState,
  type Frame,
} from "../../src/core/index.js";

/** Records with an ordinary prototype, so that they deep-equal decoded frames. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const channel = fc.integer({ min: 1, max: 0xffff_ffff });
const u32pos = fc.integer({ min: 1, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const offset = fc.oneof(
  fc.integer({ min: 0, max: 100_000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const bytes = (size: number, max = size) => fc.uint8Array({ minLength: size, maxLength: max });
const target = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/);

const table = fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { maxLength: 8 }).chain((ids) =>
  record({
    highestChannel: fc.integer({ min: Math.max(0, ...ids), max: 0xffff_ffff }),
    channels: fc.tuple(
      ...ids
        .sort((a, b) => a - b)
        .map((id) =>
          record<ChannelState>({
            channel: fc.constant(id),
            received: offset,
            windowLimit: offset,
            opened: fc.boolean(),
          }),
        ),
    ),
  }),
);

export const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  record({
    kind: fc.constant("hello" as const),
    receiveWindow: u32pos,
    authMethod: fc.integer({ min: 0, max: 255 }),
    authData: bytes(0, 64),
  }),
  fc
    .record({
      sessionId: bytes(16),
      resumeSecret: bytes(32),
      sessionTimeoutMs: u32pos,
      keepaliveIntervalMs: fc.integer({ min: 1, max: 0x7fff_ffff }),
      deadAfterExtraMs: fc.integer({ min: 1, max: 0x7fff_ffff }),
      maxChannels: fc.integer({ min: 1, max: MAX_CHANNELS_PER_SESSION }),
      receiveWindow: u32pos,
    })
    .map(({ deadAfterExtraMs, ...w }) => ({
      kind: "welcome" as const,
      ...w,
      deadAfterMs: w.keepaliveIntervalMs + deadAfterExtraMs,
    })),
  fc
    .tuple(bytes(16), bytes(32), table)
    .map(([sessionId, resumeSecret, t]) => ({ kind: "resume" as const, sessionId, resumeSecret, ...t })),
  fc.tuple(bytes(32), table).map(([resumeSecret, t]) => ({ kind: "resumed" as const, resumeSecret, ...t })),
  record({ kind: fc.constant("open" as const), channel, target }),
  record({ kind: fc.constant("opened" as const), channel }),
  record({ kind: fc.constant("data" as const), channel, offset, data: bytes(1, 300) }),
  record({ kind: fc.constant("data" as const), channel, offset, data: bytes(MAX_DATA_PER_FRAME) }),
  record({ kind: fc.constant("eof" as const), channel, offset }),
  record({ kind: fc.constant("reset" as const), channel, code: u16 }),
  record({ kind: fc.constant("ack" as const), channel, received: offset, windowLimit: offset }),
  record({ kind: fc.constant("ping" as const), timestamp: offset }),
  record({ kind: fc.constant("pong" as const), timestamp: offset }),
  record({ kind: fc.constant("goaway" as const), code: u16 }),
  record({ kind: fc.constant("close" as const), code: u16, reason: fc.string({ maxLength: 100 }) }),
);

/** Cuts `bytes` at the given (sorted, deduplicated) points. */
export function splitAt(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const at of cuts) {
    parts.push(bytes.subarray(from, at));
    from = at;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

/**
 * The frames with each run of DATA pieces rejoined: consecutive DATA frames of one channel whose
 * offsets continue each other become one. The decoder returns a DATA frame that spans chunks in
 * pieces, so frame lists are compared in this form.
 */
export function joinDataPieces(frames: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const frame of frames) {
    const last = out.at(-1);
    if (
      frame.kind === "data" &&
      last?.kind === "data" &&
      last.channel === frame.channel &&
      last.offset + last.data.length === frame.offset
    ) {
      out[out.length - 1] = { ...last, data: concatBytes([last.data, frame.data]) };
    } else {
      out.push(frame);
    }
  }
  return out;
}
