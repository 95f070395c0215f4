/**
 * 3. Idle sessions: the bench's light client (clients.ts, its own process) opens N sessions
 * straight to the server side, 48 handshakes at a time from 127.0.0.1 (under serve's limit of 64
 * unauthenticated connections per address). Figures: time to establish them all, the server
 * process's resident memory per session (after all are up and a settling pause, minus before),
 * and its CPU while they sit idle (keepalives). lifeline is measured with bare sessions and with
 * sessions that each carry one idle connection (a channel), the latter comparable with one stunnel
 * or Node pipe connection, which always holds a connection to the target.
 */
import type { LifelineProcess } from "../test/support/procs.js";
import type { OpenCommand } from "./clients.js";
import { startPath, type PathName } from "./paths.js";
import {
  call,
  cpuSeconds,
  openFileLimit,
  rssBytes,
  startChild,
  stopProcess,
  lifelineNodeFlags,
} from "./processes.js";
import { sleep } from "./stats.js";

export type IdleVariant = "sessions" | "connections";

export interface IdleFigures {
  path: PathName;
  variant: IdleVariant;
  /** Sessions asked for, then opened (fewer when the open-file limit allows no more) and failed. */
  asked: number;
  opened: number;
  failed: number;
  establishSeconds: number;
  /** The server process: resident memory per session and in all, and CPU while idle in % of one core. */
  server: { kibPerSession: number; rssMiB: number; idleCpuPercent: number };
}

const CONCURRENCY = 48;
const SETTLE_MS = 3000;
const CPU_WINDOW_MS = 3000;

/**
 * How many of `asked` sessions fit under the server process's open-file limit when each holds
 * `perSession` descriptors, leaving room for the process's own (stunnel needs a few hundred).
 */
export function fitting(asked: number, perSession: number, reserve = 600): number {
  return Math.min(asked, Math.floor((openFileLimit() - reserve) / perSession));
}

async function measure(
  path: PathName,
  variant: IdleVariant,
  asked: number,
  target: LifelineProcess,
  progress: (line: string) => void,
): Promise<IdleFigures> {
  const targetPort = await target.port();
  // A session with a connection holds two descriptors on the server: the client's link and the target's.
  const count = variant === "connections" ? fitting(asked, 2) : fitting(asked, 1);
  const running = await startPath(path, targetPort, {
    serverOnly: true,
    serveArgs: ["--max-sessions", String(Math.max(10_000, count))],
  });
  const clients = startChild("clients", [], ["--max-old-space-size=4096", ...lifelineNodeFlags]);
  try {
    const pid = running.serverPid!;
    await sleep(1000);
    const before = rssBytes(pid);
    const command: OpenCommand = {
      kind: path === "lifeline" ? "lifeline" : "tls",
      ports: [running.tlsPort!],
      count,
      concurrency: CONCURRENCY,
      channels: variant === "connections" ? count : 0,
      ...(running.lifeline ? { pin: running.lifeline.pin, tokenFile: running.lifeline.tokenFile } : {}),
      ...(running.caFile ? { caFile: running.caFile } : {}),
    };
    const opened = await call<{ ms: number; opened: number; failed: number; firstError?: string }>(clients, {
      cmd: "open",
      ...command,
    });
    await sleep(SETTLE_MS);
    const after = rssBytes(pid);
    const cpuBefore = cpuSeconds([pid]);
    await sleep(CPU_WINDOW_MS);
    const cpu = cpuSeconds([pid]) - cpuBefore;
    const figures: IdleFigures = {
      path,
      variant,
      asked,
      opened: opened.opened,
      failed: opened.failed,
      establishSeconds: opened.ms / 1000,
      server: {
        kibPerSession: (after - before) / Math.max(1, opened.opened) / 1024,
        rssMiB: after / 2 ** 20,
        idleCpuPercent: (cpu / (CPU_WINDOW_MS / 1000)) * 100,
      },
    };
    progress(
      `idle ${path} ${variant} ${opened.opened}/${count}${opened.failed ? ` (${opened.failed} failed: ${opened.firstError})` : ""}: ` +
        `${figures.establishSeconds.toFixed(1)} s to establish, ${figures.server.kibPerSession.toFixed(1)} KiB each, ` +
        `server ${figures.server.rssMiB.toFixed(0)} MiB, idle CPU ${figures.server.idleCpuPercent.toFixed(1)} %`,
    );
    return figures;
  } finally {
    await stopProcess(clients);
    await running.stop();
  }
}

export async function benchIdle(
  paths: readonly PathName[],
  counts: readonly number[],
  progress: (line: string) => void,
): Promise<IdleFigures[]> {
  const target = startChild("target");
  const out: IdleFigures[] = [];
  try {
    for (const count of counts) {
      for (const path of paths) {
        if (path === "direct") continue;
        if (path === "lifeline") out.push(await measure(path, "sessions", count, target, progress));
        out.push(await measure(path, "connections", count, target, progress));
      }
    }
  } finally {
    await stopProcess(target);
  }
  return out;
}
