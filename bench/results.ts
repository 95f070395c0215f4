/**
 * The figures of one run as Markdown: printed, and written to bench/RESULTS.md (with the machine
 * facts and date) by a full run. Ratios are against stunnel measured in the same run. Notes written
 * by hand below the NOTES marker of an existing file are kept.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as prettier from "prettier";
import type { BulkFigures } from "./bulk.js";
import type { CodecFigures } from "./codec.js";
import type { FairnessFigures } from "./fairness.js";
import type { IdleFigures } from "./idle.js";
import type { LatencyFigures } from "./latency.js";
import type { BenchOptions } from "./options.js";
import { PATH_LABELS, type PathName } from "./paths.js";
import type { ResumeFigures } from "./resume.js";
import { fixed, ratio } from "./stats.js";
import { FLOOR_SERVERS, type FloorFigures, type StormFigures } from "./storm.js";

export interface Results {
  machine: string;
  bulk?: Partial<Record<PathName, BulkFigures>>;
  latency?: Partial<Record<PathName, LatencyFigures>>;
  idle?: IdleFigures[];
  resume?: ResumeFigures;
  storm?: StormFigures[];
  fairness?: Partial<Record<PathName, FairnessFigures>>;
  codec?: CodecFigures;
}

export const NOTES_MARKER = "<!-- notes: written by hand, kept by the next full run -->";

/** A Markdown table; the first column (or, for `text`, every column) left-aligned, the others right. */
function table(head: string[], rows: string[][], text = false): string {
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  const align = head.map((_, i) => (i === 0 || text ? "---" : "---:"));
  return [line(head), line(align), ...rows.map(line)].join("\n");
}

function byPath<T>(
  figures: Partial<Record<PathName, T>>,
  row: (name: PathName, f: T, ref?: T) => string[],
): string[][] {
  return (Object.entries(figures) as [PathName, T][]).map(([name, f]) => row(name, f, figures.stunnel));
}

function bulkSection(bulk: Partial<Record<PathName, BulkFigures>>, o: BenchOptions): string {
  return [
    `### 1. Bulk throughput, one stream (${fixed(o.size / 2 ** 20)} MiB each way, median of ${o.runs} runs)`,
    "",
    "Relay CPU: user + system seconds of both relay processes (client and server side) per GiB moved.",
    "",
    table(
      [
        "path",
        "upload MB/s",
        "download MB/s",
        "relay CPU s/GiB up",
        "relay CPU s/GiB down",
        "MB/s ×stunnel (up, down)",
        "CPU ×stunnel (up, down)",
      ],
      byPath(bulk, (name, f, s) => [
        PATH_LABELS[name],
        fixed(f.upMBps),
        fixed(f.downMBps),
        fixed(f.upCpuPerGiB, 2),
        fixed(f.downCpuPerGiB, 2),
        `${ratio(f.upMBps, s?.upMBps)}, ${ratio(f.downMBps, s?.downMBps)}`,
        f.upCpuPerGiB === undefined
          ? "—"
          : `${ratio(f.upCpuPerGiB, s?.upCpuPerGiB)}, ${ratio(f.downCpuPerGiB, s?.downCpuPerGiB)}`,
      ]),
    ),
  ].join("\n");
}

function latencySection(latency: Partial<Record<PathName, LatencyFigures>>, o: BenchOptions): string {
  return [
    `### 2. Round trips: 64-byte request, echoed, sequential (${fixed(o.roundTrips)} per run, median of ${o.runs} runs)`,
    "",
    table(
      ["path", "p50 µs", "p99 µs", "p50 ×stunnel", "p99 ×stunnel"],
      byPath(latency, (name, f, s) => [
        PATH_LABELS[name],
        fixed(f.p50us),
        fixed(f.p99us),
        ratio(f.p50us, s?.p50us),
        ratio(f.p99us, s?.p99us),
      ]),
    ),
  ].join("\n");
}

