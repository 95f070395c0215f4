/** Machine facts printed with every benchmark, since figures mean little without them. */
import os from "node:os";

export function machineFacts(): string {
  const cpus = os.cpus();
  return [
    `date ${new Date().toISOString()}`,
    `node ${process.version}`,
    `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}`,
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `${os.platform()} ${os.release()}`,
  ].join(", ");
}

/** Runs `fn` `runs` times and returns the median of the measured seconds. */
export function medianSeconds(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
