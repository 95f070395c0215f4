/**
 * Acceptance (issue 4, points 2 and 3): during an outage `lifeline status` shows the session as
 * suspended with its countdown, and connected again after the resume; `/metrics` counts the
 * resume and the outage in its histogram; `/healthz` answers for a load balancer. serve warns of
 * its certificate's expiry and exports the date.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { generate } from "selfsigned";
import type { SessionStatus } from "../../src/ops/session-table.js";
import type { StatusReport } from "../../src/ops/status-report.js";
import { FaultProxy, listen } from "../support/net-fixtures.js";
import { runLifeline, stateDir } from "../support/procs.js";
import { startConnect, startServe } from "../support/setup.js";
import type { TestContext } from "node:test";

async function status(t: TestContext, dir: string): Promise<StatusReport[]> {
  const result = await runLifeline(t, ["status", "--state-dir", dir, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as StatusReport[];
}

async function onlySession(t: TestContext, dir: string): Promise<SessionStatus> {
  const [report] = await status(t, dir);
  assert.equal(report?.sessions.length, 1, JSON.stringify(report));
  return report.sessions[0] as SessionStatus;
}

async function scrape(port: number, path: string): Promise<{ code: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { code: response.status, body: await response.text() };
}

/** The value of one sample line of a Prometheus exposition, e.g. `lifeline_resumes_total`. */
function sample(body: string, series: string): number {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

test(
  "status shows the outage countdown and the resume; metrics count the resume and the outage",
  { timeout: 60_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target), [
      "--session-timeout",
      "60s",
      "--keepalive",
      "300ms",
      "--dead-after",
      "1s",
      "--metrics",
      "127.0.0.1:0",
    ]);
    const metricsPort = (await served.serve.waitFor("admin.listening", (r) => r.endpoint === "metrics"))
      .port as number;
    const proxy = new FaultProxy(served.port);
    const client = await startConnect(t, await listen(t, proxy.server), served, ["--metrics", "127.0.0.1:0"]);
    const clientMetricsPort = (
      await client.connect.waitFor("admin.listening", (r) => r.endpoint === "metrics")
    ).port as number;

    const app = connect(client.port, "127.0.0.1");
    t.after(() => app.destroy());
    app.write("before");
    await new Promise((resolve) => app.once("data", resolve));

    const before = await onlySession(t, served.dir);
    assert.equal(before.state, "connected");
    assert.equal(before.channels, 1);
    assert.equal(before.resumes, 0);
    assert.equal(sample((await scrape(metricsPort, "/metrics")).body, "lifeline_resumes_total"), 0);
    assert.equal(
      sample((await scrape(metricsPort, "/metrics")).body, 'lifeline_sessions{state="connected"}'),
      1,
    );

    proxy.down = true;
    proxy.cut();
    await served.serve.waitFor("session.interrupted");
    const during = await onlySession(t, served.dir);
    assert.equal(during.state, "suspended");
    assert.ok(
      during.secondsLeft !== undefined && during.secondsLeft > 0 && during.secondsLeft <= 60,
      JSON.stringify(during),
    );
    const human = await runLifeline(t, ["status", "--state-dir", served.dir]);
    assert.match(human.stdout, /suspended, \d+ s left/);
    assert.match(human.stdout, new RegExp(before.id));
    assert.equal(
      sample((await scrape(metricsPort, "/metrics")).body, 'lifeline_sessions{state="suspended"}'),
      1,
    );

    // Keep the outage long enough to land above the histogram's 1 s bucket.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    proxy.down = false;
    await served.serve.waitFor("session.resumed");
    app.write("after");
    await new Promise((resolve) => app.once("data", resolve));

    const after = await onlySession(t, served.dir);
    assert.equal(after.state, "connected");
    assert.equal(after.resumes, 1);
    assert.ok(after.lastOutageMs !== undefined && after.lastOutageMs >= 1500, JSON.stringify(after));
    assert.equal(after.id, before.id);

    const metrics = (await scrape(metricsPort, "/metrics")).body;
    assert.equal(sample(metrics, "lifeline_resumes_total"), 1);
    assert.equal(sample(metrics, "lifeline_outage_duration_seconds_count"), 1);
    assert.equal(sample(metrics, 'lifeline_outage_duration_seconds_bucket{le="1"}'), 0);
    assert.equal(sample(metrics, 'lifeline_outage_duration_seconds_bucket{le="+Inf"}'), 1);
    assert.ok(sample(metrics, "lifeline_outage_duration_seconds_sum") >= 1.5);
    assert.equal(sample(metrics, "lifeline_resume_latency_seconds_count"), 1);
    assert.ok(
      sample(metrics, 'lifeline_relayed_bytes_total{direction="into_tunnel"}') >=
        "before".length + "after".length,
    );

    // The client side counts the same resume, and its own status shows the session.
    const clientMetrics = (await scrape(clientMetricsPort, "/metrics")).body;
    assert.equal(sample(clientMetrics, "lifeline_resumes_total"), 1);
    assert.equal(sample(clientMetrics, "lifeline_outage_duration_seconds_count"), 1);
    const clientDir = client.connect.child.spawnargs[
      client.connect.child.spawnargs.indexOf("--state-dir") + 1
    ] as string;
    const [clientReport] = await status(t, clientDir);
    assert.equal(clientReport?.role, "connect");
    assert.equal(clientReport.sessions[0]?.id, before.id);
    assert.equal(clientReport.sessions[0]?.resumes, 1);

    const health = await scrape(metricsPort, "/healthz");
    assert.equal(health.code, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, "ok");
  },
);

