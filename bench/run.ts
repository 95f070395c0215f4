/** `npm run bench`: prints figures, asserts nothing. See options.ts for the flags. */
import { benchBulk } from "./bulk.js";
import { benchCodec } from "./codec.js";
import { benchFairness } from "./fairness.js";
import { benchIdle } from "./idle.js";
import { benchLatency } from "./latency.js";
import { benchResume } from "./resume.js";
import { render, writeResults, type Results } from "./results.js";
import { benchStorm } from "./storm.js";
import { machineFacts } from "./machine.js";
import { parseOptions } from "./options.js";
import { startPath, type RunningPath } from "./paths.js";
import { cleanUp, installCleanUp, lifelineNodeFlags } from "./processes.js";
import { ensureStunnel } from "./stunnel.js";
import { Target } from "./target.js";

const options = parseOptions(process.argv.slice(2));
installCleanUp();
if (options.prof) lifelineNodeFlags.push("--cpu-prof", `--cpu-prof-dir=${options.prof}`);
const progress = (line: string): void => console.error(`  ${line}`);
const results: Results = { machine: machineFacts() };
console.log(`lifeline benchmarks — ${results.machine}`);

try {
  if (options.paths.includes("stunnel") && !ensureStunnel()) {
    options.paths = options.paths.filter((p) => p !== "stunnel");
  }
  const streams = options.parts.filter((p) => p === "bulk" || p === "latency" || p === "fairness");
  if (streams.length > 0) {
    const target = new Target();
    const targetPort = await target.listen();
    const paths: RunningPath[] = [];
    try {
      for (const name of options.paths) paths.push(await startPath(name, targetPort));
      if (options.parts.includes("bulk")) results.bulk = await benchBulk(paths, options, progress);
      if (options.parts.includes("latency")) results.latency = await benchLatency(paths, options, progress);
      if (options.parts.includes("fairness"))
        results.fairness = await benchFairness(paths, target, options.channels, options.seconds, progress);
    } finally {
      for (const path of paths) await path.stop();
      target.close();
    }
  }
  if (options.parts.includes("idle"))
    results.idle = await benchIdle(options.paths, options.sessions, progress);
  if (options.parts.includes("resume"))
    results.resume = await benchResume(options.cuts, options.deadLinks, progress);
  if (options.parts.includes("storm")) {
    results.storm = [];
    for (const n of options.storm)
      results.storm.push(await benchStorm(n, options.stormPerAddress, options.paths, progress));
  }
  if (options.parts.includes("codec")) results.codec = benchCodec();
  console.log(`\n${render(results, options)}`);
  if (options.results) {
    await writeResults(options.results, results, options);
    console.log(`\nwritten to ${options.results}`);
  }
} finally {
  await cleanUp();
}
