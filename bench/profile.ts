/**
 * `node dist/bench/profile.js FILE_OR_DIR... [--top 15]`: the functions with the most self time in
 * V8 .cpuprofile files (from `npm run bench -- --prof DIR`), one table per file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** Self time per function (by name and place), largest first. */
export function selfTimes(profile: Profile): SelfTime[] {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = byNode.get(id)?.callFrame;
    if (!frame) return;
    const where = frame.url
      ? ` ${relative(process.cwd(), frame.url.replace(/^file:\/\//, ""))}:${frame.lineNumber + 1}`
      : "";
    const key = `${frame.functionName || "(anonymous)"}${where}`;
    ms.set(key, (ms.get(key) ?? 0) + delta);
    total += delta;
  });
  return [...ms].map(([name, t]) => ({ name, ms: t, share: t / total })).sort((a, b) => b.ms - a.ms);
}

function files(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith(".cpuprofile"))
          .map((f) => join(p, f))
      : [p],
  );
}

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15;
for (const file of files(args)) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  console.log(`\n${basename(file)} (${seconds.toFixed(1)} s profiled)`);
  for (const t of selfTimes(profile).slice(0, top)) {
    console.log(`${(t.share * 100).toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`);
  }
}
