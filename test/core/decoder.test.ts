/** The incremental decoder: any chunking gives the same frames (DATA perhaps in pieces); limits hold before buffering. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  fromHex,
  MAX_FRAME_PAYLOAD,
  type Frame,
} from "../../src/core/index.js";
import { frameArbitrary, joinDataPieces, splitAt } from "../support/arbitraries.js";
import { expectLifelineError } from "../support/errors.js";
import { propertyRuns, propertySeed } from "../support/property.js";

const sample: Frame[] = [
  { kind: "ping", timestamp: 42 },
  { kind: "open", channel: 1, target: "default" },
  { kind: "data", channel: 1, offset: 0, data: new Uint8Array(5000).fill(7) },
  { kind: "ack", channel: 1, received: 5000, windowLimit: 1 << 20 },
  { kind: "eof", channel: 1, offset: 5000 },
  { kind: "close", code: 0, reason: "bye ✓" },
];
const stream = concatBytes([encodePreamble(1), ...sample.map(encodeFrameBytes)]);

test("one byte at a time yields the same frames as one chunk", () => {
  const decoder = new FrameDecoder({ expectPreamble: true });
  const frames: Frame[] = [];
  for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
  assert.deepEqual(joinDataPieces(frames), sample);
  assert.ok(decoder.idle);
});

test("many frames in one chunk all come out, in order", () => {
  assert.deepEqual(new FrameDecoder({ expectPreamble: true }).push(stream), sample);
});

test("random chunk boundaries never change the frames (property)", () => {
  fc.assert(
    fc.property(
      fc.array(frameArbitrary, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (frames, cuts) => {
        const bytes = concatBytes(frames.map(encodeFrameBytes));
        const decoder = new FrameDecoder();
        const out: Frame[] = [];
        for (const part of splitAt(bytes, cuts)) out.push(...decoder.push(part));
        assert.deepEqual(joinDataPieces(out), joinDataPieces(frames));
        assert.ok(decoder.idle);
      },
    ),
    { seed: propertySeed(), numRuns: propertyRuns(300) },
  );
});

test("a payload wholly inside one chunk is returned as a view, not a copy", () => {
  const bytes = encodeFrameBytes({ kind: "data", channel: 1, offset: 0, data: new Uint8Array(1000).fill(1) });
  const [frame] = new FrameDecoder().push(bytes);
  assert.equal(frame?.kind, "data");
  assert.equal((frame as { data: Uint8Array }).data.buffer, bytes.buffer);
});

test("a DATA frame spanning chunks comes out in pieces that view the chunks, offsets continuing", () => {
  const data = new Uint8Array(40_000).map((_, i) => i % 251);
  const bytes = encodeFrameBytes({ kind: "data", channel: 3, offset: 1000, data });
  // Cut inside the offset field, then twice inside the stream bytes.
  const chunks = splitAt(bytes, [13, 20_000, 30_000]).map((part) => part.slice());
  const decoder = new FrameDecoder();
  const pieces = chunks.flatMap((chunk) => decoder.push(chunk));
  assert.deepEqual(
    pieces.map((f) => f.kind === "data" && [f.offset, f.data.length]),
    [
      [1000, 20_000 - 17],
      [1000 + 20_000 - 17, 10_000],
      [1000 + 30_000 - 17, bytes.length - 30_000],
    ],
  );
  pieces.forEach((f, i) => assert.equal((f as { data: Uint8Array }).data.buffer, chunks[i + 1]?.buffer));
  assert.deepEqual(joinDataPieces(pieces), [{ kind: "data", channel: 3, offset: 1000, data }]);
  assert.ok(decoder.idle);
});

test("a DATA frame spanning chunks is still checked: channel 0, no stream bytes, an offset over 2^53", () => {
  expectLifelineError(() => new FrameDecoder().push(fromHex("12 00000000 00000100 00")), "FRAME_MALFORMED");
  expectLifelineError(() => new FrameDecoder().push(fromHex("12 00000001 00000008 00")), "FRAME_MALFORMED");
  const decoder = new FrameDecoder();
  decoder.push(fromHex("12 00000001 00000100 ffff"));
  expectLifelineError(() => decoder.push(fromHex("ffffffffffff 00")), "FRAME_MALFORMED");
});

test("an oversized length is refused from the header alone, before any payload is buffered", () => {
  // Only the 9 header bytes are supplied: the decoder must decide without waiting for (or reserving) 4 GiB.
  expectLifelineError(() => new FrameDecoder().push(fromHex("12 00000001 ffffffff")), "FRAME_TOO_LARGE");
  expectLifelineError(() => new FrameDecoder().push(fromHex("12 00000001 00010009")), "FRAME_TOO_LARGE");
  // A stricter local limit is honoured the same way.
  expectLifelineError(
    () => new FrameDecoder({ maxPayload: 100 }).push(fromHex("12 00000001 00000065")),
    "FRAME_TOO_LARGE",
  );
  // The largest legal payload is accepted.
  const largest = new Uint8Array(9 + MAX_FRAME_PAYLOAD);
  largest.set(fromHex("12 00000001 00010008"));
  assert.equal(new FrameDecoder().push(largest).length, 1);
});

test("a header split across chunks is checked once it is complete", () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(fromHex("12 0000")), []);
  expectLifelineError(() => decoder.push(fromHex("0001 ffffffff")), "FRAME_TOO_LARGE");
});

test("the magic is checked byte by byte: a wrong first byte fails at once", () => {
  const decoder = new FrameDecoder({ expectPreamble: true });
  expectLifelineError(() => decoder.push(fromHex("16")), "BAD_MAGIC"); // a TLS ClientHello's first byte
  const partial = new FrameDecoder({ expectPreamble: true });
  assert.deepEqual(partial.push(fromHex("4c4946")), []);
  assert.equal(partial.peerVersion, undefined);
});
