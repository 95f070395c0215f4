/** Human units for durations ("180s", "3m", "250ms") and sizes ("4MiB", "64k"), parsed strictly. */

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Parses a duration; a bare number is in `bareUnit` ("s" by default). Returns milliseconds. */
export function parseDuration(text: string, bareUnit: "ms" | "s" = "s"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (examples: 180, 180s, 3m, 250ms)`);
  const unit = (m[2] ?? bareUnit).toLowerCase();
  return Math.round(Number(m[1]) * (DURATION_MS[unit] as number));
}

/** Parses a size in bytes ("4MiB", "64k", "1048576"). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = m ? SIZE_BYTES[(m[2] ?? "").toLowerCase()] : undefined;
  if (!m || factor === undefined)
    throw new Error(`not a size: ${JSON.stringify(text)} (examples: 4MiB, 64k, 1048576)`);
  return Math.round(Number(m[1]) * factor);
}

/** A duration in the units it is written in ("5s", "3m", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A size in the largest binary unit that divides it ("4MiB", "64KiB", "1000"). */
export function formatSize(bytes: number): string {
  if (bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}GiB`;
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MiB`;
  return bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}`;
}
