/**
 * The `lifeline` command as a shell runs it: the script, and the Node flags its first line
 * (`#!/usr/bin/env -S node …`) gives Node. Whatever spawns lifeline itself (the demo, tests,
 * benchmarks) runs it the same way, so that it measures and tests what users run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../../bin/lifeline.js", import.meta.url));

/** The Node flags of the script's first line, e.g. ["--initial-old-space-size=64"]. */
export const NODE_FLAGS: readonly string[] = (() => {
  const first = readFileSync(BIN, "utf8").split("\n", 1)[0] ?? "";
  const words = first.split(/\s+/);
  return words.slice(words.indexOf("node") + 1);
})();

/** Arguments for `spawn(process.execPath, …)` that run `lifeline <args>`. */
export function lifelineArgs(args: readonly string[]): string[] {
  return [...NODE_FLAGS, BIN, ...args];
}
