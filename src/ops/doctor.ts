/**
 * `lifeline doctor`: from the client's side of the network, what will a user's connection do? Runs
 * the probes of src/client/probe.ts against the reliability port and the direct port, turns what
 * they found into checks (each a mark and one plain sentence), and the checks into one verdict
 * with an exit code: 0 all good, 1 degraded (one path unusable), 2 no usable path or a security
 * failure. The verdict and the text are pure functions of the checks.
 */
import { PROTOCOL_VERSION, type ServerParams } from "../core/index.js";
import {
  closeLink,
  probeHandshake,
  probeTcp,
  probeTls,
  type CertificateFacts,
  type HandshakeProbe,
  type TcpProbe,
  type TlsProbe,
} from "../client/probe.js";
import { REFUSALS } from "../client/runner.js";
import type { Verification } from "../client/verify.js";
import { formatHostPort, type HostPort } from "./address.js";
import { expiryOf } from "./certificate-expiry.js";
import { formatDuration } from "./units.js";

/** ok ✓, warn ! (works, but look), fail ✗, skip - (not checked, and why). */
export type Mark = "ok" | "warn" | "fail" | "skip";

export interface Check {
  status: Mark;
  /** One plain sentence, without its final period. */
  detail: string;
  /** This failure means the server must not be trusted or refuses this client: connect stops, no fallback. */
  security?: true;
}

export interface ReachCheck extends Check {
  address: string;
  /** Median TCP connect time (SYN to SYN/ACK) of the attempts, in milliseconds. */
  rttMs?: number;
  samplesMs?: number[];
  /** Why it is unreachable: the errno, or TIMEOUT. */
  error?: string;
}

export interface TlsCheck extends Check {
  protocol?: string;
  handshakeMs?: number;
  error?: string;
}

export interface CertificateCheck extends Check {
  fingerprint?: string;
  subject?: string;
  validTo?: string;
  daysLeft?: number;
}

export interface TrustCheck extends Check {
  mode: Verification["mode"];
}

export interface ProtocolCheck extends Check {
  /** The version the server announced in its preamble. */
  version?: number;
  /** The version this client speaks. */
  expected: number;
}

export interface TokenCheck extends Check {
  outcome: "accepted" | "refused" | "unavailable" | "failed" | "skipped";
  /** The server's CLOSE code, when it refused. */
  code?: string;
}

export interface SessionCheck extends Check, Partial<ServerParams> {}

export interface ReliabilityChecks {
  tcp: ReachCheck;
  tls: TlsCheck;
  certificate: CertificateCheck;
  trust: TrustCheck;
  protocol: ProtocolCheck;
  token: TokenCheck;
  /** What the server announced in WELCOME. */
  session: SessionCheck;
}

export type VerdictCode =
  | "all-good"
  | "no-direct-fallback"
  | "reliability-unreachable"
  | "reliability-unusable"
  | "both-blocked"
  | "security-failure";

export interface Verdict {
  verdict: VerdictCode;
  /** One plain sentence. */
  message: string;
  /** One plain sentence each: what works but deserves a look. */
  warnings: string[];
  exitCode: 0 | 1 | 2;
}

export interface DoctorReport extends Verdict {
  host: string;
  reliability: ReliabilityChecks;
  direct: ReachCheck;
}

export interface DoctorConfig {
  host: string;
  reliabilityPort: number;
  directPort: number;
  verification: Verification;
  /** The client token, or undefined when none is configured (the token check is then skipped). */
  token: string | undefined;
  /** Time allowed for each check, in milliseconds. */
  timeoutMs: number;
  now?: () => Date;
}

/** Probes both ports (at the same time) and judges what it found. */
export async function diagnose(config: DoctorConfig): Promise<DoctorReport> {
  const reliability: HostPort = { host: config.host, port: config.reliabilityPort };
  const direct: HostPort = { host: config.host, port: config.directPort };
  const [reliabilityChecks, directProbe] = await Promise.all([
    diagnoseReliability(reliability, config),
    probeTcp(direct, config.timeoutMs),
  ]);
  const directCheck = reachCheck(direct, directProbe, config.timeoutMs);
  return {
    host: config.host,
    reliability: reliabilityChecks,
    direct: directCheck,
    ...verdict(reliabilityChecks, directCheck),
  };
}

