/** The small parsers and policies behind the command line: units, addresses, pins, targets, backoff, limits. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration, parseSize } from "../../src/ops/units.js";
import { formatHostPort, parseHostPort } from "../../src/ops/address.js";
import { parsePin } from "../../src/ops/fingerprint.js";
import { parseTargets } from "../../src/server/targets.js";
import { backoffDelay, DEFAULT_BACKOFF } from "../../src/client/backoff.js";
import { FailureLimiter } from "../../src/server/rate-limit.js";
import { TokenSet } from "../../src/server/tokens.js";

test("durations and sizes take human units, and refuse anything else", () => {
  assert.equal(parseDuration("180"), 180_000);
  assert.equal(parseDuration("180s"), 180_000);
  assert.equal(parseDuration("3m"), 180_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseSize("4MiB"), 4 * 1024 * 1024);
  assert.equal(parseSize("64k"), 65_536);
  assert.equal(parseSize("1048576"), 1_048_576);
  for (const bad of ["-1s", "3 weeks", "", "1e3"]) assert.throws(() => parseDuration(bad), /not a duration/);
  for (const bad of ["4 MiBs", "-5", "x"]) assert.throws(() => parseSize(bad), /not a size/);
});

test("HOST:PORT, with IPv6 in brackets and a default port", () => {
  assert.deepEqual(parseHostPort("example.org", 2598), { host: "example.org", port: 2598 });
  assert.deepEqual(parseHostPort("[::1]:2598"), { host: "::1", port: 2598 });
  assert.equal(formatHostPort({ host: "::1", port: 1494 }), "[::1]:1494");
  assert.throws(() => parseHostPort("example.org"), /port/);
  assert.throws(() => parseHostPort("a:99999"), /port/);
});

test("pins are accepted as sha256:<base64> or as the hex openssl prints, and nothing else", () => {
  const hex = "AB:".repeat(31) + "AB";
  const b64 = `sha256:${Buffer.alloc(32, 0xab).toString("base64")}`;
  assert.equal(parsePin(hex), b64);
  assert.equal(parsePin(hex.replace(/:/g, "").toLowerCase()), b64);
  assert.equal(parsePin(b64), b64);
  assert.throws(() => parsePin("sha256:short"), /not a SHA-256 pin/);
});

test("targets are names bound to fixed addresses, with a default", () => {
  assert.deepEqual([...parseTargets([])], [["default", { host: "127.0.0.1", port: 1494 }]]);
  const targets = parseTargets(["ssh=127.0.0.1:22", "10.0.0.5:5432"]);
  assert.deepEqual(targets.get("ssh"), { host: "127.0.0.1", port: 22 });
  assert.deepEqual(targets.get("default"), { host: "10.0.0.5", port: 5432 });
  assert.throws(() => parseTargets(["a=1.2.3.4:1", "a=1.2.3.4:2"]), /given twice/);
  assert.throws(() => parseTargets(["bad name=1.2.3.4:1"]), /must match/);
});

test("reconnect backoff: at once, then growing with jitter, never above the 600 ms cap", () => {
  // A restored link must carry data again within 1 s: the cap plus a handshake.
  assert.equal(DEFAULT_BACKOFF.maxMs, 600);
  assert.equal(
    backoffDelay(0, () => 0.5),
    0,
  );
  assert.equal(
    backoffDelay(1, () => 0.5),
    DEFAULT_BACKOFF.initialMs,
  );
  assert.ok(backoffDelay(3, () => 0.5) > backoffDelay(2, () => 0.5));
  for (let attempt = 1; attempt < 50; attempt++) {
    for (const r of [0, 0.5, 0.999]) {
      const d = backoffDelay(attempt, () => r);
      assert.ok(d >= 0 && d <= DEFAULT_BACKOFF.maxMs, `attempt ${attempt}: ${d} ms within the cap`);
    }
  }
  assert.notEqual(
    backoffDelay(4, () => 0),
    backoffDelay(4, () => 0.99),
    "jitter spreads clients apart",
  );
});

test("an address that fails too often is refused for a while, and forgiven after the window", () => {
  let now = 0;
  const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxTracked: 2 }, () => now);
  for (let i = 0; i < 3; i++) limiter.recordFailure("10.0.0.1");
  assert.equal(limiter.blocked("10.0.0.1"), true);
  assert.equal(limiter.blocked("10.0.0.2"), false);
  now += 60_001;
  assert.equal(limiter.blocked("10.0.0.1"), false);
  limiter.recordFailure("a");
  limiter.recordFailure("b");
  limiter.recordFailure("c"); // the oldest address is forgotten: memory stays bounded
  assert.equal(limiter.blocked("a"), false);
});

test("the token file: one per line, comments and blanks ignored, names after ' #', an empty file refused", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-tokens-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tokens");
  writeFileSync(
    file,
    "# clients\n\n  alpha  \nbeta # Ward 7 laptops\ntwo words\ngamma#not-a-name\nblue lamp #42 door\n",
  );
  const tokens = TokenSet.fromFile(file);
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  assert.equal(tokens.accepts(bytes("alpha")), true);
  assert.equal(tokens.accepts(bytes("beta")), true);
  assert.equal(tokens.accepts(bytes("beta # Ward 7 laptops")), false, "the name is not part of the token");
  assert.equal(tokens.accepts(bytes("two words")), true, "a token of several words keeps its meaning");
  assert.equal(tokens.accepts(bytes("gamma#not-a-name")), true, "a '#' inside a token is the token's");
  assert.equal(tokens.accepts(bytes("blue lamp #42 door")), true, "only a one-word token takes a name");
  assert.equal(tokens.accepts(bytes("blue lamp")), false, "never a shorter token than the line was");
  assert.equal(tokens.accepts(bytes("# clients")), false);
  assert.equal(tokens.accepts(bytes("alph")), false);
  const alpha = tokens.match(bytes("alpha"));
  assert.deepEqual(alpha, { digest: TokenSet.digest(bytes("alpha")) });
  assert.equal(tokens.match(bytes("alpha")), alpha, "sessions of one token share its entry");
  assert.deepEqual(tokens.match(bytes("beta"))?.name, "Ward 7 laptops");
  assert.equal(tokens.match(bytes("alph")), undefined);
  writeFileSync(file, "# nothing\n");
  assert.throws(() => TokenSet.fromFile(file), /empty/);
});
