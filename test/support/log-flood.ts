/**
 * A child process for the logging test: writes `MIB` MiB of event lines through the event log's
 * own stderr destination, then prints as JSON on stdout the lines it wrote and dropped, and how
 * much its resident memory grew. Run as `node log-flood.js MIB`.
 */
import { EventLog } from "../../src/ops/log.js";

const mib = Number(process.argv[2]);
const log = new EventLog("serve", "info");
const filler = "x".repeat(200);
const before = process.memoryUsage().rss;
let lines = 0;
for (let bytes = 0; bytes < mib * 2 ** 20; bytes += 300) {
  log.warn("channel.refused", "channel refused: no such target", { target: filler, line: lines++ });
}
const grown = process.memoryUsage().rss - before;
process.stdout.write(`${JSON.stringify({ lines, dropped: log.droppedLines, grownMiB: grown / 2 ** 20 })}\n`);
