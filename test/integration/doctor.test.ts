/**
 * Acceptance for `lifeline doctor`: against real `lifeline serve` processes over real TLS on
 * loopback, each situation gets the right verdict and exit code: both ports open, the reliability
 * port closed, the direct port closed, both closed, a wrong pin, a wrong token; --json; and a token
 * check that opens no target connection and leaves no session behind.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { join } from "node:path";
import { deadPort, echoTarget, listen } from "../support/net-fixtures.js";
import { runLifeline, stateDir } from "../support/procs.js";
import { startServe } from "../support/setup.js";

/** A served target, a separate direct port, and the token file of the server. */
async function deployment(t: TestContext, serveFlags: string[] = []) {
  const target = echoTarget();
  const served = await startServe(t, await listen(t, target.server), serveFlags);
  const direct = echoTarget();
  const directPort = await listen(t, direct.server);
  return { target, served, direct, directPort, tokenFile: join(served.dir, "tokens") };
}

type Deployment = Awaited<ReturnType<typeof deployment>>;

/**
 * The flags of a well-configured client of `d` (its direct port, the server's pin, its token);
 * `over` changes some of them (`trust` replaces the pin, e.g. with `--ca FILE`).
 */
function clientFlags(
  d: Deployment,
  over: { directPort?: number; trust?: string[]; tokenFile?: string } = {},
): string[] {
  return [
    "--direct-port",
    String(over.directPort ?? d.directPort),
    ...(over.trust ?? ["--pin", d.served.fingerprint]),
    "--token-file",
    over.tokenFile ?? d.tokenFile,
  ];
}

/** Runs `lifeline doctor HOST args…` with its own empty state directory and no LIFELINE_TOKEN. */
async function doctor(t: TestContext, host: string, args: string[]) {
  const run = await runLifeline(t, ["doctor", host, "--state-dir", stateDir(t), ...args], {
    env: { LIFELINE_TOKEN: "" },
  });
  const log = `exit ${run.code}\n${run.stdout}\n${run.proc.stderrText.join("\n")}`;
  return { ...run, log };
}

