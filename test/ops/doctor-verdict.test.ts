/** `lifeline doctor`'s judgement: checks → verdict, message and exit code, for every verdict; and its plain words. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  certificateCheck,
  describeFailure,
  formatReport,
  verdict,
  type DoctorReport,
  type ReachCheck,
  type ReliabilityChecks,
} from "../../src/ops/doctor.js";

const open: ReachCheck = { status: "ok", detail: "reachable", address: "h:2598", rttMs: 1 };
const closed: ReachCheck = {
  status: "fail",
  detail: "closed (connection refused)",
  address: "h:1494",
  error: "ECONNREFUSED",
};

function healthy(): ReliabilityChecks {
  return {
    tcp: open,
    tls: { status: "ok", detail: "TLSv1.3", protocol: "TLSv1.3", handshakeMs: 2 },
    certificate: { status: "ok", detail: "valid", daysLeft: 300 },
    trust: { status: "ok", detail: "matches the pin", mode: "pin" },
    protocol: { status: "ok", detail: "version 1", version: 1, expected: 1 },
    token: { status: "ok", detail: "accepted", outcome: "accepted" },
    session: { status: "ok", detail: "180 s", sessionTimeoutMs: 180_000 },
  };
}

const skipped = { status: "skip", detail: "not checked" } as const;

function unreachable(): ReliabilityChecks {
  return {
    tcp: { ...closed, address: "h:2598" },
    tls: skipped,
    certificate: skipped,
    trust: { ...skipped, mode: "pin" },
    protocol: { ...skipped, expected: 1 },
    token: { ...skipped, outcome: "skipped" },
    session: skipped,
  };
}

test("both paths work: all good, exit 0, warnings listed but not failing", () => {
  assert.deepEqual(verdict(healthy(), open), {
    verdict: "all-good",
    message: "all good: session reliability works, and the direct port is there as a fallback.",
    warnings: [],
    exitCode: 0,
  });
  const firstUse = healthy();
  firstUse.trust = { status: "warn", detail: "not yet trusted: would trust it on first use", mode: "tofu" };
  firstUse.token = { status: "skip", detail: "skipped: no token", outcome: "skipped" };
  const v = verdict(firstUse, open);
  assert.equal(v.verdict, "all-good");
  assert.equal(v.exitCode, 0);
  assert.deepEqual(v.warnings, ["not yet trusted: would trust it on first use."]);
});

test("reliability works, direct port blocked: no-direct-fallback, exit 1", () => {
  const v = verdict(healthy(), closed);
  assert.equal(v.verdict, "no-direct-fallback");
  assert.equal(v.exitCode, 1);
  assert.equal(
    v.message,
    "reliability reachable but direct port blocked: no fallback if the reliability service fails.",
  );
});

test("reliability port unreachable, direct open: reliability-unreachable, exit 1", () => {
  const v = verdict(unreachable(), open);
  assert.equal(v.verdict, "reliability-unreachable");
  assert.equal(v.exitCode, 1);
  assert.match(v.message, /users will fall back to the direct port without session reliability/);
});

test("reliability port answers but cannot be used (TLS, protocol, busy), direct open: exit 1", () => {
  const cases: ((c: ReliabilityChecks) => void)[] = [
    (c) => (c.tls = { status: "fail", detail: "TLS handshake failed: ECONNRESET", error: "ECONNRESET" }),
    (c) => (c.protocol = { status: "fail", detail: "version mismatch", version: 2, expected: 1 }),
    (c) =>
      (c.token = {
        status: "fail",
        detail: "the server cannot take a session now: SERVER_BUSY",
        outcome: "unavailable",
        code: "SERVER_BUSY",
      }),
  ];
  for (const breakIt of cases) {
    const checks = healthy();
    breakIt(checks);
    const v = verdict(checks, open);
    assert.equal(v.verdict, "reliability-unusable");
    assert.equal(v.exitCode, 1);
    assert.match(v.message, /fall back to the direct port without session reliability/);
  }
});

test("neither path usable: both-blocked, exit 2", () => {
  for (const checks of [
    unreachable(),
    { ...healthy(), tls: { status: "fail", detail: "TLS failed" } } as const,
  ]) {
    const v = verdict(checks, closed);
    assert.equal(v.verdict, "both-blocked");
    assert.equal(v.exitCode, 2);
    assert.match(v.message, /^both blocked/);
  }
});

test("a wrong certificate, no certificate or a refused token: security-failure, exit 2, whatever the direct port", () => {
  const cases: [(c: ReliabilityChecks) => void, RegExp][] = [
    [
      (c) => (c.trust = { status: "fail", detail: "fingerprint mismatch", security: true, mode: "pin" }),
      /certificate failed verification/,
    ],
    [
      (c) =>
        (c.certificate = { status: "fail", detail: "the server presented no certificate", security: true }),
      /presented no certificate/,
    ],
    [
      (c) =>
        (c.token = {
          status: "fail",
          detail: "refused by the server: AUTH_FAILED",
          security: true,
          outcome: "refused",
          code: "AUTH_FAILED",
        }),
      /refused the token \(AUTH_FAILED\)/,
    ],
  ];
  for (const [breakIt, why] of cases) {
    for (const direct of [open, closed]) {
      const checks = healthy();
      breakIt(checks);
      const v = verdict(checks, direct);
      assert.equal(v.verdict, "security-failure");
      assert.equal(v.exitCode, 2);
      assert.match(v.message, why);
      assert.match(v.message, /would not fall back to the direct port/);
    }
  }
});

test("certificate expiry: fine, a warning under 14 days, a louder warning once expired (trust decides refusal)", () => {
  const now = new Date("2030-01-01T00:00:00Z");
  const cert = (validTo: string) => ({ fingerprint: "sha256:x", subject: "s", validTo: new Date(validTo) });
  const fine = certificateCheck(cert("2031-01-01T00:00:00Z"), now);
  assert.equal(fine.status, "ok");
  assert.equal(fine.daysLeft, 365);
  const soon = certificateCheck(cert("2030-01-11T00:00:00Z"), now);
  assert.equal(soon.status, "warn");
  assert.match(soon.detail, /expires in 10 days, on 2030-01-11/);
  const expired = certificateCheck(cert("2029-12-31T00:00:00Z"), now);
  assert.equal(expired.status, "warn");
  assert.match(expired.detail, /EXPIRED on 2029-12-31: clients using --ca refuse it/);
  assert.equal(certificateCheck(undefined, now).security, true);
});

test("connection failures in plain words", () => {
  assert.equal(describeFailure("ECONNREFUSED", 5000), "closed (connection refused)");
  assert.equal(describeFailure("TIMEOUT", 5000), "no answer within 5s (filtered?)");
  assert.equal(describeFailure("EHOSTUNREACH", 5000), "EHOSTUNREACH (no route to host)");
  assert.equal(describeFailure("EWHATEVER", 5000), "EWHATEVER");
});

test("the text report: a marked line per check, then the verdict", () => {
  const checks = healthy();
  const report: DoctorReport = { host: "h", reliability: checks, direct: closed, ...verdict(checks, closed) };
  const text = formatReport(report);
  assert.match(text, /^reliability port h:2598$/m);
  assert.match(text, /^ {2}✓ trust {8}matches the pin$/m);
  assert.match(text, /^ {2}✗ tcp {10}closed \(connection refused\)$/m);
  assert.match(text, /^reliability reachable but direct port blocked/m);
});
