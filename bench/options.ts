/** `npm run bench -- [flags]`: what to run and how big. Sizes and counts can be cut down for a quick look. */
import { parseArgs } from "node:util";
import { parseSize } from "../src/ops/units.js";
import { PATHS, type PathName } from "./paths.js";

export const PARTS = ["bulk", "latency", "idle", "resume", "storm", "fairness", "codec"] as const;
export type Part = (typeof PARTS)[number];

export interface BenchOptions {
  parts: Part[];
  paths: PathName[];
  /** Bulk: bytes per transfer, each way. */
  size: number;
  /** Bulk and latency: runs per path (figures are medians over them). */
  runs: number;
  /** Latency: round trips per run. */
  roundTrips: number;
  /** Idle: how many sessions, one measurement each. */
  sessions: number[];
  /** Resume: link cuts. */
  cuts: number;
  /** Resume: silent dead links. */
  deadLinks: number;
  /** Storm: sessions that lose their links at once, one storm each. */
  storm: number[];
  /** Storm: sessions that reach serve from one source address (many: users behind one NAT address). */
  stormPerAddress: number;
  /** Fairness: streams sharing one session, and the measured window in seconds. */
  channels: number;
  seconds: number;
  /** Where the results go as Markdown; undefined: printed only. */
  results: string | undefined;
  /** Write --cpu-prof profiles of the lifeline processes here. */
  prof: string | undefined;
  quick: boolean;
}

const USAGE = `npm run bench -- [--quick] [--only ${PARTS.join(",")}] [--paths ${PATHS.join(",")}]
  [--size 1GiB] [--runs 5] [--round-trips 20000] [--sessions 1000,10000] [--cuts 100] [--dead-links 3]
  [--storm 2000,10000] [--storm-per-address 10] [--channels 100] [--seconds 5] [--results FILE] [--prof DIR]
A full run (no flag that changes what is measured) writes bench/RESULTS.md; otherwise only --results writes.`;

const list = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      paths: { type: "string" },
      size: { type: "string" },
      runs: { type: "string" },
      "round-trips": { type: "string" },
      sessions: { type: "string" },
      cuts: { type: "string" },
      "dead-links": { type: "string" },
      storm: { type: "string" },
      "storm-per-address": { type: "string" },
      channels: { type: "string" },
      seconds: { type: "string" },
      results: { type: "string" },
      prof: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const int = (name: string, text: string | undefined, full: number, short: number): number => {
    if (text === undefined) return quick ? short : full;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error(`--${name} takes a positive integer, not ${text}\n${USAGE}`);
    return n;
  };
  const ints = (name: string, text: string | undefined, full: number[], short: number[]): number[] =>
    text === undefined ? (quick ? short : full) : list(text).map((s) => int(name, s, 0, 0));
  const parts = values.only ? list(values.only) : [...PARTS];
  for (const p of parts) if (!PARTS.includes(p as Part)) throw new Error(`no part ${p}\n${USAGE}`);
  const paths = values.paths ? list(values.paths) : [...PATHS];
  for (const p of paths) if (!PATHS.includes(p as PathName)) throw new Error(`no path ${p}\n${USAGE}`);
  const changed = Object.keys(values).some(
    (k) => !["help", "results", "prof"].includes(k) && values[k as "quick"],
  );
  return {
    parts: parts as Part[],
    paths: paths as PathName[],
    size: values.size ? parseSize(values.size) : quick ? 64 * 2 ** 20 : 2 ** 30,
    runs: int("runs", values.runs, 5, 3),
    roundTrips: int("round-trips", values["round-trips"], 20_000, 2_000),
    sessions: ints("sessions", values.sessions, [1000, 10_000], [300]),
    cuts: int("cuts", values.cuts, 100, 8),
    deadLinks: int("dead-links", values["dead-links"], 3, 1),
    storm: ints("storm", values.storm, [2000, 10_000], [500]),
    stormPerAddress: int("storm-per-address", values["storm-per-address"], 10, 10),
    channels: int("channels", values.channels, 100, 100),
    seconds: int("seconds", values.seconds, 5, 2),
    results: values.results ?? (changed ? undefined : "bench/RESULTS.md"),
    prof: values.prof,
    quick,
  };
}