function idleSection(idle: IdleFigures[]): string {
  const reference = (f: IdleFigures): IdleFigures | undefined =>
    idle.find((x) => x.path === "stunnel" && x.asked === f.asked);
  return [
    "### 3. Idle sessions: server-side resident memory and time to establish",
    "",
    "Opened by one light client process, 48 handshakes at a time. A *session* is a lifeline session with",
    "no channel; a *connection* is one idle TCP connection carried through (a lifeline session with one",
    "channel): it holds a target connection too, as every stunnel and Node pipe connection does.",
    "Memory per session: the server process's RSS after all are up and 3 s of rest, minus before, over",
    "the count. Idle CPU: the server process over 3 s of rest (keepalives), in % of one core.",
    "",
    table(
      [
        "server side",
        "kind",
        "count",
        "established in s",
        "KiB each",
        "server RSS MiB",
        "idle CPU %",
        "KiB each ×stunnel",
      ],
      idle.map((f) => [
        PATH_LABELS[f.path],
        f.variant === "sessions" ? "session" : "connection",
        `${fixed(f.opened)}${f.failed ? ` (${f.failed} failed)` : ""}${f.opened < f.asked && !f.failed ? ` of ${fixed(f.asked)}¹` : ""}`,
        fixed(f.establishSeconds, 1),
        fixed(f.server.kibPerSession, 1),
        fixed(f.server.rssMiB),
        fixed(f.server.idleCpuPercent, 1),
        f.variant === "connections" ? ratio(f.server.kibPerSession, reference(f)?.server.kibPerSession) : "—",
      ]),
    ),
    ...(idle.some((f) => f.opened < f.asked && !f.failed)
      ? [
          "",
          "¹ as many as fit: one process may hold at most the open-file limit of descriptors (20,000 here,",
          "and it cannot be raised in this container), and each carried connection takes two on the server.",
        ]
      : []),
  ].join("\n");
}

function resumeSection(r: ResumeFigures): string {
  return [
    "### 4. Resume (lifeline, default settings)",
    "",
    `Link cut by a proxy between connect and serve (reset, then refused for 0.1–2 s while the`,
    `application writes), ${r.cuts} cuts; and silently dead links (the proxy stops forwarding without`,
    `closing anything, while the application sends every 100 ms), ${r.deadLinks} times.`,
    "",
    table(
      ["figure", "p50", "p99", "max"],
      [
        [
          "link usable again → first byte delivered after resume, ms",
          fixed(r.afterRestoreMs.p50),
          fixed(r.afterRestoreMs.p99),
          fixed(r.afterRestoreMs.max),
        ],
        [
          "dead link detected by connect, s",
          fixed(r.clientDetectS.p50, 2),
          fixed(r.clientDetectS.p99, 2),
          fixed(r.clientDetectS.max, 2),
        ],
        [
          "dead link detected by serve, s",
          fixed(r.serverDetectS.p50, 2),
          fixed(r.serverDetectS.p99, 2),
          fixed(r.serverDetectS.max, 2),
        ],
      ],
    ),
  ].join("\n");
}

