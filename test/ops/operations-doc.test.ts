/**
 * docs/OPERATIONS.md and deploy/ match the code: every flag of `serve` and `connect` (and, in
 * docs/TERMINAL.md, of `host`) has a row in its settings table (with the default the code uses), every event code and every metric has a
 * row, no row names something the code lacks, the systemd units only use flags that exist, and the
 * shipped configurations pass `--check-config`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Command, Option } from "commander";
import { connectCommand } from "../../src/cli/connect.js";
import { hostCommand } from "../../src/cli/host.js";
import { serveCommand } from "../../src/cli/serve.js";
import { formatHostPort, type HostPort } from "../../src/ops/address.js";
import { EVENT_CODES, EventLog } from "../../src/ops/log.js";
import { LifelineMetrics } from "../../src/ops/metrics.js";
import { SessionTable } from "../../src/ops/session-table.js";
import { runLifeline, stateDir } from "../support/procs.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const doc = read("docs/OPERATIONS.md");

/** The lines of the section under `heading` (a whole heading line), up to the next heading. */
function section(heading: string, file = "docs/OPERATIONS.md"): string[] {
  const lines = (file === "docs/OPERATIONS.md" ? doc : read(file)).split("\n");
  const start = lines.indexOf(heading);
  assert.notEqual(start, -1, `${file} has the heading "${heading}"`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith("#"));
  return end === -1 ? rest : rest.slice(0, end);
}

/** Table rows of `lines` whose first cell is a code span: that name → the row's cells. */
function rows(lines: string[]): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const line of lines) {
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? "")?.[1];
    if (!name) continue;
    assert.ok(!table.has(name), `${name} has one row, not several`);
    table.set(name, cells);
  }
  return table;
}

/** The long flags of a command, without help and version. */
function longFlags(command: Command): Option[] {
  return command.options.filter(
    (option) => option.long !== undefined && !["--help", "--version"].includes(option.long),
  );
}

/** The default a settings table must show, as the code has it, or undefined when it varies by machine. */
function expectedDefault(option: Option): string | undefined {
  const described = option.defaultValueDescription;
  if (described !== undefined) return described.includes("<") ? undefined : described;
  const value: unknown = option.defaultValue;
  if (typeof value === "number") return String(value);
  // An absolute path (the state directory) depends on the user and the environment.
  if (typeof value === "string") return value.startsWith("/") ? undefined : value;
  if (typeof value === "object" && value !== null && "host" in value)
    return formatHostPort(value as HostPort);
  return undefined;
}

for (const [role, build, file, heading, least] of [
  ["serve", serveCommand, "docs/OPERATIONS.md", "### Settings of `lifeline serve`", 15],
  ["connect", connectCommand, "docs/OPERATIONS.md", "### Settings of `lifeline connect`", 15],
  ["host", hostCommand, "docs/TERMINAL.md", "## Settings of `lifeline host`", 10],
] as const) {
  test(`every flag of lifeline ${role} has a row, with the code's default, in its settings table`, () => {
    const table = rows(section(heading, file));
    const flags = longFlags(build());
    assert.ok(flags.length >= least, `${role} has its flags (${flags.length})`);
    for (const option of flags) {
      const long = option.long as string;
      const row = table.get(long);
      assert.ok(row, `${long} has a row in the settings of lifeline ${role}`);
      const wanted = expectedDefault(option);
      if (wanted !== undefined)
        assert.ok(
          (row[1] ?? "").includes(`\`${wanted}\``),
          `${long}: the default column says \`${wanted}\`, as the code does (it says: ${row[1]})`,
        );
    }
    const known = new Set(flags.map((option) => option.long));
    for (const name of table.keys()) assert.ok(known.has(name), `${name} is a flag of lifeline ${role}`);
  });
}

