/** Golden vectors: the encoder produces exactly these bytes and the decoder reads them back. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  fromHex,
  toHex,
  type Frame,
} from "../../src/core/index.js";
import { expectLifelineError } from "../support/errors.js";

interface Vectors {
  preamble: string;
  frames: { name: string; frame: Record<string, unknown>; hex: string }[];
  skipped: { name: string; hex: string; frames: Record<string, unknown>[] }[];
  invalid: { name: string; hex: string; preamble?: boolean; code: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/vectors/frames.json", import.meta.url), "utf8"),
) as Vectors;

const BYTE_FIELDS = new Set(["authData", "sessionId", "resumeSecret", "data"]);

function toFrame(json: Record<string, unknown>): Frame {
  return Object.fromEntries(
    Object.entries(json).map(([k, v]) => [k, BYTE_FIELDS.has(k) ? fromHex(v as string) : v]),
  ) as unknown as Frame;
}

test("the preamble is ASCII LIFELINE then version 1", () => {
  assert.equal(toHex(encodePreamble(1)), vectors.preamble);
  const decoder = new FrameDecoder({ expectPreamble: true });
  assert.deepEqual(decoder.push(fromHex(vectors.preamble)), []);
  assert.equal(decoder.peerVersion, 1);
});

test("every frame type has a golden vector", () => {
  const kinds = new Set(vectors.frames.map((v) => v.frame.kind));
  for (const kind of [
    "hello",
    "welcome",
    "resume",
    "resumed",
    "open",
    "opened",
    "data",
    "eof",
    "reset",
    "ack",
    "ping",
    "pong",
    "goaway",
    "close",
  ]) {
    assert.ok(kinds.has(kind), `vector for ${kind}`);
  }
});

for (const v of vectors.frames) {
  test(`vector: ${v.name}`, () => {
    const frame = toFrame(v.frame);
    assert.equal(toHex(encodeFrameBytes(frame)), v.hex, "encodes to the golden bytes");
    assert.deepEqual(new FrameDecoder().push(fromHex(v.hex)), [frame], "decodes to the frame");
  });
}

for (const v of vectors.skipped) {
  test(`vector: ${v.name}`, () => {
    assert.deepEqual(new FrameDecoder().push(fromHex(v.hex)), v.frames.map(toFrame));
  });
}

for (const v of vectors.invalid) {
  test(`invalid vector: ${v.name} → ${v.code}`, () => {
    const decoder = new FrameDecoder({ expectPreamble: v.preamble === true });
    expectLifelineError(() => decoder.push(fromHex(v.hex)), v.code);
    expectLifelineError(() => decoder.push(fromHex("00")), v.code, "a failed decoder stays failed");
  });
}