function stormSection(storms: StormFigures[]): string {
  const row = (label: string, cell: (s: StormFigures) => string): string[] => [label, ...storms.map(cell)];
  const partial = storms.some((s) => s.withChannel < s.sessions);
  return [
    "### 5. Reconnect storm: every session loses its link at once",
    "",
    "Sessions of one light client process (per 10,000) through proxies of 2,500 links each, which reset",
    "every link at once (usable again at once); channels echo a burst queued before the cut and one",
    "queued just after it. The cut comes once every session is established and no link was lost for",
    "2 s. The byte check covers the channels of the sessions that resumed. All of it runs in a network",
    "namespace of its own, with net.core.somaxconn raised as docs/OPERATIONS.md advises.",
    "",
    table(
      ["figure", ...storms.map((s) => `${fixed(s.sessions)} sessions`)],
      [
        row("established (time)", (s) => `${fixed(s.opened)} (${fixed(s.establishSeconds, 1)} s)`),
        row("sessions per client address", (s) => fixed(s.perAddress)),
        row(`carrying a channel${partial ? "²" : ""}`, (s) => fixed(s.withChannel)),
        row("resumed", (s) => `${fixed(s.resumed)}${s.closed ? ` (${fixed(s.closed)} expired/closed)` : ""}`),
        row("cut → last session resumed, s", (s) => fixed(s.resumeS.max, 2)),
        row("cut → median session resumed, s", (s) => fixed(s.resumeS.p50, 2)),
        row("cut → every byte echoed back, s", (s) => fixed(s.allBytesBackS, 2)),
        row("channels checked", (s) => fixed(s.checkedChannels)),
        row("bytes sent each way on them", (s) => fixed(s.bytesEachWay)),
        row("bytes the target received (all channels)", (s) => fixed(s.targetReceived)),
        row("channels short / differing (hash)", (s) => `${s.incomplete} / ${s.mismatched}`),
        row("bytes lost", (s) => fixed(s.lost)),
        row(
          "calm before the cut; links lost before it",
          (s) => `${s.calmBefore ? "yes" : "NO"}; ${fixed(s.linksLostBefore)}`,
        ),
        row("links lost from the cut on (one per session if none is lost twice)", (s) => fixed(s.linksLost)),
        row("failed dials while reconnecting", (s) => fixed(s.failedDials)),
        row(
          "listen queue overflows from the cut on (somaxconn)",
          (s) => `${fixed(s.listenOverflows)} (${fixed(s.somaxconn)})`,
        ),
        row("resumes performed by serve from the cut on", (s) => fixed(s.serverResumes)),
        row("CPU s, cut → all resumed: serve", (s) => fixed(s.cpuS.serve, 1)),
        row(
          "CPU s, cut → all resumed: light clients, proxies",
          (s) => `${fixed(s.cpuS.clients, 1)}, ${fixed(s.cpuS.proxies, 1)}`,
        ),
      ],
    ),
    ...(partial
      ? [
          "",
          "² a channel holds a target connection on the server besides the session's link: all channels",
          "that fit under the server process's open-file limit (20,000, which cannot be raised here).",
        ]
      : []),
    ...floorTable(storms),
  ].join("\n");
}

/** The same storm of plain TLS connections to the other tunnels' servers: the floor. */
function floorTable(storms: StormFigures[]): string[] {
  const paths = [...new Set(storms.flatMap((s) => s.floors.map((f) => f.path)))];
  if (paths.length === 0) return [];
  const rows = paths.flatMap((path) => {
    const row = (label: string, cell: (f: FloorFigures) => string): string[] => [
      `${FLOOR_SERVERS[path]}: ${label}`,
      ...storms.map((s) => {
        const f = s.floors.find((x) => x.path === path);
        return f ? cell(f) : "—";
      }),
    ];
    return [
      row("connections reconnected", (f) => `${fixed(f.reconnected)} of ${fixed(f.opened)}`),
      row("cut → last reconnected, s", (f) => fixed(f.reconnectS.max, 2)),
      row("cut → median reconnected, s", (f) => fixed(f.reconnectS.p50, 2)),
      row(
        "failed dials; listen queue overflows",
        (f) => `${fixed(f.failedDials)}; ${fixed(f.listenOverflows)}`,
      ),
      row(
        "CPU s: server; light clients, proxies",
        (f) => `${fixed(f.cpuS.server, 1)}; ${fixed(f.cpuS.clients, 1)}, ${fixed(f.cpuS.proxies, 1)}`,
      ),
    ];
  });
  return [
    "",
    "The floor: the same storm of plain TLS connections (no session, no data, nothing kept) to the",
    "other tunnels' servers, each dialled again at once after the cut with `lifeline connect`'s",
    "backoff, through the same proxies and light client. It costs the TLS handshakes alone.",
    "",
    table(["figure", ...storms.map((s) => `${fixed(s.sessions)} connections`)], rows),
  ];
}

