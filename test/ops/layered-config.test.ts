/** Reading the config file again on SIGHUP: what changes, what stays, and nothing on an error. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { addLayeredConfig, ConfigError, rereadConfigFile } from "../../src/cli/layered-config.js";
import { collect } from "../../src/cli/options.js";

function command(): Command {
  const cmd = new Command("serve")
    .exitOverride()
    .option("--target <spec>", "repeatable", collect, [])
    .option("--buffer <size>", "a size", "4MiB")
    .option("--window <size>", "a size", "1MiB")
    .option("--admin-socket <path>", "a path")
    .option("--no-admin-socket", "none");
  addLayeredConfig(cmd, "serve");
  return cmd.action(() => undefined);
}

test("a reload takes the file's new values, returns dropped keys to their defaults, and leaves the command line's alone", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "serve.yaml");
  writeFileSync(file, "target: [a=127.0.0.1:1]\nbuffer: 8MiB\nwindow: 2MiB\n");
  const cmd = command();
  await cmd.parseAsync(["--config", file, "--window", "3MiB"], { from: "user" });
  assert.deepEqual(cmd.opts(), {
    target: ["a=127.0.0.1:1"],
    buffer: "8MiB",
    window: "3MiB",
    config: file,
  });

  writeFileSync(file, "target: [b=127.0.0.1:2, c=127.0.0.1:3]\nwindow: 5MiB\n");
  const reread = rereadConfigFile(cmd, "serve");
  assert.deepEqual(reread.changed.sort(), ["buffer", "target"]);
  assert.deepEqual(cmd.opts().target, ["b=127.0.0.1:2", "c=127.0.0.1:3"]);
  assert.equal(cmd.opts().buffer, "4MiB", "no longer in the file: the default");
  assert.equal(cmd.getOptionValueSource("buffer"), "default");
  assert.equal(cmd.opts().window, "3MiB", "the command line's value stays");

  reread.restore(["buffer"]);
  assert.equal(cmd.opts().buffer, "8MiB");
  assert.equal(cmd.getOptionValueSource("buffer"), "config");
  assert.deepEqual(cmd.opts().target, ["b=127.0.0.1:2", "c=127.0.0.1:3"], "only the keys named");

  writeFileSync(file, "target: [d=127.0.0.1:4]\nbogus: 1\n");
  // As values: a setting never given reads back as undefined, whether or not its key exists.
  const values = (): unknown => JSON.parse(JSON.stringify(cmd.opts()));
  const before = values();
  assert.throws(() => rereadConfigFile(cmd, "serve"), ConfigError);
  assert.deepEqual(values(), before, "a refused file changes nothing");
});

test("a switched-off setting reads back as such, and an empty list is refused rather than taken as the default", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "serve.yaml");
  writeFileSync(file, "admin-socket: no\n");
  const cmd = command();
  await cmd.parseAsync(["--config", file], { from: "user" });
  assert.equal(cmd.opts().adminSocket, false);
  assert.deepEqual(rereadConfigFile(cmd, "serve").changed, [], "the same file changes nothing");

  writeFileSync(file, "admin-socket: /run/a.sock\n");
  assert.deepEqual(rereadConfigFile(cmd, "serve").changed, ["admin-socket"]);
  assert.equal(cmd.opts().adminSocket, "/run/a.sock");

  for (const empty of ["target: []\n", "target: {}\n"]) {
    writeFileSync(file, empty);
    assert.throws(() => rereadConfigFile(cmd, "serve"), /target: an empty list/);
  }
});
