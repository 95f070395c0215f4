import assert from "node:assert/strict";
import { isLifelineError } from "../../src/core/index.js";

/** Asserts that `fn` throws lifeline's own error with `code`. */
export function expectLifelineError(fn: () => unknown, code: string, message?: string): void {
  assert.throws(fn, (err: unknown) => isLifelineError(err) && err.code === code, message ?? `throws ${code}`);
}
