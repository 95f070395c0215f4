/** The scrollback ring buffer: keeps exactly the last `capacity` bytes, whatever the writes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RingBuffer } from "../../src/terminal/ring-buffer.js";
import { propertyRuns, propertySeed } from "../support/property.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

test("keeps everything while there is room", () => {
  const ring = new RingBuffer(10);
  assert.equal(ring.length, 0);
  assert.deepEqual(ring.contents(), new Uint8Array(0));
  ring.push(bytes("abc"));
  ring.push(bytes("defg"));
  assert.equal(text(ring.contents()), "abcdefg");
  assert.equal(ring.length, 7);
  assert.equal(ring.dropped, 0);
});

test("drops the oldest bytes first, across the wrap", () => {
  const ring = new RingBuffer(5);
  ring.push(bytes("abcd"));
  ring.push(bytes("efg"));
  assert.equal(text(ring.contents()), "cdefg");
  assert.equal(ring.dropped, 2);
  ring.push(bytes("h"));
  assert.equal(text(ring.contents()), "defgh");
  ring.push(bytes("ijklm"));
  assert.equal(text(ring.contents()), "ijklm");
  assert.equal(ring.dropped, 8);
});

test("a write larger than the capacity keeps only its end", () => {
  const ring = new RingBuffer(4);
  ring.push(bytes("xy"));
  ring.push(bytes("0123456789"));
  assert.equal(text(ring.contents()), "6789");
  assert.equal(ring.dropped, 8);
  assert.equal(ring.length, 4);
});

test("slice addresses bytes by their offset in everything written", () => {
  const ring = new RingBuffer(5);
  ring.push(bytes("abcdefg")); // keeps "cdefg", offsets 2 to 6
  assert.equal(ring.total, 7);
  assert.equal(text(ring.slice(3, 5)), "de");
  assert.equal(text(ring.slice(0, 4)), "cd", "dropped offsets are left out");
  assert.equal(text(ring.slice(5, 100)), "fg");
  assert.equal(text(ring.slice(7, 9)), "");
  assert.equal(text(ring.slice(4, 4)), "");
  ring.push(bytes("hi")); // keeps "efghi", across the wrap
  assert.equal(text(ring.slice(5, 9)), "fghi");
});

test("empty writes change nothing; contents() is a copy", () => {
  const ring = new RingBuffer(3);
  ring.push(bytes("ab"));
  ring.push(new Uint8Array(0));
  const copy = ring.contents();
  copy[0] = 0x7a;
  assert.equal(text(ring.contents()), "ab");
});

test("refuses a capacity that is not a whole number above zero", () => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new RingBuffer(capacity), RangeError);
});

test("always holds the last `capacity` bytes written (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 30 }),
      (capacity, writes) => {
        const ring = new RingBuffer(capacity);
        const all: number[] = [];
        for (const write of writes) {
          ring.push(write);
          all.push(...write);
        }
        const expected = all.slice(Math.max(0, all.length - capacity));
        assert.deepEqual([...ring.contents()], expected);
        assert.equal(ring.length, expected.length);
        assert.equal(ring.dropped, all.length - expected.length);
        assert.equal(ring.total, all.length);
        const from = Math.floor(all.length / 3);
        const to = Math.floor((all.length * 3) / 4);
        const kept = all.length - expected.length;
        assert.deepEqual([...ring.slice(from, to)], all.slice(Math.max(from, kept), Math.max(to, kept)));
      },
    ),
    { seed: propertySeed(), numRuns: propertyRuns(500) },
  );
});
