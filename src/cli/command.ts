/**
 * The `lifeline` command as a shell runs it: the script, and the Node flags its first line
 * (`#!/usr/bin/env -S node …`) gives Node. Whatever spawns lifeline itself (the demo, tests,
 * benchmarks) runs it the same way, so that it measures and tests what users run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../../bin/lifeline.js", import.meta.url));

let flags: readonly string[] | undefined;

/**
 * The Node flags of the script's first line, e.g. ["--initial-old-space-size=64"]. Read when first
 * needed, not at import: every `lifeline` start imports this module, few spawn lifeline.
 */
export function nodeFlags(): readonly string[] {
  if (!flags) {
    const words = (readFileSync(BIN, "utf8").split("\n", 1)[0] ?? "").split(/\s+/);
    flags = words.slice(words.indexOf("node") + 1);
  }
  return flags;
}

/** Arguments for `spawn(process.execPath, …)` that run `lifeline <args>`. */
export function lifelineArgs(args: readonly string[]): string[] {
  return [...nodeFlags(), BIN, ...args];
}
