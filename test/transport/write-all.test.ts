/** writeAll: a transmit leaves as one write, small ones copied together, large ones corked. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { COALESCE_BELOW, writeAll } from "../../src/transport/write-all.js";

/** A stream that records each write (one entry per _write or _writev call) and its chunks. */
function recorder(): { stream: Writable; writes: Buffer[][] } {
  const writes: Buffer[][] = [];
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => c.chunk as Buffer));
      done();
    },
  });
  return { stream, writes };
}

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

test("a small transmit is one Buffer holding exactly its chunks, in order", () => {
  const { stream, writes } = recorder();
  const chunks = [bytes(9, 1), bytes(64, 2), bytes(17, 3)];
  assert.equal(writeAll(stream, chunks), true);
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.length, 1);
  assert.ok(Buffer.isBuffer(writes[0]![0]));
  assert.deepEqual(writes[0]![0], Buffer.concat(chunks));
});

test("a large transmit is written corked, chunk by chunk, without a copy", () => {
  const { stream, writes } = recorder();
  const chunks = [bytes(9, 1), bytes(COALESCE_BELOW, 2)];
  writeAll(stream, chunks);
  assert.equal(writes.length, 1, "one vectored write");
  assert.deepEqual(
    writes[0]!.map((c) => c.length),
    [9, COALESCE_BELOW],
  );
  assert.equal(writes[0]![1]!.buffer, chunks[1]!.buffer, "the payload is the caller's memory");
});

test("false when the stream wants drain", () => {
  const stream = new Writable({ highWaterMark: 4, write: (_c, _e, done) => setImmediate(done) });
  assert.equal(writeAll(stream, [bytes(9, 1)]), false);
});
