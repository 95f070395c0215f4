/** The metrics are fed by the event log: every counted event moves its counter, whatever the log level. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { EventLog } from "../../src/ops/log.js";
import { LifelineMetrics } from "../../src/ops/metrics.js";
import { SessionTable } from "../../src/ops/session-table.js";

function metricsFor(role: "serve" | "connect") {
  const log = new EventLog(role, "silent", new PassThrough());
  const metrics = new LifelineMetrics(role, "0.0.0", new SessionTable(() => 0), log, { healthy: () => true });
  const value = async (
    name: string,
    labels: Record<string, string | number> = {},
  ): Promise<number | undefined> => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = metric?.values as
      { value: number; labels: Record<string, unknown>; metricName?: string }[] | undefined;
    return values?.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  return { log, metrics, value };
}

test("serve: resumes, outages, refusals and failures are counted from the events, even when the log is silent", async () => {
  const { log, metrics, value } = metricsFor("serve");
  log.info("session.created", "x");
  log.info("session.resumed", "x", { outageMs: 2500, resumeLatencyMs: 12 });
  log.warn("auth.failed", "x");
  log.warn("resume.refused", "x", { reason: "BAD_SECRET" });
  log.info("handshake.failed", "x", { code: "RATE_LIMITED" });
  log.debug("handshake.failed", "x");
  log.warn("session.expired", "x");
  log.info("buffer.full", "x");
  assert.equal(await value("lifeline_sessions_created_total"), 1);
  assert.equal(await value("lifeline_resumes_total"), 1);
  assert.equal(await value("lifeline_outage_duration_seconds", { le: 5 }), 1);
  assert.equal(await value("lifeline_outage_duration_seconds", { le: 2 }), 0);
  assert.equal(await value("lifeline_resume_latency_seconds", { le: 0.025 }), 1);
  assert.equal(await value("lifeline_auth_failures_total", { code: "AUTH_FAILED" }), 1);
  assert.equal(await value("lifeline_auth_failures_total", { code: "BAD_SECRET" }), 1);
  assert.equal(await value("lifeline_handshake_failures_total", { reason: "RATE_LIMITED" }), 1);
  assert.equal(await value("lifeline_handshake_failures_total", { reason: "TLS" }), 1);
  assert.equal(await value("lifeline_sessions_ended_total", { code: "SESSION_EXPIRED" }), 1);
  assert.equal(await value("lifeline_backpressure_events_total"), 1);
  assert.equal(await value("lifeline_fallbacks_total"), undefined, "a server never falls back");
  // Names a client asked for never become label values: one series, however many names are tried.
  for (let i = 0; i < 100; i++) log.warn("channel.refused", "x", { target: `made-up-${i}` });
  log.warn("target.unreachable", "x", { target: "db" });
  const failures = (await metrics.registry.getMetricsAsJSON()).find(
    (m) => m.name === "lifeline_target_failures_total",
  );
  assert.deepEqual(
    failures?.values.map((v) => [v.labels.target, v.value]),
    [
      ["(not configured)", 100],
      ["db", 1],
    ],
  );
});

test("connect: fallbacks and security failures are counted; server-only counters are absent", async () => {
  const { log, value } = metricsFor("connect");
  log.warn("fallback.used", "x");
  log.warn("fallback.used", "x");
  log.error("fallback.failed", "x");
  log.error("security.failed", "x");
  log.warn("link.lost", "x", { reason: "link-dead" });
  assert.equal(await value("lifeline_fallbacks_total"), 2);
  assert.equal(await value("lifeline_fallback_failures_total"), 1);
  assert.equal(await value("lifeline_security_failures_total"), 1);
  assert.equal(await value("lifeline_link_losses_total", { reason: "link-dead" }), 1);
  assert.equal(await value("lifeline_auth_failures_total"), undefined);
  // Alerted-on series exist at 0 before their first event.
  assert.equal(await value("lifeline_sessions_ended_total", { code: "SESSION_EXPIRED" }), 0);
  assert.equal(await value("lifeline_link_losses_total", { reason: "link-lost" }), 0);
  assert.equal(await value("lifeline_link_losses_total", { reason: "address-gone" }), 0);
  assert.equal(await value("lifeline_sessions", { state: "connected" }), 0);
  log.warn("link.lost", "x", { reason: "address-gone" });
  assert.equal(await value("lifeline_link_losses_total", { reason: "address-gone" }), 1);
});
