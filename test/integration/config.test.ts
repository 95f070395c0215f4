/**
 * Acceptance (issue 4, point 4): a config file with an unknown key, a negative timeout or an
 * unreadable certificate path stops `lifeline serve` at start with a message that names the
 * problem, and no session is accepted. Also: one precedence order (flag, environment, file,
 * default), and `--check-config`.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLifeline, stateDir, type RunResult } from "../support/procs.js";

function configFile(t: TestContext, yaml: string): { dir: string; path: string } {
  const dir = stateDir(t);
  const path = join(dir, "serve.yaml");
  writeFileSync(path, yaml);
  return { dir, path };
}

async function serveWith(t: TestContext, yaml: string, extra: string[] = []): Promise<RunResult> {
  const dir = stateDir(t);
  const path = join(dir, "serve.yaml");
  writeFileSync(path, `listen: 127.0.0.1:0\nstate-dir: ${dir}\n${yaml}`);
  return runLifeline(t, ["serve", "--config", path, ...extra]);
}

function assertRefusedAtStart(result: RunResult, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(
    result.stderr,
    /"event":"listening"/,
    "no client may ever reach a misconfigured server",
  );
}

test("an unknown key is refused, naming the key and the known ones", async (t) => {
  const result = await serveWith(t, "sesion-timeout: 3m\n");
  assertRefusedAtStart(result, /"event":"config.invalid"/);
  assert.match(result.stderr, /unknown key \\"sesion-timeout\\"; known keys: .*session-timeout/);
});

test("a negative timeout is refused, naming the key, the value and what was expected", async (t) => {
  const result = await serveWith(t, "session-timeout: -5s\n");
  assertRefusedAtStart(
    result,
    /session-timeout: not a duration: \\"-5s\\" \(examples: 180, 180s, 3m, 250ms\)/,
  );
});

test("a zero size is refused", async (t) => {
  const result = await serveWith(t, "buffer: 0\n");
  assertRefusedAtStart(result, /buffer: expected a size above zero, got \\"0\\"/);
});

test("an unreadable certificate path is refused, naming the setting and the file", async (t) => {
  const result = await serveWith(t, "cert: /nonexistent/server.crt\nkey: /nonexistent/server.key\n");
  assertRefusedAtStart(
    result,
    /"event":"startup.failed".*cert \(\/nonexistent\/server.crt\): cannot read: no such file/,
  );
});

test("YAML syntax errors and wrong value types are refused", async (t) => {
  assertRefusedAtStart(await serveWith(t, "targets: [\n"), /is not valid YAML/);
  assertRefusedAtStart(
    await serveWith(t, "max-sessions: [1, 2]\n"),
    /max-sessions: expected a string or a number, got a list/,
  );
});

test("--check-config with an unknown key fails the same way, without starting", async (t) => {
  const result = await serveWith(t, "colour: blue\n", ["--check-config"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown key \\"colour\\"/);
});

test("precedence: flag over environment over file over default; --check-config prints each with its source", async (t) => {
  const { dir, path } = configFile(
    t,
    [
      "listen: 127.0.0.1:0",
      "session-timeout: 3m",
      "keepalive: 2s",
      "buffer: 8MiB",
      "target:",
      "  default: 127.0.0.1:22",
      "  db: 127.0.0.1:5432",
      "",
    ].join("\n"),
  );
  const result = await runLifeline(
    t,
    ["serve", "--config", path, "--state-dir", dir, "--check-config", "--keepalive", "1s"],
    { env: { LIFELINE_SERVE_SESSION_TIMEOUT: "90s", LIFELINE_SERVE_KEEPALIVE: "4s" } },
  );
  assert.equal(result.code, 0, result.stderr);
  const line = (key: string): string =>
    result.stdout.split("\n").find((l) => l.trim().startsWith(`${key} `)) ?? "";
  assert.match(result.stdout, /^configuration OK/);
  assert.match(line("keepalive"), /1s\s+\(cli\)/);
  assert.match(line("session-timeout"), /90s\s+\(env\)/);
  assert.match(line("buffer"), /8MiB\s+\(config\)/);
  assert.match(line("target"), /default=127\.0\.0\.1:22, db=127\.0\.0\.1:5432\s+\(config\)/);
  assert.match(line("dead-after"), /5s\s+\(default\)/);
});

test("connect --check-config needs neither --listen nor --stdio; connect itself needs one", async (t) => {
  const dir = stateDir(t);
  writeFileSync(join(dir, "token"), "x\n");
  const args = [
    "connect",
    "--server",
    "127.0.0.1:2598",
    "--token-file",
    join(dir, "token"),
    "--state-dir",
    dir,
  ];
  const checked = await runLifeline(t, [...args, "--check-config"]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stdout, /^configuration OK/);
  const started = await runLifeline(t, args);
  assert.equal(started.code, 2);
  assert.match(started.stderr, /give --listen HOST:PORT or --stdio/);
});

test("errors name the flag and the file once; --check-config shows the defaults worked out at start", async (t) => {
  const dir = stateDir(t);
  const missing = join(dir, "no-such-tokens");
  const tokens = await runLifeline(t, ["serve", "--state-dir", dir, "--tokens", missing, "--check-config"]);
  assert.equal(tokens.code, 2);
  assert.equal(tokens.stderr.split(`tokens (${missing})`).length - 1, 1, tokens.stderr);
  const channels = await runLifeline(t, [
    "serve",
    "--state-dir",
    dir,
    "--max-channels",
    "5000",
    "--check-config",
  ]);
  assert.equal(channels.code, 2);
  assert.match(
    channels.stderr,
    /--max-channels <n>' argument '5000' is invalid\. expected a whole number from 1 to 1024/,
  );
  const window = await runLifeline(t, ["serve", "--state-dir", dir, "--window", "5GiB", "--check-config"]);
  assert.match(
    window.stderr,
    /--window <bytes>' argument '5GiB' is invalid\. expected at most 4294967295 bytes/,
  );
  const defaults = await runLifeline(t, ["serve", "--state-dir", dir, "--check-config"]);
  assert.match(defaults.stdout, /\n {2}target +default=127\.0\.0\.1:1494 {2}\(default\)\n/);
  assert.match(
    defaults.stdout,
    /\n {2}tokens +<state-dir>\/tokens, made with one token on first start {2}\(default\)\n/,
  );
});

test("a bad environment value is refused, naming the variable", async (t) => {
  const result = await runLifeline(t, ["serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir(t)], {
    env: { LIFELINE_SERVE_SESSION_TIMEOUT: "soon" },
  });
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /environment variable LIFELINE_SERVE_SESSION_TIMEOUT: not a duration: \\"soon\\"/,
  );
  assert.doesNotMatch(result.stderr, /"event":"listening"/);
});

test("a misspelt environment variable is refused, as an unknown key in the file is", async (t) => {
  const result = await runLifeline(t, ["serve", "--state-dir", stateDir(t), "--check-config"], {
    env: { LIFELINE_SERVE_SESION_TIMEOUT: "90s" },
  });
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /environment variable LIFELINE_SERVE_SESION_TIMEOUT is not a setting of lifeline serve/,
  );
});

test("dead-after must exceed keepalive, in the flags' own names", async (t) => {
  const result = await serveWith(t, "keepalive: 5s\ndead-after: 5s\n");
  assertRefusedAtStart(result, /dead-after \(5000 ms\) must be longer than keepalive \(5000 ms\)/);
});
