import { test } from "node:test";
import assert from "node:assert/strict";
import { Admission } from "../../src/server/admission.js";

/** Items named "<source>:<n>", so that a test reads which source each one came from. */
const sourceOf = (item: string): string => item.split(":")[0] as string;

function admission(concurrent: number, concurrentPerSource: number, now: () => number = () => 0) {
  const a = new Admission<string>({ concurrent, concurrentPerSource, maxWaitMs: 5000 }, now);
  return {
    arrive: (item: string): boolean => a.arrive(item, sourceOf(item)),
    finish: (item: string): { next: string | undefined; expired: string[] } => a.finish(sourceOf(item)),
    leave: (item: string): void => a.leave(item),
    clear: (): string[] => a.clear(),
    get waitingCount(): number {
      return a.waitingCount;
    },
  };
}

test("admission: a few handshakes at once, the others wait their turn in arrival order", () => {
  const queue = admission(2, 2);
  assert.equal(queue.arrive("x:a"), true);
  assert.equal(queue.arrive("x:b"), true);
  assert.equal(queue.arrive("x:c"), false);
  assert.equal(queue.arrive("x:d"), false);
  assert.equal(queue.waitingCount, 2);
  assert.deepEqual(queue.finish("x:a"), { next: "x:c", expired: [] });
  assert.deepEqual(queue.finish("x:b"), { next: "x:d", expired: [] });
  // Two still run (c and d); a new arrival waits, and goes first once one ends.
  assert.equal(queue.arrive("x:e"), false);
  assert.deepEqual(queue.finish("x:c"), { next: "x:e", expired: [] });
  assert.deepEqual(queue.finish("x:d"), { next: undefined, expired: [] });
  assert.deepEqual(queue.finish("x:e"), { next: undefined, expired: [] });
  assert.equal(queue.arrive("x:f"), true);
});

test("admission: a connection whose client gave up leaves the queue without taking a turn", () => {
  const queue = admission(1, 1);
  queue.arrive("x:a");
  queue.arrive("x:b");
  queue.arrive("x:c");
  queue.leave("x:b");
  assert.deepEqual(queue.finish("x:a"), { next: "x:c", expired: [] });
  assert.equal(queue.waitingCount, 0);
});

test("admission: a connection that waited too long is closed at its turn, and the next starts", () => {
  let now = 0;
  const queue = admission(1, 1, () => now);
  queue.arrive("x:a");
  queue.arrive("x:old");
  now = 3000;
  queue.arrive("x:young");
  now = 5001;
  assert.deepEqual(queue.finish("x:a"), { next: "x:young", expired: ["x:old"] });
  now = 20_000;
  queue.arrive("x:late");
  assert.deepEqual(queue.clear(), ["x:late"]);
  assert.deepEqual(queue.finish("x:young"), { next: undefined, expired: [] });
  assert.equal(queue.arrive("x:next"), true);
});

test("admission: one source takes at most its share of the places; others start beside it", () => {
  const queue = admission(4, 2);
  assert.equal(queue.arrive("bad:1"), true);
  assert.equal(queue.arrive("bad:2"), true);
  // The source's share is taken: its next ones wait although places are free...
  assert.equal(queue.arrive("bad:3"), false);
  assert.equal(queue.arrive("bad:4"), false);
  // ...and another source's connection starts at once, ahead of them.
  assert.equal(queue.arrive("good:1"), true);
  assert.equal(queue.arrive("good:2"), true);
  assert.equal(queue.arrive("good:3"), false);
  // A place of "good" frees: the first waiting connection that may start is good:3, not bad:3.
  assert.deepEqual(queue.finish("good:1"), { next: "good:3", expired: [] });
  // A place of "bad" frees: its own next one, in arrival order.
  assert.deepEqual(queue.finish("bad:1"), { next: "bad:3", expired: [] });
  assert.deepEqual(queue.finish("bad:2"), { next: "bad:4", expired: [] });
  assert.equal(queue.waitingCount, 0);
});

test("admission: connections passed over for their source's share still expire at a turn", () => {
  let now = 0;
  const queue = admission(2, 1, () => now);
  queue.arrive("bad:1");
  queue.arrive("bad:stale");
  queue.arrive("good:1");
  queue.arrive("good:2");
  now = 6000;
  assert.deepEqual(queue.finish("good:1"), { next: undefined, expired: ["bad:stale", "good:2"] });
  assert.equal(queue.waitingCount, 0);
});
