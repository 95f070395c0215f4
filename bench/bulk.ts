/**
 * 1. Bulk throughput of one stream, each way in turn: MB/s, and CPU seconds per GiB of the relay
 * processes (client and server side together, utime + stime from /proc). Runs alternate between
 * the paths so that noise from the shared machine falls on all of them alike; figures are medians.
 */
import { download, upload } from "./load.js";
import type { BenchOptions } from "./options.js";
import { cpuSeconds } from "./processes.js";
import type { PathName, RunningPath } from "./paths.js";
import { median } from "./stats.js";

export interface BulkFigures {
  upMBps: number;
  downMBps: number;
  /** Relay CPU seconds per GiB moved; undefined for the direct path. */
  upCpuPerGiB?: number;
  downCpuPerGiB?: number;
}

interface Sample {
  mbps: number;
  cpuPerGiB: number;
}

async function measure(path: RunningPath, bytes: number, transfer: typeof upload): Promise<Sample> {
  const before = cpuSeconds(path.relayPids);
  const seconds = await transfer(path.port, bytes);
  const cpu = cpuSeconds(path.relayPids) - before;
  return { mbps: bytes / 1e6 / seconds, cpuPerGiB: cpu / (bytes / 2 ** 30) };
}

export async function benchBulk(
  paths: readonly RunningPath[],
  { size: bytes, runs }: Pick<BenchOptions, "size" | "runs">,
  progress: (line: string) => void,
): Promise<Partial<Record<PathName, BulkFigures>>> {
  const samples = new Map<PathName, { up: Sample[]; down: Sample[] }>();
  // A first small transfer each way opens lifeline's session and warms every path up.
  for (const path of paths) {
    await upload(path.port, 4 << 20);
    await download(path.port, 4 << 20);
    samples.set(path.name, { up: [], down: [] });
  }
  for (let run = 1; run <= runs; run++) {
    for (const path of paths) {
      const s = samples.get(path.name)!;
      s.up.push(await measure(path, bytes, upload));
      s.down.push(await measure(path, bytes, download));
      const up = s.up.at(-1)!;
      const down = s.down.at(-1)!;
      progress(
        `bulk run ${run}/${runs} ${path.name}: up ${up.mbps.toFixed(0)} MB/s, down ${down.mbps.toFixed(0)} MB/s`,
      );
    }
  }
  const out: Partial<Record<PathName, BulkFigures>> = {};
  for (const path of paths) {
    const s = samples.get(path.name)!;
    const relayed = path.relayPids.length > 0;
    out[path.name] = {
      upMBps: median(s.up.map((x) => x.mbps)),
      downMBps: median(s.down.map((x) => x.mbps)),
      ...(relayed
        ? {
            upCpuPerGiB: median(s.up.map((x) => x.cpuPerGiB)),
            downCpuPerGiB: median(s.down.map((x) => x.cpuPerGiB)),
          }
        : {}),
    };
  }
  return out;
}
