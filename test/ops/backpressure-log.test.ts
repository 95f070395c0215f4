/** Backpressure lines: at info when the buffer fills during an outage, at debug during ordinary flow control. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { BackpressureLog } from "../../src/ops/backpressure-log.js";
import { EventLog } from "../../src/ops/log.js";

function capture() {
  const out = new PassThrough();
  const lines: { event: string; level: number }[] = [];
  out.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
  });
  const log = new EventLog("connect", "info", out);
  const seen: string[] = [];
  log.observe((event) => seen.push(event));
  const backpressure = new BackpressureLog(log, { full: "full", released: "released" });
  return { backpressure, lines, seen };
}

test("flow control while the link is up is not logged at info, but every flip is observed (metrics)", async () => {
  const { backpressure, lines, seen } = capture();
  for (let i = 0; i < 100; i++) {
    backpressure.changed(1, true, true, { channel: 1 });
    backpressure.changed(1, false, true, { channel: 1 });
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(lines, []);
  assert.equal(seen.filter((e) => e === "buffer.full").length, 100);
});

test("a buffer that fills during an outage is logged at info, and so is its release after the resume", async () => {
  const { backpressure, lines } = capture();
  backpressure.changed(1, true, false, { channel: 1 });
  backpressure.changed(2, true, true, { channel: 2 });
  backpressure.changed(2, false, true, { channel: 2 });
  backpressure.changed(1, false, true, { channel: 1 });
  backpressure.changed(1, true, true, { channel: 1 });
  backpressure.changed(1, false, true, { channel: 1 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => [l.event, l.level]),
    [
      ["buffer.full", 30],
      ["buffer.released", 30],
    ],
  );
});
