/** The `lifeline` command runs with the Node flags of its first line, however it is started. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { BIN, lifelineArgs, nodeFlags } from "../../src/cli/command.js";

test("the script's first line gives Node the old-generation floor, and Node accepts every flag", () => {
  assert.ok(nodeFlags().includes("--initial-old-space-size=64"), `flags: ${nodeFlags().join(" ")}`);
  execFileSync(process.execPath, [...nodeFlags(), "-e", "0"]);
});

test("run directly (as npx, npm start and systemd do), the script starts through its first line", () => {
  assert.match(execFileSync(BIN, ["--version"]).toString(), /^\d+\.\d+\.\d+/);
});

test("processes lifeline spawns itself get the same flags before the script", () => {
  assert.deepEqual(lifelineArgs(["serve"]), [...nodeFlags(), BIN, "serve"]);
});
