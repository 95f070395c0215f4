/**
 * 6. Many streams at once: `channels` connections through the path (for lifeline, all channels of
 * one session), each downloading or uploading without end. After a warm-up, the bytes each moved
 * in a window of `seconds` give the total throughput and the slowest one's share (1.00 = an exact
 * 1/N of the total; 0.5 = half its fair share).
 */
import type { Socket } from "node:net";
import { open } from "./load.js";
import type { PathName, RunningPath } from "./paths.js";
import { sleep } from "./stats.js";
import { pour, type Target } from "./target.js";

export interface FairnessFigures {
  downMBps: number;
  downSlowestShare: number;
  upMBps: number;
  upSlowestShare: number;
}

const WARM_UP_MS = 1000;

/** Total MB/s and the slowest stream's share of its fair 1/N, from the byte counts at two instants. */
function shares(before: number[], after: number[], seconds: number): { mbps: number; slowest: number } {
  const moved = after.map((n, i) => n - (before[i] ?? 0));
  const total = moved.reduce((a, b) => a + b, 0);
  return { mbps: total / 1e6 / seconds, slowest: Math.min(...moved) / (total / moved.length) };
}

/** Waits until every stream has moved a byte (a busy event loop may accept late), then warms up. */
async function window(
  sockets: Socket[],
  counts: () => number[],
  seconds: number,
): Promise<{ mbps: number; slowest: number }> {
  const deadline = performance.now() + 30_000;
  while (counts().some((n) => n === 0) && performance.now() < deadline) await sleep(20);
  await sleep(WARM_UP_MS);
  const before = counts();
  const start = performance.now();
  await sleep(seconds * 1000);
  const after = counts();
  const elapsed = (performance.now() - start) / 1000;
  for (const s of sockets) s.destroy();
  await sleep(500); // let the relays drop the streams before the next measurement
  return shares(before, after, elapsed);
}

async function downloads(path: RunningPath, channels: number, seconds: number) {
  const received = new Array<number>(channels).fill(0);
  const sockets = await Promise.all(
    Array.from({ length: channels }, async (_, i) => {
      const socket = await open(path.port, "D");
      socket.on("data", (chunk: Buffer) => (received[i]! += chunk.length));
      return socket;
    }),
  );
  return window(sockets, () => [...received], seconds);
}

async function uploads(
  path: RunningPath,
  target: Target,
  channels: number,
  seconds: number,
  tagBase: number,
) {
  const sockets = await Promise.all(
    Array.from({ length: channels }, async (_, i) => {
      const socket = await open(path.port, "U", undefined, tagBase + i);
      pour(socket);
      return socket;
    }),
  );
  const counts = (): number[] =>
    Array.from({ length: channels }, (_, i) => target.uploaded.get(tagBase + i) ?? 0);
  return window(sockets, counts, seconds);
}

export async function benchFairness(
  paths: readonly RunningPath[],
  target: Target,
  channels: number,
  seconds: number,
  progress: (line: string) => void,
): Promise<Partial<Record<PathName, FairnessFigures>>> {
  const out: Partial<Record<PathName, FairnessFigures>> = {};
  let tagBase = 1_000_000;
  for (const path of paths) {
    const down = await downloads(path, channels, seconds);
    const up = await uploads(path, target, channels, seconds, (tagBase += channels));
    out[path.name] = {
      downMBps: down.mbps,
      downSlowestShare: down.slowest,
      upMBps: up.mbps,
      upSlowestShare: up.slowest,
    };
    progress(
      `fairness ${path.name}: down ${down.mbps.toFixed(0)} MB/s (slowest ${down.slowest.toFixed(2)}), up ${up.mbps.toFixed(0)} MB/s (slowest ${up.slowest.toFixed(2)})`,
    );
  }
  return out;
}
