import { test } from "node:test";
import assert from "node:assert/strict";
import { Admission } from "../../src/server/admission.js";

test("admission: a few handshakes at once, the others wait their turn in arrival order", () => {
  const admission = new Admission<string>({ concurrent: 2, maxWaitMs: 10_000 }, () => 0);
  assert.equal(admission.arrive("a"), true);
  assert.equal(admission.arrive("b"), true);
  assert.equal(admission.arrive("c"), false);
  assert.equal(admission.arrive("d"), false);
  assert.equal(admission.waitingCount, 2);
  assert.deepEqual(admission.finish(), { next: "c", expired: [] });
  assert.deepEqual(admission.finish(), { next: "d", expired: [] });
  // Two still run (b and d's place); a new arrival waits, and goes first once one ends.
  assert.equal(admission.arrive("e"), false);
  assert.deepEqual(admission.finish(), { next: "e", expired: [] });
  assert.deepEqual(admission.finish(), { next: undefined, expired: [] });
  assert.deepEqual(admission.finish(), { next: undefined, expired: [] });
  assert.equal(admission.arrive("f"), true);
});

test("admission: a connection whose client gave up leaves the queue without taking a turn", () => {
  const admission = new Admission<string>({ concurrent: 1, maxWaitMs: 10_000 }, () => 0);
  admission.arrive("a");
  admission.arrive("b");
  admission.arrive("c");
  admission.leave("b");
  assert.deepEqual(admission.finish(), { next: "c", expired: [] });
  assert.equal(admission.waitingCount, 0);
});

test("admission: a connection that waited too long is closed at its turn, and the next starts", () => {
  let now = 0;
  const admission = new Admission<string>({ concurrent: 1, maxWaitMs: 5000 }, () => now);
  admission.arrive("a");
  admission.arrive("old");
  now = 3000;
  admission.arrive("young");
  now = 5001;
  assert.deepEqual(admission.finish(), { next: "young", expired: ["old"] });
  now = 20_000;
  admission.arrive("late");
  assert.deepEqual(admission.clear(), ["late"]);
  assert.deepEqual(admission.finish(), { next: undefined, expired: [] });
  assert.equal(admission.arrive("next"), true);
});
