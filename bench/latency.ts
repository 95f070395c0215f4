/**
 * 2. Round trips: a 64-byte request echoed by the target, one at a time; p50 and p99 of each run,
 * the medians over the runs. Round trips on a shared virtual machine come in modes that last for
 * seconds (whether the processes of a path run on one core or wake each other across cores), so a
 * run of `count` round trips per path is made of blocks taken in turn from every path: each path
 * sees the same mix of machine states.
 */
import type { Socket } from "node:net";
import { open } from "./load.js";
import type { BenchOptions } from "./options.js";
import type { PathName, RunningPath } from "./paths.js";
import { median, percentiles } from "./stats.js";

export interface LatencyFigures {
  p50us: number;
  p99us: number;
}

const REQUEST = Buffer.alloc(64, 0x42);
const WARM_UP = 500;
const BLOCKS = 10;

/** Sends REQUEST `count` times, each after the previous answer; returns every round trip in µs. */
function roundTrips(socket: Socket, count: number): Promise<number[]> {
  const times: number[] = [];
  return new Promise((resolve, reject) => {
    let got = 0;
    let sentAt = 0n;
    const send = (): void => {
      got = 0;
      sentAt = process.hrtime.bigint();
      socket.write(REQUEST);
    };
    const onData = (chunk: Buffer): void => {
      got += chunk.length;
      if (got < REQUEST.length) return;
      times.push(Number(process.hrtime.bigint() - sentAt) / 1000);
      if (times.length < count) return send();
      socket.off("data", onData);
      socket.off("close", onClose);
      resolve(times);
    };
    const onClose = (): void => reject(new Error("latency: connection closed"));
    socket.on("data", onData);
    socket.once("close", onClose);
    send();
  });
}

export async function benchLatency(
  paths: readonly RunningPath[],
  { roundTrips: count, runs }: Pick<BenchOptions, "roundTrips" | "runs">,
  progress: (line: string) => void,
): Promise<Partial<Record<PathName, LatencyFigures>>> {
  const runsOf = new Map<PathName, { p50: number; p99: number }[]>(paths.map((p) => [p.name, []]));
  const sockets = await Promise.all(paths.map((path) => open(path.port, "E")));
  try {
    for (const socket of sockets) await roundTrips(socket, WARM_UP);
    for (let run = 1; run <= runs; run++) {
      const samples = paths.map((): number[] => []);
      for (let block = 0; block < BLOCKS; block++) {
        for (const [i, socket] of sockets.entries()) {
          const n = Math.floor((count * (block + 1)) / BLOCKS) - Math.floor((count * block) / BLOCKS);
          samples[i]!.push(...(await roundTrips(socket, n)));
        }
      }
      const line = paths.map((path, i) => {
        const { p50, p99 } = percentiles(samples[i]!.sort((a, b) => a - b));
        runsOf.get(path.name)!.push({ p50, p99 });
        return `${path.name} ${p50.toFixed(0)}/${p99.toFixed(0)}`;
      });
      progress(`latency run ${run}/${runs}, p50/p99 µs: ${line.join(", ")}`);
    }
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  const out: Partial<Record<PathName, LatencyFigures>> = {};
  for (const [name, list] of runsOf) {
    out[name] = { p50us: median(list.map((r) => r.p50)), p99us: median(list.map((r) => r.p99)) };
  }
  return out;
}
