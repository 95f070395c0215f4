/**
 * Prometheus metrics for both roles (prom-client, one registry per process role). Counters of
 * events are fed by the event log itself, so that the log and the metrics can never disagree;
 * gauges and byte totals are read from the session table when scraped.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EventCode, EventFields, EventLog } from "./log.js";
import type { SessionTable, StatusState } from "./session-table.js";

const STATES: readonly StatusState[] = ["connecting", "connected", "suspended", "resuming"];

/** Outages last from a blip to the whole session timeout (default 180 s). */
const OUTAGE_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 180, 300, 600];
/** A resume is one TLS handshake and one round trip. */
const RESUME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RoleGauges {
  /** 1 while the health endpoint answers "ok". */
  healthy(): boolean;
  /** Server only: the global replay budget, used and limit. */
  globalBuffer?(): { used: number; limit: number };
  /** Server only: when the certificate it presents expires, in Unix seconds. */
  certificateExpiry?(): number | undefined;
}

export class LifelineMetrics {
  readonly registry = new Registry();

  constructor(
    role: "serve" | "connect",
    version: string,
    table: SessionTable,
    log: EventLog,
    gauges: RoleGauges,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "lifeline_info",
      help: "Constant 1, labelled with the role and version.",
      labelNames: ["role", "version"],
      registers,
    }).set({ role, version }, 1);
    new Gauge({
      name: "lifeline_healthy",
      help: "1 while the health endpoint answers ok (not draining, not at a limit).",
      registers,
      collect() {
        this.set(gauges.healthy() ? 1 : 0);
      },
    });
    new Gauge({
      name: "lifeline_sessions",
      help: "Live sessions by state.",
      labelNames: ["state"],
      registers,
      collect() {
        const counts = table.countByState();
        for (const state of STATES) this.set({ state }, counts.get(state) ?? 0);
      },
    });
    new Gauge({
      name: "lifeline_buffered_bytes",
      help: "Bytes buffered by all sessions: held for replay to the peer, or received and not yet taken by applications.",
      labelNames: ["direction"],
      registers,
      collect() {
        const { toPeer, fromPeer } = table.buffered();
        this.set({ direction: "to_peer" }, toPeer);
        this.set({ direction: "from_peer" }, fromPeer);
      },
    });
    new Counter({
      name: "lifeline_relayed_bytes_total",
      help: "Application bytes carried: read from local applications into the tunnel, or delivered out of it.",
      labelNames: ["direction"],
      registers,
      collect() {
        const totals = table.totals();
        this.reset();
        this.inc({ direction: "into_tunnel" }, totals.intoTunnel);
        this.inc({ direction: "out_of_tunnel" }, totals.outOfTunnel);
      },
    });
    new Counter({
      name: "lifeline_replayed_bytes_total",
      help: "Bytes sent again after a resume because the peer had not acknowledged them.",
      registers,
      collect() {
        this.reset();
        this.inc(table.totals().replayedBytes);
      },
    });
    new Counter({
      name: "lifeline_log_lines_dropped_total",
      help: "Log lines dropped because the reader of stderr fell 16 MiB behind.",
      registers,
      collect() {
        this.reset();
        this.inc(log.droppedLines);
      },
    });
    const globalBuffer = gauges.globalBuffer;
    if (globalBuffer) {
      new Gauge({
        name: "lifeline_global_buffer_bytes",
        help: "The replay budget shared by all sessions: used, and its limit.",
        labelNames: ["kind"],
        registers,
        collect() {
          const { used, limit } = globalBuffer();
          this.set({ kind: "used" }, used);
          this.set({ kind: "limit" }, limit);
        },
      });
    }
    const certificateExpiry = gauges.certificateExpiry;
    if (certificateExpiry) {
      new Gauge({
        name: "lifeline_certificate_expiry_timestamp_seconds",
        help: "When the certificate the server presents expires, as a Unix time (alert when under 14 days away).",
        registers,
        collect() {
          const at = certificateExpiry();
          if (at !== undefined) this.set(at);
        },
      });
    }

    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers });
    // Counters of what only one role sees are registered for that role only.
    const serverOnly = (name: string, help: string, labelNames: string[] = []) =>
      role === "serve" ? counter(name, help, labelNames) : undefined;
    const clientOnly = (name: string, help: string, labelNames: string[] = []) =>
      role === "connect" ? counter(name, help, labelNames) : undefined;
    const created = counter("lifeline_sessions_created_total", "Sessions established.");
    const ended = counter(
      "lifeline_sessions_ended_total",
      "Sessions ended, by close code (SESSION_EXPIRED: the link stayed down past the timeout).",
      ["code"],
    );
    const resumes = counter("lifeline_resumes_total", "Sessions resumed on a new link after an outage.");
    const linkLosses = counter(
      "lifeline_link_losses_total",
      "Links lost under a live session, by reason (link-dead: silent; address-gone: the client moved to another network or lost it).",
      ["reason"],
    );
    const backpressure = counter(
      "lifeline_backpressure_events_total",
      "Times a full send buffer stopped reading from an application.",
    );
    const authFailures = serverOnly(
      "lifeline_auth_failures_total",
      "Refused tokens (AUTH_FAILED) and wrong resume secrets (BAD_SECRET).",
      ["code"],
    );
    const resumeRefusals = serverOnly("lifeline_resume_refusals_total", "Resumes refused, by code.", [
      "code",
    ]);
    const handshakeFailures = serverOnly(
      "lifeline_handshake_failures_total",
      "Links dropped or refused before joining a session, by reason.",
      ["reason"],
    );
    const targetFailures = serverOnly(
      "lifeline_target_failures_total",
      "Channels whose target could not be reached or is not configured.",
      ["target"],
    );
    const fallbacks = clientOnly(
      "lifeline_fallbacks_total",
      "Connections sent directly to the fallback address, WITHOUT session reliability.",
    );
    const fallbackFailures = clientOnly(
      "lifeline_fallback_failures_total",
      "Connections for which the fallback address failed too.",
    );
    const securityFailures = clientOnly(
      "lifeline_security_failures_total",
      "Server certificate or token checks that failed (never followed by fallback).",
    );
    const outage = new Histogram({
      name: "lifeline_outage_duration_seconds",
      help: "How long sessions were without a link before they resumed.",
      buckets: OUTAGE_BUCKETS,
      registers,
    });
    const resumeLatency = new Histogram({
      name: "lifeline_resume_latency_seconds",
      help: "From a new connection (the client's dial, the server's accept) to the session resumed on it.",
      buckets: RESUME_BUCKETS,
      registers,
    });

    // The series alerts are written against exist from the start at 0, so increase() sees their first event.
    for (const code of ["SESSION_EXPIRED", "NORMAL", "GOING_AWAY"]) ended.inc({ code }, 0);
    const lossReasons =
      role === "connect" ? ["link-lost", "link-dead", "address-gone"] : ["link-lost", "link-dead"];
    for (const reason of lossReasons) linkLosses.inc({ reason }, 0);
    for (const code of ["AUTH_FAILED", "BAD_SECRET"]) authFailures?.inc({ code }, 0);

    const text = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback);
    log.observe((event: EventCode, fields: EventFields) => {
      switch (event) {
        case "session.created":
          created.inc();
          break;
        case "session.resumed":
          resumes.inc();
          if (typeof fields.outageMs === "number") outage.observe(fields.outageMs / 1000);
          if (typeof fields.resumeLatencyMs === "number")
            resumeLatency.observe(fields.resumeLatencyMs / 1000);
          break;
        case "session.expired":
          ended.inc({ code: "SESSION_EXPIRED" });
          break;
        case "session.closed":
          ended.inc({ code: text(fields.code, "UNKNOWN") });
          break;
        case "link.lost":
        case "session.interrupted":
          linkLosses.inc({ reason: text(fields.reason, "unknown") });
          break;
        case "buffer.full":
          backpressure.inc();
          break;
        case "auth.failed":
          authFailures?.inc({ code: "AUTH_FAILED" });
          handshakeFailures?.inc({ reason: "AUTH_FAILED" });
          break;
        case "resume.refused": {
          const code = text(fields.reason, "UNKNOWN");
          if (code === "BAD_SECRET") authFailures?.inc({ code });
          resumeRefusals?.inc({ code });
          handshakeFailures?.inc({ reason: code });
          break;
        }
        case "handshake.failed":
          handshakeFailures?.inc({ reason: text(fields.code, "TLS") });
          break;
        case "target.unreachable":
          targetFailures?.inc({ target: text(fields.target, "?") });
          break;
        case "channel.refused":
          // The name came from the client: never a label value, or anyone could add series without end.
          if (role === "serve") targetFailures?.inc({ target: "(not configured)" });
          break;
        case "fallback.used":
          fallbacks?.inc();
          break;
        case "fallback.failed":
          fallbackFailures?.inc();
          break;
        case "security.failed":
          securityFailures?.inc();
          break;
        default:
          break;
      }
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