function fairnessSection(fairness: Partial<Record<PathName, FairnessFigures>>, o: BenchOptions): string {
  return [
    `### 6. ${o.channels} streams at once (lifeline: ${o.channels} channels of one session), ${o.seconds} s window`,
    "",
    "Slowest share: the slowest stream's bytes over an exact 1/N of the total (1.00 is perfectly fair).",
    "",
    table(
      ["path", "download MB/s", "slowest share", "upload MB/s", "slowest share", "MB/s ×stunnel (down, up)"],
      byPath(fairness, (name, f, s) => [
        PATH_LABELS[name],
        fixed(f.downMBps),
        fixed(f.downSlowestShare, 2),
        fixed(f.upMBps),
        fixed(f.upSlowestShare, 2),
        `${ratio(f.downMBps, s?.downMBps)}, ${ratio(f.upMBps, s?.upMBps)}`,
      ]),
    ),
  ].join("\n");
}

function codecSection(c: CodecFigures): string {
  const mb = (n: number): string => `${fixed(n)} MB/s`;
  return [
    "### Codec and replay buffer (16 KiB DATA frames, one core, median of 5 runs over 512 MiB)",
    "",
    table(
      ["operation", "throughput"],
      [
        ["encode (header + payload by reference)", mb(c.encodeMBps)],
        ["encode, copied into one buffer", mb(c.encodeCopyMBps)],
        ["decode (64 KiB socket chunks)", mb(c.decodeMBps)],
        ["encode + decode", mb(c.encodeDecodeMBps)],
        ["send buffer: append, read, trim on ACK", mb(c.bufferTrimMBps)],
      ],
    ),
  ].join("\n");
}

interface Verdict {
  target: string;
  measured: string;
  met: boolean;
  /** The run was smaller than the target speaks of (e.g. --quick): no verdict. */
  small?: boolean;
}