test("every flag in the ExecStart of the shipped units exists on the command it runs", () => {
  for (const [unit, build] of [
    ["deploy/lifeline-serve.service", serveCommand],
    ["deploy/lifeline-connect@.service", connectCommand],
  ] as const) {
    const args = execStart(unit);
    const command = build();
    assert.equal(args[0], "/usr/bin/lifeline", `${unit} runs /usr/bin/lifeline`);
    assert.equal(args[1], command.name(), `${unit} runs lifeline ${command.name()}`);
    const flags = args.filter((arg) => arg.startsWith("--"));
    assert.ok(flags.length >= 2, `${unit} gives flags`);
    const known = new Set(longFlags(command).map((option) => option.long));
    for (const flag of flags) assert.ok(known.has(flag), `${unit}: ${flag} is a flag of ${command.name()}`);
  }
});

test("every event code has a row in the table of events", () => {
  const table = rows(section("## What each event means and what to do"));
  for (const code of EVENT_CODES) assert.ok(table.has(code), `${code} has a row`);
  const known = new Set<string>(EVENT_CODES);
  for (const name of table.keys()) assert.ok(known.has(name), `${name} is an event code`);
});

test("every lifeline_* metric has a row in the table of metrics", async () => {
  const names = new Set<string>();
  for (const role of ["serve", "connect"] as const) {
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    const metrics = new LifelineMetrics(
      role,
      "0.0.0",
      new SessionTable(() => 0),
      new EventLog(role, "silent", discard),
      {
        healthy: () => true,
        ...(role === "serve"
          ? { globalBuffer: () => ({ used: 0, limit: 1 }), certificateExpiry: () => 2e9 }
          : {}),
      },
    );
    for (const metric of await metrics.registry.getMetricsAsJSON())
      if (metric.name.startsWith("lifeline_")) names.add(metric.name);
  }
  assert.ok(names.size >= 20, `the metrics are registered (${names.size})`);
  const table = rows(section("### Metrics"));
  for (const name of names) assert.ok(table.has(name), `${name} has a row`);
  for (const name of table.keys()) assert.ok(names.has(name), `${name} is a registered metric`);
});

test("deploy/serve.yaml passes lifeline serve --check-config", async (t) => {
  const dir = stateDir(t);
  const result = await runLifeline(t, [
    "serve",
    "--config",
    join(ROOT, "deploy/serve.yaml"),
    "--check-config",
    "--state-dir",
    dir,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^configuration OK\n/);
  assert.match(result.stdout, /^ {2}target +default=127\.0\.0\.1:1494 {2}\(config\)$/m, "the file was read");
});

test("the serve unit's command line, with deploy/serve.yaml as its config, passes --check-config", async (t) => {
  const dir = stateDir(t);
  const args = execStart("deploy/lifeline-serve.service")
    .slice(1)
    .map((arg) =>
      arg === "/etc/lifeline/serve.yaml"
        ? join(ROOT, "deploy/serve.yaml")
        : arg === "/var/lib/lifeline"
          ? dir
          : arg,
    );
  assert.deepEqual(args.slice(0, 1), ["serve"]);
  const result = await runLifeline(t, [...args, "--check-config"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^ {2}state-dir +${dir}  \\(cli\\)$`, "m"));
});

test("deploy/connect.yaml passes lifeline connect --check-config", async (t) => {
  const dir = stateDir(t);
  const result = await runLifeline(
    t,
    ["connect", "--config", join(ROOT, "deploy/connect.yaml"), "--check-config", "--state-dir", dir],
    { env: { LIFELINE_TOKEN: "a-token-for-the-check" } },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /^ {2}server +lifeline\.example\.org:2598 {2}\(config\)$/m,
    "the file was read",
  );
});

/** The words of a unit file's ExecStart= line (systemd's continuation lines joined). */
function execStart(unit: string): string[] {
  const text = read(unit).replace(/\\\n/g, " ");
  const lines = text.split("\n").filter((line) => /^ExecStart=./.test(line));
  assert.equal(lines.length, 1, `${unit} has one ExecStart=`);
  return (lines[0] as string).slice("ExecStart=".length).trim().split(/\s+/);
}