async function diagnoseReliability(server: HostPort, config: DoctorConfig): Promise<ReliabilityChecks> {
  const mode = config.verification.mode;
  const tcp = reachCheck(server, await probeTcp(server, config.timeoutMs), config.timeoutMs);
  if (tcp.status === "fail") return skippedAfter(tcp, mode, "the port is not reachable");
  const tls = await probeTls(server, config.verification, config.timeoutMs);
  if (!tls.ok) {
    return {
      ...skippedAfter(tcp, mode, "TLS failed"),
      tls: tlsCheck(tls, config.timeoutMs),
    };
  }
  const certificate = certificateCheck(tls.certificate, (config.now ?? (() => new Date()))());
  const trust = trustCheck(tls, server, config.verification);
  const base = { tcp, tls: tlsCheck(tls, config.timeoutMs), certificate, trust };
  if (trust.status === "fail" || certificate.status === "fail") {
    // Nothing is sent to a server that failed verification: not even the preamble.
    await closeLink(tls.socket);
    const why = "the certificate was refused, so nothing was sent";
    return {
      ...base,
      protocol: { status: "skip", detail: `not checked: ${why}`, expected: PROTOCOL_VERSION },
      token: { status: "skip", detail: `not sent: ${why}`, outcome: "skipped" },
      session: { status: "skip", detail: "not checked" },
    };
  }
  const handshake = await probeHandshake(tls.socket, config.token, config.timeoutMs);
  const protocol = protocolCheck(handshake);
  return { ...base, protocol, ...tokenChecks(handshake, config.token !== undefined, protocol) };
}

/** The checks after a failed `tcp`: all skipped for `why`. */
function skippedAfter(tcp: ReachCheck, mode: Verification["mode"], why: string): ReliabilityChecks {
  const detail = `not checked: ${why}`;
  return {
    tcp,
    tls: { status: "skip", detail },
    certificate: { status: "skip", detail },
    trust: { status: "skip", detail, mode },
    protocol: { status: "skip", detail, expected: PROTOCOL_VERSION },
    token: { status: "skip", detail, outcome: "skipped" },
    session: { status: "skip", detail },
  };
}

const ERRNO_MEANING: Record<string, string> = {
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed, for now",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
  EACCES: "not allowed",
};

