/** `lifeline status` as a person reads it: one heading per process, one row per session. */
import type { SessionStatus } from "./session-table.js";
import type { StatusReport } from "./status-report.js";

export function formatStatus(report: StatusReport): string {
  const where =
    report.role === "serve" ? `listening on ${report.listening ?? "?"}` : `to ${report.server ?? "?"}`;
  const local = report.role === "connect" && report.listening ? `, local ${report.listening}` : "";
  const health = report.health.healthy ? "healthy" : `UNHEALTHY (${report.health.status})`;
  const lines = [
    `${report.role} ${report.version} (pid ${report.pid}) ${where}${local}, up ${duration(report.uptimeSeconds)}, ${health}`,
  ];
  const direct = report.health.directConnections;
  if (typeof direct === "number" && direct > 0) {
    const which = direct === 1 ? "1 connection" : `${direct} connections`;
    lines.push(
      `  ${which} WITHOUT session reliability: carried directly to ${String(report.health.fallback)} (fallback)`,
    );
  }
  if (report.sessions.length === 0) lines.push("  no sessions");
  else lines.push(...table(report.sessions));
  if (report.recentlyEnded.length > 0) {
    lines.push("  recently ended:");
    lines.push(...table(report.recentlyEnded));
  }
  return `${lines.join("\n")}\n`;
}

const HEADINGS = [
  "SESSION",
  "PEER",
  "STATE",
  "AGE",
  "CHANNELS",
  "UNACKED",
  "UNREAD",
  "RESUMES",
  "LAST OUTAGE",
  "RTT",
];

function table(sessions: SessionStatus[]): string[] {
  const rows = [HEADINGS, ...sessions.map(row)];
  const widths = HEADINGS.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return rows.map(
    (r) =>
      `  ${r
        .map((cell, i) => cell.padEnd(widths[i] as number))
        .join("  ")
        .trimEnd()}`,
  );
}

function row(s: SessionStatus): string[] {
  return [
    s.id || "(starting)",
    s.tokenName === undefined ? s.peer : `${s.peer} (${s.tokenName})`,
    state(s),
    duration(s.ageSeconds),
    String(s.channels),
    bytes(s.bufferedToPeer),
    bytes(s.bufferedFromPeer),
    String(s.resumes),
    s.lastOutageMs === undefined ? "-" : `${(s.lastOutageMs / 1000).toFixed(1)} s`,
    s.rttMs === undefined ? "-" : `${s.rttMs} ms`,
  ];
}

function state(s: SessionStatus): string {
  if (s.endedSecondsAgo !== undefined) {
    const how = s.state === "expired" ? "expired" : `closed (${s.closeCode ?? "?"})`;
    return `${how} ${duration(s.endedSecondsAgo)} ago`;
  }
  return s.secondsLeft === undefined ? s.state : `${s.state}, ${s.secondsLeft} s left`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
