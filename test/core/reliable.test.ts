/** The two halves of a reliable direction, tested directly and against a simple model. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Receiver, SendBuffer } from "../../src/core/index.js";
import { expectLifelineError } from "../support/errors.js";
import { propertyRuns, propertySeed } from "../support/property.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

test("the receiver delivers only what is new: overlaps are trimmed, duplicates dropped", () => {
  const r = new Receiver(100);
  assert.deepEqual(r.acceptData(1, 0, bytes(1, 2, 3)), bytes(1, 2, 3));
  assert.deepEqual(r.acceptData(1, 1, bytes(2, 3, 4, 5)), bytes(4, 5), "overlap: only the suffix");
  assert.deepEqual(r.acceptData(1, 0, bytes(1, 2)), bytes(), "duplicate: nothing");
  assert.equal(r.received, 5);
});

test("the receiver refuses gaps, data past EOF, a moved EOF and window violations", () => {
  const r = new Receiver(4);
  expectLifelineError(() => r.acceptData(1, 1, bytes(9)), "PROTOCOL_ERROR");
  expectLifelineError(() => r.acceptData(1, 0, bytes(1, 2, 3, 4, 5)), "FLOW_CONTROL_ERROR");
  r.acceptData(1, 0, bytes(1, 2, 3, 4));
  expectLifelineError(() => r.acceptEof(1, 3), "PROTOCOL_ERROR");
  assert.equal(r.acceptEof(1, 4), true);
  assert.equal(r.acceptEof(1, 4), false, "a replayed EOF is not new");
  assert.equal(r.received, 5, "EOF occupies one offset");
  expectLifelineError(() => r.acceptEof(1, 5), "PROTOCOL_ERROR");
  expectLifelineError(() => r.acceptData(1, 4, bytes(1)), "PROTOCOL_ERROR");
});

test("consuming opens the window by exactly what was consumed", () => {
  const r = new Receiver(4);
  r.acceptData(1, 0, bytes(1, 2, 3, 4));
  assert.equal(r.windowLimit, 4);
  r.consume(3);
  assert.equal(r.windowLimit, 7);
  assert.equal(r.unconsumed, 1);
  expectLifelineError(() => r.consume(2), "INTERNAL_ERROR");
});

type Op =
  { op: "append"; size: number } | { op: "ack"; at: number } | { op: "read"; at: number; max: number };

test("the send buffer matches a plain array model under random appends, acks and reads (property)", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record(
      {
        op: fc.constant("append" as const),
        size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1000, max: 5000 })),
      },
      { noNullPrototype: true },
    ),
    fc.record({ op: fc.constant("ack" as const), at: fc.nat() }, { noNullPrototype: true }),
    fc.record(
      { op: fc.constant("read" as const), at: fc.nat(), max: fc.integer({ min: 1, max: 70_000 }) },
      { noNullPrototype: true },
    ),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const buffer = new SendBuffer();
      const model: number[] = [];
      let acked = 0;
      let next = 0;
      for (const o of ops) {
        if (o.op === "append") {
          const chunk = new Uint8Array(o.size);
          for (let i = 0; i < o.size; i++) chunk[i] = (next + i) % 251;
          next += o.size;
          buffer.append(chunk);
          model.push(...chunk);
        } else if (o.op === "ack") {
          const at = acked + (o.at % (model.length - acked + 1));
          assert.equal(buffer.ack(at), at - acked);
          acked = at;
        } else if (model.length > acked) {
          const from = acked + (o.at % (model.length - acked));
          const got = buffer.read(from, o.max);
          assert.ok(got.length >= 1 && got.length <= o.max);
          assert.deepEqual([...got], model.slice(from, from + got.length));
        }
        assert.equal(buffer.buffered, model.length - acked);
        assert.equal(buffer.written, model.length);
      }
    }),
    { seed: propertySeed(), numRuns: propertyRuns(500) },
  );
});

test("a replay of many tiny writes comes back in few, large reads", () => {
  const buffer = new SendBuffer();
  for (let i = 0; i < 5000; i++) buffer.append(bytes(i & 0xff));
  // The writes filled packing blocks of 1, 2 and 4 KiB: one read each.
  const reads: number[] = [];
  for (let at = 0; at < 5000; at += reads.at(-1) as number) reads.push(buffer.read(at, 65_528).length);
  assert.deepEqual(reads, [1024, 2048, 1928]);
  assert.deepEqual([...buffer.read(0, 3)], [0, 1, 2]);
  assert.deepEqual([...buffer.read(4999, 1)], [4999 & 0xff]);
});

test("small writes on either side of a large one share one packing block", () => {
  const buffer = new SendBuffer();
  buffer.append(bytes(1));
  buffer.append(new Uint8Array(2000));
  buffer.append(bytes(2));
  assert.equal(buffer.read(0, 1).buffer, buffer.read(2001, 1).buffer);
  assert.deepEqual([...buffer.read(2001, 1)], [2]);
});

test("once all is acknowledged, a channel at rest keeps at most a 1 KiB packing block", () => {
  const buffer = new SendBuffer();
  // A burst of small writes grows the packing blocks (1, 2, 4, 8, then 16 KiB).
  for (let i = 0; i < 40; i++) buffer.append(new Uint8Array(1000));
  assert.equal(buffer.read(buffer.written - 1, 1).buffer.byteLength, 16384);
  buffer.ack(buffer.written);
  buffer.append(bytes(7));
  assert.equal(buffer.read(buffer.written - 1, 1).buffer.byteLength, 1024);
});

test("typing, one acknowledged keystroke or echoed line after another, reuses one small block", () => {
  const buffer = new SendBuffer();
  buffer.append(bytes(0));
  const block = buffer.read(0, 1).buffer;
  // 5,000 keystrokes and 5,000 lines of 64 bytes: many times the block's 1 KiB in all.
  for (let i = 1; i < 10_000; i++) {
    buffer.ack(buffer.written);
    const write = i < 5000 ? bytes(i & 0xff) : new Uint8Array(64).fill(i & 0xff);
    buffer.append(write);
    const last = buffer.read(buffer.written - write.length, write.length);
    assert.equal(last.buffer, block, `write ${i}`);
    assert.deepEqual([...last], [...write], `write ${i} reads back`);
  }
});