/** The issue's targets, each met or missed, with the figure and ratio behind it. */
export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const l = r.bulk?.lifeline;
  const s = r.bulk?.stunnel;
  if (l && s && l.upCpuPerGiB !== undefined && s.upCpuPerGiB !== undefined) {
    const up = l.upCpuPerGiB / s.upCpuPerGiB;
    const down = (l.downCpuPerGiB ?? NaN) / (s.downCpuPerGiB ?? NaN);
    out.push({
      target: "relay CPU per GiB ≤ stunnel's",
      measured: `${fixed(l.upCpuPerGiB, 2)} / ${fixed(l.downCpuPerGiB, 2)} s/GiB (up / down) vs ${fixed(s.upCpuPerGiB, 2)} / ${fixed(s.downCpuPerGiB, 2)}: ${up.toFixed(2)}× / ${down.toFixed(2)}×`,
      met: up <= 1 && down <= 1,
    });
    const mbUp = l.upMBps / s.upMBps;
    const mbDown = l.downMBps / s.downMBps;
    out.push({
      target: "MB/s ≥ stunnel's",
      measured: `${fixed(l.upMBps)} / ${fixed(l.downMBps)} MB/s vs ${fixed(s.upMBps)} / ${fixed(s.downMBps)}: ${mbUp.toFixed(2)}× / ${mbDown.toFixed(2)}×`,
      met: mbUp >= 1 && mbDown >= 1,
    });
  }
  const ll = r.latency?.lifeline;
  const sl = r.latency?.stunnel;
  if (ll && sl) {
    out.push({
      target: "p50 round trip ≤ 1.1× stunnel's",
      measured: `${fixed(ll.p50us)} µs vs ${fixed(sl.p50us)} µs: ${(ll.p50us / sl.p50us).toFixed(2)}×`,
      met: ll.p50us <= 1.1 * sl.p50us,
    });
  }
  const idle = r.idle
    ?.filter((f) => f.path === "lifeline" && f.variant === "sessions")
    .sort((a, b) => b.asked - a.asked)[0];
  if (idle) {
    out.push({
      target: "≤ 32 KiB per idle session at 10k",
      measured: `${fixed(idle.server.kibPerSession, 1)} KiB at ${fixed(idle.opened)} sessions (${(idle.server.kibPerSession / 32).toFixed(2)}× the target)`,
      met: idle.server.kibPerSession <= 32,
      small: idle.asked < 10_000,
    });
  }
  if (r.resume) {
    out.push({
      target: "resume < 1 s after the link is restored",
      measured: `p50 ${fixed(r.resume.afterRestoreMs.p50)} ms, p99 ${fixed(r.resume.afterRestoreMs.p99)} ms, max ${fixed(r.resume.afterRestoreMs.max)} ms over ${r.resume.cuts} cuts`,
      met: r.resume.afterRestoreMs.p99 < 1000,
    });
    const worst = Math.max(r.resume.clientDetectS.max, r.resume.serverDetectS.max);
    out.push({
      target: "dead link detected ≤ 5 s (default settings)",
      measured: `connect ${fixed(r.resume.clientDetectS.p50, 2)} s, serve ${fixed(r.resume.serverDetectS.p50, 2)} s (median); worst ${fixed(worst, 2)} s`,
      met: worst <= 5,
    });
  }
  const st = r.storm?.at(-1);
  if (st) {
    out.push({
      target: "storm of 10k resumed within 10 s, zero bytes lost",
      measured: `${fixed(st.resumed)}/${fixed(st.opened)} resumed, the last after ${fixed(st.resumeS.max, 2)} s (${(st.resumeS.max / 10).toFixed(2)}× the 10 s); ${fixed(st.lost)} bytes lost, ${st.incomplete + st.mismatched} of ${fixed(st.checkedChannels)} channels wrong${st.floors.map((f) => `; plain TLS reconnects alone, ${FLOOR_SERVERS[f.path]}: ${fixed(f.reconnectS.max, 2)} s`).join("")}`,
      met:
        st.resumed === st.opened &&
        st.opened === st.sessions &&
        st.resumeS.max <= 10 &&
        st.lost === 0 &&
        st.incomplete + st.mismatched === 0,
      small: st.sessions < 10_000,
    });
  }
  return out;
}

export function render(r: Results, o: BenchOptions): string {
  const sections = [
    r.bulk && bulkSection(r.bulk, o),
    r.latency && latencySection(r.latency, o),
    r.idle && idleSection(r.idle),
    r.resume && resumeSection(r.resume),
    r.storm && stormSection(r.storm),
    r.fairness && fairnessSection(r.fairness, o),
    r.codec && codecSection(r.codec),
  ].filter(Boolean);
  const v = verdicts(r);
  if (v.length > 0) {
    sections.push(
      [
        "### Targets",
        "",
        table(
          ["target", "measured", "verdict"],
          v.map((x) => [
            x.target,
            x.measured,
            x.small
              ? `${x.met ? "met" : "missed"} at this smaller size: no verdict`
              : x.met
                ? "met"
                : "**missed**",
          ]),
          true,
        ),
      ].join("\n"),
    );
  }
  return sections.join("\n\n");
}

/**
 * Writes `file`: title, machine facts and date, the tables, and the hand-written notes of the
 * previous file; formatted as the repository's prettier formats Markdown.
 */
export async function writeResults(file: string, r: Results, o: BenchOptions): Promise<void> {
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const at = previous.indexOf(NOTES_MARKER);
  const notes = at >= 0 ? previous.slice(at) : `${NOTES_MARKER}\n\n## Notes\n`;
  const text = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (a full run); every figure is from one run of the whole suite, on",
    "loopback, all paths measured in that run. Ratios are against the stunnel pair of the same run.",
    "",
    `Machine: ${r.machine}.`,
    "",
    render(r, o),
    "",
    notes.trimEnd(),
    "",
  ].join("\n");
  const config = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(text, { ...config, filepath: file }));
}
