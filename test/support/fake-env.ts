/** A manual clock and a seeded random source for driving the sans-I/O core in tests. */
import type { SessionEnv } from "../../src/core/index.js";

export class FakeEnv implements SessionEnv {
  time = 1_000_000;
  private state: number;

  constructor(seed = 1) {
    this.state = seed >>> 0 || 1;
  }

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  /** xorshift32: deterministic, which is all a test needs from "random" secrets. */
  randomBytes(size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      let x = this.state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      out[i] = this.state & 0xff;
    }
    return out;
  }
}