/** Lets the server's log catch up with what the doctor did before asserting what it did not log. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300));

test(
  "both ports open, pinned, token accepted: all good, exit 0, no target connection, no session left",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t, ["--session-timeout", "90s", "--keepalive", "2s", "--dead-after", "7s"]);
    const run = await doctor(t, `127.0.0.1:${d.served.port}`, clientFlags(d));
    assert.equal(run.code, 0, run.log);
    assert.match(run.stdout, /^ {2}✓ tcp +reachable, round trip [\d.]+ ms/m);
    assert.match(run.stdout, /^ {2}✓ tls +TLSv1\.3, handshake [\d.]+ ms/m);
    assert.match(run.stdout, new RegExp(`✓ certificate +${d.served.fingerprint.replace(/[+/]/g, "\\$&")}`));
    assert.match(run.stdout, /✓ trust +matches the pin/);
    assert.match(run.stdout, /✓ protocol +version 1/);
    assert.match(run.stdout, /✓ token +accepted/);
    assert.match(
      run.stdout,
      /✓ session +sessions survive outages of up to 90s; keepalive every 2s.*after 7s/,
    );
    assert.match(run.stdout, /^all good: /m);

    assert.equal(d.target.connections(), 0, "the token check opened no target connection");
    const closed = await d.served.serve.waitFor("session.closed");
    assert.equal(closed.code, "NORMAL", "the doctor closed its session at once");
    assert.equal(d.served.serve.events("session.created").length, 1);
    assert.equal(d.served.serve.events("channel.opened").length, 0);
    assert.equal(run.proc.records.length + run.proc.stderrText.length, 0, "nothing on stderr");
  },
);

test(
  "--json: one object on stdout, with every check, the verdict and the exit code",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const run = await doctor(t, "127.0.0.1", [
      "--sr-port",
      String(d.served.port),
      "--direct-port",
      String(d.directPort),
      "--ca",
      join(d.served.dir, "server.crt"),
      "--token-file",
      d.tokenFile,
      "--json",
    ]);
    assert.equal(run.code, 0, run.log);
    const report = JSON.parse(run.stdout);
    assert.equal(report.host, "127.0.0.1");
    assert.equal(report.verdict, "all-good");
    assert.equal(report.exitCode, 0);
    assert.equal(typeof report.message, "string");
    assert.equal(report.reliability.tcp.status, "ok");
    assert.equal(typeof report.reliability.tcp.rttMs, "number");
    assert.equal(report.reliability.tls.protocol, "TLSv1.3");
    assert.equal(typeof report.reliability.tls.handshakeMs, "number");
    assert.equal(report.reliability.certificate.fingerprint, d.served.fingerprint);
    assert.ok(report.reliability.certificate.daysLeft > 14);
    assert.equal(report.reliability.trust.mode, "ca");
    assert.equal(report.reliability.trust.status, "ok");
    assert.equal(report.reliability.protocol.version, 1);
    assert.equal(report.reliability.token.outcome, "accepted");
    assert.deepEqual(
      [
        report.reliability.session.sessionTimeoutMs,
        report.reliability.session.keepaliveIntervalMs,
        report.reliability.session.deadAfterMs,
        report.reliability.session.maxChannels,
      ],
      [180_000, 3000, 5000, 256],
    );
    assert.equal(report.direct.address, `127.0.0.1:${d.directPort}`);
    assert.equal(typeof report.direct.rttMs, "number");
    assert.equal(d.target.connections(), 0);
    assert.equal(run.proc.records.length + run.proc.stderrText.length, 0, "no log lines on stderr");
  },
);

test(
  "reliability port closed, direct open: reliability unreachable, exit 1",
  { timeout: 30_000 },
  async (t) => {
    const direct = echoTarget();
    const directPort = await listen(t, direct.server);
    const run = await doctor(t, `127.0.0.1:${await deadPort()}`, ["--direct-port", String(directPort)]);
    assert.equal(run.code, 1, run.log);
    assert.match(run.stdout, /✗ tcp +closed \(connection refused\)/);
    assert.match(
      run.stdout,
      /^reliability unreachable: users will fall back to the direct port without session reliability\.$/m,
    );
    await settle();
    assert.equal(direct.connections(), 3, "three connects timed the direct port");
  },
);

test("direct port closed, reliability fine: no fallback, exit 1", { timeout: 30_000 }, async (t) => {
  const d = await deployment(t);
  const run = await doctor(t, `127.0.0.1:${d.served.port}`, clientFlags(d, { directPort: await deadPort() }));
  assert.equal(run.code, 1, run.log);
  assert.match(run.stdout, /✓ token +accepted/);
  assert.match(
    run.stdout,
    /^reliability reachable but direct port blocked: no fallback if the reliability service fails\.$/m,
  );
});

test("both ports closed: both blocked, exit 2, in text and in JSON", { timeout: 30_000 }, async (t) => {
  const args = ["--direct-port", String(await deadPort())];
  const host = `127.0.0.1:${await deadPort()}`;
  const run = await doctor(t, host, args);
  assert.equal(run.code, 2, run.log);
  assert.match(run.stdout, /^both blocked: /m);
  const json = await doctor(t, host, [...args, "--json"]);
  assert.equal(json.code, 2, json.log);
  const report = JSON.parse(json.stdout);
  assert.equal(report.verdict, "both-blocked");
  assert.equal(report.exitCode, 2);
  assert.equal(report.reliability.tcp.error, "ECONNREFUSED");
  assert.equal(report.reliability.token.status, "skip");
});

test(
  "a wrong pin: security failure, exit 2, and the token is never sent to that server; beside the right pin, trusted",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const wrongPin = `sha256:${Buffer.alloc(32, 7).toString("base64")}`;
    const run = await doctor(t, `127.0.0.1:${d.served.port}`, clientFlags(d, { trust: ["--pin", wrongPin] }));
    assert.equal(run.code, 2, run.log);
    assert.match(run.stdout, /✗ trust +certificate fingerprint mismatch/);
    assert.match(run.stdout, /- token +not sent/);
    assert.match(run.stdout, /^security failure: the server's certificate failed verification/m);
    await settle();
    assert.equal(d.served.serve.events("session.created").length, 0, "no HELLO reached the server");
    assert.equal(d.served.serve.events("auth.failed").length, 0);

    // A client in the middle of a certificate rotation holds two pins: one matching is enough.
    const rotating = await doctor(
      t,
      `127.0.0.1:${d.served.port}`,
      clientFlags(d, { trust: ["--pin", wrongPin, "--pin", d.served.fingerprint] }),
    );
    assert.equal(rotating.code, 0, rotating.log);
    assert.match(rotating.stdout, /✓ trust +matches one of the 2 pins/);
  },
);

test(
  "a wrong token: refused, security failure, exit 2, no target connection",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const wrong = join(stateDir(t), "wrong-token");
    writeFileSync(wrong, "not-the-token\n");
    const run = await doctor(t, `127.0.0.1:${d.served.port}`, clientFlags(d, { tokenFile: wrong }));
    assert.equal(run.code, 2, run.log);
    assert.match(run.stdout, /✗ token +refused by the server: AUTH_FAILED/);
    assert.match(run.stdout, /^security failure: the server refused the token \(AUTH_FAILED\)/m);
    await d.served.serve.waitFor("auth.failed");
    assert.equal(d.target.connections(), 0);
  },
);

test(
  "trust on first use: an unknown host is a warning and is not recorded; a changed one is a security failure",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const knownHosts = join(stateDir(t), "known_hosts");
    const args = ["--direct-port", String(d.directPort), "--known-hosts", knownHosts];
    const host = `127.0.0.1:${d.served.port}`;

    const first = await doctor(t, host, args);
    assert.equal(first.code, 0, first.log);
    assert.match(first.stdout, /! trust +not yet trusted: `lifeline connect` would trust it on first use/);
    assert.match(first.stdout, /- token +skipped: no token/);
    assert.match(first.stdout, /✓ protocol +version 1/, "the version is read from the server's preamble");
    assert.equal(existsSync(knownHosts), false, "doctor never writes known_hosts");

    writeFileSync(knownHosts, `${host} sha256:${Buffer.alloc(32, 9).toString("base64")}\n`);
    const changed = await doctor(t, host, args);
    assert.equal(changed.code, 2, changed.log);
    assert.match(changed.stdout, /✗ trust +the certificate of .* CHANGED/);

    writeFileSync(knownHosts, `${host} ${d.served.fingerprint}\n`);
    const known = await doctor(t, host, args);
    assert.equal(known.code, 0, known.log);
    assert.match(known.stdout, /✓ trust +matches known_hosts/);
  },
);

test(
  "--ca that did not sign the server's certificate: security failure, exit 2",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const stranger = await startServe(t, d.directPort); // another state directory: another certificate
    const run = await doctor(
      t,
      `localhost:${d.served.port}`,
      clientFlags(d, { trust: ["--ca", join(stranger.dir, "server.crt")] }),
    );
    assert.equal(run.code, 2, run.log);
    assert.match(run.stdout, /✗ trust +server certificate not trusted/);
    await settle();
    assert.equal(
      d.served.serve.events("auth.failed").length + d.served.serve.events("session.created").length,
      0,
    );
  },
);

test(
  "a port that accepts but never speaks TLS: reliability unusable within --timeout, exit 1",
  { timeout: 30_000 },
  async (t) => {
    const silent = createServer(() => undefined);
    const direct = echoTarget();
    const run = await doctor(t, `127.0.0.1:${await listen(t, silent)}`, [
      "--direct-port",
      String(await listen(t, direct.server)),
      "--timeout",
      "1s",
    ]);
    assert.equal(run.code, 1, run.log);
    assert.match(run.stdout, /✗ tls +no TLS handshake within 1s; is this port a lifeline server\?/);
    assert.match(run.stdout, /^reliability port answers but cannot be used: /m);
  },
);

test(
  "a server that speaks another protocol version: reported plainly, exit 1",
  { timeout: 30_000 },
  async (t) => {
    const d = await deployment(t);
    const credentials = {
      cert: readFileSync(join(d.served.dir, "server.crt")),
      key: readFileSync(join(d.served.dir, "server.key")),
    };
    // The same certificate, and a preamble announcing version 2.
    const future = createTlsServer(credentials, (socket) => {
      socket.on("error", () => undefined);
      socket.end(Buffer.from("4c4946454c494e450002", "hex"));
    });
    const run = await doctor(t, `127.0.0.1:${await listen(t, future)}`, [...clientFlags(d), "--json"]);
    assert.equal(run.code, 1, run.log);
    const report = JSON.parse(run.stdout);
    assert.equal(report.verdict, "reliability-unusable");
    assert.equal(report.reliability.protocol.version, 2);
    assert.match(
      report.reliability.protocol.detail,
      /the server speaks protocol version 2, this client speaks 1/,
    );
    assert.equal(report.reliability.token.status, "skip");
  },
);

test("bad input exits 2 with a clear message, before any probe", { timeout: 30_000 }, async (t) => {
  const badPin = await doctor(t, "127.0.0.1", ["--pin", "sha256:short"]);
  assert.equal(badPin.code, 2);
  assert.match(badPin.proc.stderrText.join("\n"), /not a SHA-256 pin/);
  const badCa = await doctor(t, "127.0.0.1", ["--ca", join(stateDir(t), "missing.crt")]);
  assert.equal(badCa.code, 2);
  assert.match(badCa.proc.stderrText.join("\n"), /ca \(.*\): cannot read: no such file/);
  assert.equal(badCa.stdout, "");
  const badTimeout = await doctor(t, "127.0.0.1", ["--timeout", "soon"]);
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.proc.stderrText.join("\n"), /not a duration/);
});
