/**
 * 2. Round trips: a 64-byte request echoed by the target, one at a time, `count` per run after a
 * warm-up; p50 and p99 of each run, the medians over the runs.
 */
import type { Socket } from "node:net";
import { open } from "./load.js";
import type { PathName, RunningPath } from "./paths.js";
import { median, percentiles } from "./stats.js";

export interface LatencyFigures {
  p50us: number;
  p99us: number;
}

const REQUEST = Buffer.alloc(64, 0x42);
const WARM_UP = 500;

/** Sends REQUEST `count` times, each after the previous answer; returns every round trip in µs, sorted. */
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
    socket.on("data", (chunk: Buffer) => {
      got += chunk.length;
      if (got < REQUEST.length) return;
      times.push(Number(process.hrtime.bigint() - sentAt) / 1000);
      if (times.length === count) {
        socket.removeAllListeners("data");
        resolve(times.sort((a, b) => a - b));
      } else send();
    });
    socket.once("close", () => reject(new Error("latency: connection closed")));
    send();
  });
}

export async function benchLatency(
  paths: readonly RunningPath[],
  count: number,
  runs: number,
  progress: (line: string) => void,
): Promise<Partial<Record<PathName, LatencyFigures>>> {
  const runsOf = new Map<PathName, { p50: number; p99: number }[]>(paths.map((p) => [p.name, []]));
  for (let run = 1; run <= runs; run++) {
    for (const path of paths) {
      const socket = await open(path.port, "E");
      await roundTrips(socket, WARM_UP);
      const { p50, p99 } = percentiles(await roundTrips(socket, count));
      socket.destroy();
      runsOf.get(path.name)!.push({ p50, p99 });
      progress(`latency run ${run}/${runs} ${path.name}: p50 ${p50.toFixed(0)} µs, p99 ${p99.toFixed(0)} µs`);
    }
  }
  const out: Partial<Record<PathName, LatencyFigures>> = {};
  for (const [name, list] of runsOf) {
    out[name] = { p50us: median(list.map((r) => r.p50)), p99us: median(list.map((r) => r.p99)) };
  }
  return out;
}
