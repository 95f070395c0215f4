/** The `lifeline` command runs with the Node flags of its first line, however it is started. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { BIN, lifelineArgs, nodeFlags } from "../../src/cli/command.js";

test("the script's first line gives Node the old-generation floor, and Node accepts every flag", () => {
  assert.ok(nodeFlags().includes("--initial-old-space-size=64"), `flags: ${nodeFlags().join(" ")}`);
  execFileSync(process.execPath, [...nodeFlags(), "-e", "0"]);
});

test("the script's first line caps the young generation at 8 MiB, however much short-lived data passes", () => {
  // A sliding window of live objects, as a server's handshakes in a reconnect storm: V8 grows the young
  // generation to its ceiling (32 MiB without the flag) and keeps it.
  const script = `
    const keep = new Array(20000);
    for (let i = 0; i < 3000000; i++) keep[i % keep.length] = { i, s: "x" + i };
    const young = require("v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    console.log(young.space_size);`;
  const bytes = Number(execFileSync(process.execPath, [...nodeFlags(), "-e", script]).toString());
  assert.ok(bytes <= 8 * 2 ** 20, `young generation ${bytes / 2 ** 20} MiB`);
});

test("run directly (as npx, npm start and systemd do), the script starts through its first line", () => {
  assert.match(execFileSync(BIN, ["--version"]).toString(), /^\d+\.\d+\.\d+/);
});

test("processes lifeline spawns itself get the same flags before the script", () => {
  assert.deepEqual(lifelineArgs(["serve"]), [...nodeFlags(), BIN, "serve"]);
});