test(
  "health turns unhealthy at the session limit; /status is not served on the metrics port",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target), [
      "--max-sessions",
      "1",
      "--metrics",
      "127.0.0.1:0",
    ]);
    const metricsPort = (await served.serve.waitFor("admin.listening", (r) => r.endpoint === "metrics"))
      .port as number;
    assert.equal((await scrape(metricsPort, "/healthz")).code, 200);
    assert.equal((await scrape(metricsPort, "/status")).code, 404);

    const client = await startConnect(t, served.port, served);
    const app = connect(client.port, "127.0.0.1");
    t.after(() => app.destroy());
    app.write("x");
    await new Promise((resolve) => app.once("data", resolve));

    const full = await scrape(metricsPort, "/healthz");
    assert.equal(full.code, 503);
    assert.equal((JSON.parse(full.body) as { status: string }).status, "session-limit");
    assert.equal(sample((await scrape(metricsPort, "/metrics")).body, "lifeline_healthy"), 0);
  },
);

test(
  "on SIGTERM with --drain-delay, health turns 503 draining and new sessions are refused before the port closes",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target), [
      "--drain-delay",
      "3s",
      "--metrics",
      "127.0.0.1:0",
    ]);
    const metricsPort = (await served.serve.waitFor("admin.listening", (r) => r.endpoint === "metrics"))
      .port as number;
    await served.serve.waitFor("admin.listening", (r) => r.endpoint === "socket"); // the last step of start-up
    served.serve.kill("SIGTERM");
    await served.serve.waitFor("server.draining");
    const health = await scrape(metricsPort, "/healthz");
    assert.equal(health.code, 503);
    assert.equal((JSON.parse(health.body) as { status: string }).status, "draining");
    // A new client is told the server is going away (and, with no fallback, fails), instead of finding a closed port.
    const client = await startConnect(t, served.port, served, ["--no-fallback"]);
    const app = connect(client.port, "127.0.0.1");
    t.after(() => app.destroy());
    await new Promise((resolve) => app.once("close", resolve));
    assert.ok(served.serve.records.some((r) => r.event === "handshake.failed" && r.code === "GOING_AWAY"));
    assert.equal(await served.serve.exited, 0);
  },
);

/** Writes a self-signed EC pair valid until `notAfter` to `dir`; returns the two paths. */
async function certificateUntil(dir: string, notAfter: Date): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(notAfter.getTime() - 30 * 86_400_000),
    notAfterDate: notAfter,
  });
  const paths = { cert: join(dir, "server.crt"), key: join(dir, "server.key") };
  writeFileSync(paths.cert, pems.cert);
  writeFileSync(paths.key, pems.private, { mode: 0o600 });
  return paths;
}

test(
  "serve warns of a certificate close to expiry at start (and --check-config too), says so louder after a reload to an expired one, and exports the date",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const dir = stateDir(t);
    const soon = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 86_400_000 - 3_600_000);
    const files = await certificateUntil(dir, soon);
    const served = await startServe(t, await listen(t, target), [
      "--cert",
      files.cert,
      "--key",
      files.key,
      "--metrics",
      "127.0.0.1:0",
    ]);
    const checked = await runLifeline(t, [
      "serve",
      "--check-config",
      "--cert",
      files.cert,
      "--key",
      files.key,
      "--state-dir",
      dir,
    ]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^configuration OK\nwarning: certificate .* expires in 2 days, on /);
    const expiring = await served.serve.waitFor("certificate.expiring");
    assert.equal(expiring.level, 40);
    assert.equal(expiring.daysLeft, 2);
    assert.equal(expiring.path, files.cert);
    assert.equal(expiring.validTo, soon.toISOString());
    const metricsPort = (await served.serve.waitFor("admin.listening", (r) => r.endpoint === "metrics"))
      .port as number;
    const expiry = async (): Promise<number> =>
      sample((await scrape(metricsPort, "/metrics")).body, "lifeline_certificate_expiry_timestamp_seconds");
    assert.equal(await expiry(), soon.getTime() / 1000);

    const lapsed = new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000);
    await certificateUntil(dir, lapsed);
    served.serve.kill("SIGHUP");
    const expired = await served.serve.waitFor("certificate.expired");
    assert.equal(expired.level, 50);
    assert.match(expired.msg as string, /EXPIRED on .*renew it, then reload/);
    assert.equal(await expiry(), lapsed.getTime() / 1000);
    assert.equal(served.serve.child.exitCode, null, "an expired certificate is a warning, not a stop");
  },
);