/** Why a connection failed, in plain words: refused, no answer, or the errno (with its meaning). */
export function describeFailure(code: string, timeoutMs: number): string {
  if (code === "ECONNREFUSED") return "closed (connection refused)";
  if (code === "TIMEOUT") return `no answer within ${formatDuration(timeoutMs)} (filtered?)`;
  const meaning = ERRNO_MEANING[code];
  return meaning ? `${code} (${meaning})` : code;
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

export function reachCheck(server: HostPort, probe: TcpProbe, timeoutMs: number): ReachCheck {
  const address = formatHostPort(server);
  if (!probe.reachable)
    return { status: "fail", detail: describeFailure(probe.code, timeoutMs), address, error: probe.code };
  const rttMs = round(probe.rttMs);
  return {
    status: "ok",
    detail: `reachable, round trip ${ms(rttMs)} (TCP connect, median of ${probe.samplesMs.length})`,
    address,
    rttMs,
    samplesMs: probe.samplesMs.map(round),
  };
}

function tlsCheck(probe: TlsProbe, timeoutMs: number): TlsCheck {
  if (!probe.ok) {
    const why =
      probe.code === "TIMEOUT"
        ? `no TLS handshake within ${formatDuration(timeoutMs)}`
        : `TLS handshake failed: ${describeFailure(probe.code, timeoutMs)}`;
    return { status: "fail", detail: `${why}; is this port a lifeline server?`, error: probe.code };
  }
  const handshakeMs = round(probe.handshakeMs);
  return {
    status: "ok",
    detail: `${probe.protocol}, handshake ${ms(handshakeMs)}`,
    protocol: probe.protocol,
    handshakeMs,
  };
}

/** Expired, or fewer than EXPIRY_WARNING_DAYS left: a warning (the trust check decides whether clients refuse it). */
export function certificateCheck(cert: CertificateFacts | undefined, now: Date): CertificateCheck {
  if (!cert) return { status: "fail", detail: "the server presented no certificate", security: true };
  const { state, daysLeft, date, when } = expiryOf(cert.validTo, now);
  const facts = {
    fingerprint: cert.fingerprint,
    ...(cert.subject === undefined ? {} : { subject: cert.subject }),
    validTo: cert.validTo.toISOString(),
    daysLeft,
  };
  if (state === "expired") {
    // What connect does: --ca refuses it (the trust check fails too); a pin or known-hosts entry still matches.
    const detail = `the certificate EXPIRED on ${date}: clients using --ca refuse it, pinned and trust-on-first-use clients still connect; renew it`;
    return { status: "warn", detail, ...facts };
  }
  if (state === "expiring")
    return { status: "warn", detail: `the certificate expires ${when}, on ${date}`, ...facts };
  return {
    status: "ok",
    detail: `${cert.fingerprint}, valid until ${date} (${daysLeft} days left)`,
    ...facts,
  };
}

function trustCheck(
  probe: Extract<TlsProbe, { ok: true }>,
  server: HostPort,
  verification: Verification,
): TrustCheck {
  const mode = verification.mode;
  if (!probe.trust.ok) return { status: "fail", detail: probe.trust.reason, security: true, mode };
  if (probe.trust.firstUse) {
    const fingerprint = probe.certificate?.fingerprint ?? "unknown";
    return {
      status: "warn",
      detail: `not yet trusted: \`lifeline connect\` would trust it on first use (fingerprint ${fingerprint})`,
      mode,
    };
  }
  const pinCount = verification.mode === "pin" ? verification.pins.length : 0;
  const how = {
    ca: `signed by the given CA and issued for ${server.host}`,
    pin: pinCount > 1 ? `matches one of the ${pinCount} pins` : "matches the pin",
    tofu: `matches known_hosts (${verification.mode === "tofu" ? verification.knownHosts : ""})`,
  }[mode];
  return { status: "ok", detail: how, mode };
}

function protocolCheck(probe: HandshakeProbe): ProtocolCheck {
  const expected = PROTOCOL_VERSION;
  if (probe.notLifeline) {
    return {
      status: "fail",
      detail: "the service on this port is not lifeline (its greeting does not start with LIFELINE)",
      expected,
    };
  }
  if (probe.version === undefined)
    return { status: "fail", detail: `no lifeline greeting: ${probe.failure ?? "no answer"}`, expected };
  if (probe.version !== expected) {
    return {
      status: "fail",
      detail: `version mismatch: the server speaks protocol version ${probe.version}, this client speaks ${expected}`,
      version: probe.version,
      expected,
    };
  }
  return {
    status: "ok",
    detail: `version ${probe.version}, the same as this client`,
    version: probe.version,
    expected,
  };
}

function tokenChecks(
  probe: HandshakeProbe,
  tokenGiven: boolean,
  protocol: ProtocolCheck,
): { token: TokenCheck; session: SessionCheck } {
  const notChecked: SessionCheck = { status: "skip", detail: "not checked: no session was opened" };
  if (!tokenGiven) {
    return {
      token: {
        status: "skip",
        detail:
          "skipped: no token (give --token-file FILE or set LIFELINE_TOKEN to check that it is accepted)",
        outcome: "skipped",
      },
      session: { status: "skip", detail: "not checked: it is announced only once a token is accepted" },
    };
  }
  if (protocol.status === "fail") {
    return {
      token: { status: "skip", detail: "not checked: the protocol check failed", outcome: "skipped" },
      session: notChecked,
    };
  }
  const answer = probe.answer;
  if (answer?.kind === "welcome") {
    const p = answer.params;
    return {
      token: { status: "ok", detail: "accepted (no target connection was opened)", outcome: "accepted" },
      session: {
        status: "ok",
        detail:
          `sessions survive outages of up to ${formatDuration(p.sessionTimeoutMs)}; keepalive every ` +
          `${formatDuration(p.keepaliveIntervalMs)}, a link is dead after ${formatDuration(p.deadAfterMs)} of silence; ` +
          `at most ${p.maxChannels} connections per session`,
        ...p,
      },
    };
  }
  if (answer?.kind === "close") {
    const said = `${answer.code}${answer.reason ? ` (${answer.reason})` : ""}`;
    if (REFUSALS.includes(answer.code)) {
      return {
        token: {
          status: "fail",
          detail: `refused by the server: ${said}`,
          security: true,
          outcome: "refused",
          code: answer.code,
        },
        session: notChecked,
      };
    }
    const busy = answer.code === "SERVER_BUSY" || answer.code === "GOING_AWAY";
    return {
      token: {
        status: "fail",
        detail: busy
          ? `the server cannot take a session now: ${said}`
          : `the server closed the handshake: ${said}`,
        outcome: busy ? "unavailable" : "failed",
        code: answer.code,
      },
      session: notChecked,
    };
  }
  return {
    token: { status: "fail", detail: probe.failure ?? "no answer to HELLO", outcome: "failed" },
    session: notChecked,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function sentence(detail: string): string {
  return /[.!?]$/.test(detail) ? detail : `${detail}.`;
}

/** The verdict on a set of checks: which paths users have, in one sentence, and an exit code. */
export function verdict(reliability: ReliabilityChecks, direct: ReachCheck): Verdict {
  const checks: Check[] = Object.values(reliability);
  const warnings = [...checks, direct].filter((c) => c.status === "warn").map((c) => sentence(c.detail));
  const judged = (verdict: VerdictCode, message: string, exitCode: 0 | 1 | 2): Verdict => ({
    verdict,
    message,
    warnings,
    exitCode,
  });
  const security = checks.find((c) => c.status === "fail" && c.security);
  if (security) {
    const code = reliability.token.code ?? "no code";
    const what =
      security === reliability.token
        ? code === "RATE_LIMITED"
          ? "the server refuses this client for now (RATE_LIMITED: too many failed attempts)"
          : `the server refused the token (${code})`
        : security === reliability.trust
          ? "the server's certificate failed verification"
          : security.detail;
    return judged(
      "security-failure",
      `security failure: ${what}, so \`lifeline connect\` would stop and would not fall back to the direct port.`,
      2,
    );
  }
  const problem = checks.find((c) => c.status === "fail");
  const directOk = direct.status !== "fail";
  if (!problem && directOk)
    return judged(
      "all-good",
      "all good: session reliability works, and the direct port is there as a fallback.",
      0,
    );
  if (!problem)
    return judged(
      "no-direct-fallback",
      "reliability reachable but direct port blocked: no fallback if the reliability service fails.",
      1,
    );
  if (!directOk)
    return judged("both-blocked", "both blocked: neither path works, so users cannot connect at all.", 2);
  if (problem === reliability.tcp)
    return judged(
      "reliability-unreachable",
      "reliability unreachable: users will fall back to the direct port without session reliability.",
      1,
    );
  return judged(
    "reliability-unusable",
    "reliability port answers but cannot be used: users will fall back to the direct port without session reliability.",
    1,
  );
}

const MARKS: Record<Mark, string> = { ok: "✓", warn: "!", fail: "✗", skip: "-" };

/** The report as text for people: a line per check, then the verdict and warnings, a sentence each. */
export function formatReport(report: DoctorReport): string {
  const line = (name: string, check: Check): string =>
    `  ${MARKS[check.status]} ${name.padEnd(13)}${check.detail}`;
  const reliability = Object.entries(report.reliability).map(([name, check]) => line(name, check));
  return [
    `reliability port ${report.reliability.tcp.address}`,
    ...reliability,
    `direct port ${report.direct.address}`,
    line("tcp", report.direct),
    "",
    report.message,
    ...report.warnings.map((w) => `! ${w}`),
    "",
  ].join("\n");
}
