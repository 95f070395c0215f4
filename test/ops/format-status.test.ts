/** `lifeline status` for people: the states an administrator must be able to tell apart at a glance. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatStatus } from "../../src/ops/format-status.js";
import type { SessionStatus } from "../../src/ops/session-table.js";
import type { StatusReport } from "../../src/ops/status-report.js";

const session = (over: Partial<SessionStatus>): SessionStatus => ({
  id: "00112233445566778899aabbccddeeff",
  peer: "10.0.0.5:51234",
  state: "connected",
  ageSeconds: 312,
  channels: 2,
  bufferedToPeer: 65536,
  bufferedFromPeer: 0,
  resumes: 3,
  lastOutageMs: 12100,
  rttMs: 4,
  intoTunnel: 0,
  outOfTunnel: 0,
  ...over,
});

const report = (over: Partial<StatusReport>): StatusReport => ({
  role: "serve",
  pid: 42,
  version: "1.2.3",
  uptimeSeconds: 4000,
  listening: "0.0.0.0:2598",
  health: { healthy: true, status: "ok" },
  sessions: [],
  recentlyEnded: [],
  ...over,
});

test("a suspended session shows its countdown; a connected one its outage, buffers and RTT", () => {
  const text = formatStatus(
    report({
      sessions: [
        session({}),
        (({ rttMs: _, ...rest }) => rest)(session({ id: "ff", state: "suspended", secondsLeft: 163 })),
      ],
    }),
  );
  const lines = text.split("\n");
  assert.match(
    lines[0] as string,
    /^serve 1\.2\.3 \(pid 42\) listening on 0\.0\.0\.0:2598, up 1h6m, healthy$/,
  );
  assert.match(
    lines[1] as string,
    /SESSION\s+PEER\s+STATE\s+AGE\s+CHANNELS\s+UNACKED\s+UNREAD\s+RESUMES\s+LAST OUTAGE\s+RTT/,
  );
  assert.match(
    lines[2] as string,
    /00112233445566778899aabbccddeeff\s+10\.0\.0\.5:51234\s+connected\s+5m12s\s+2\s+64\.0 KiB\s+0 B\s+3\s+12\.1 s\s+4 ms/,
  );
  assert.match(lines[3] as string, /^ {2}ff\s+.*suspended, 163 s left\s+.*-$/);
});

test("serve shows the name of a session's token beside its peer", () => {
  const text = formatStatus(report({ sessions: [session({ tokenName: "Ward 7" }), session({ id: "ff" })] }));
  const lines = text.split("\n");
  assert.match(
    lines[2] as string,
    /^ {2}00112233445566778899aabbccddeeff {2}10\.0\.0\.5:51234 \(Ward 7\) {2}connected/,
  );
  assert.match(lines[3] as string, /^ {2}ff\s+10\.0\.0\.5:51234\s+connected/);
});

test("ended sessions say how they ended; an unhealthy process says why; a connect agent names its server", () => {
  const text = formatStatus(
    report({
      role: "connect",
      server: "gw.example:2598",
      listening: "127.0.0.1:5000",
      health: { healthy: false, status: "stopping" },
      recentlyEnded: [
        session({ state: "expired", closeCode: "SESSION_EXPIRED", endedSecondsAgo: 120 }),
        session({ id: "aa", state: "closed", closeCode: "GOING_AWAY", endedSecondsAgo: 5 }),
      ],
    }),
  );
  assert.match(
    text,
    /^connect 1\.2\.3 \(pid 42\) to gw\.example:2598, local 127\.0\.0\.1:5000, up 1h6m, UNHEALTHY \(stopping\)/,
  );
  assert.match(text, /no sessions/);
  assert.match(text, /recently ended:/);
  assert.match(text, /expired 2m0s ago/);
  assert.match(text, /closed \(GOING_AWAY\) 5s ago/);
});

test("a connect agent names the connections it carries on the fallback, without session reliability", () => {
  const text = formatStatus(
    report({
      role: "connect",
      server: "gw.example:2598",
      health: { healthy: true, status: "ok", directConnections: 2, fallback: "gw.example:1494" },
    }),
  );
  const lines = text.split("\n");
  assert.match(lines[0] as string, /, healthy$/);
  assert.equal(
    lines[1],
    "  2 connections WITHOUT session reliability: carried directly to gw.example:1494 (fallback)",
  );
});
