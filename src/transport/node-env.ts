/** The real clock and random source for the core, in Node. */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { SessionEnv } from "../core/index.js";

export const nodeEnv: SessionEnv = {
  // Whole milliseconds on a monotonic clock: wall-clock jumps (NTP, sleep) must not fake an outage.
  now: () => Math.floor(performance.now()),
  randomBytes: (size) => randomBytes(size),
};
