/** `--check-config` output: every setting of a command, its effective value, and where it came from. */
import type { Command, Option } from "commander";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { formatDuration, formatSize } from "../ops/units.js";

export function describeSettings(command: Command): string {
  const rows: string[][] = [];
  for (const option of command.options) {
    if (option.negate || option.long === "--check-config") continue;
    const attribute = option.attributeName();
    const value = command.getOptionValue(attribute) as unknown;
    let shown = show(option, value);
    let source = command.getOptionValueSource(attribute) ?? "unset";
    // What applies when nothing is set, where the value itself is worked out at start.
    if (shown === "-" && option.defaultValueDescription && (source === "unset" || source === "default")) {
      shown = option.defaultValueDescription;
      source = "default";
    }
    rows.push([(option.long ?? "").slice(2), shown, source]);
  }
  const width = Math.max(...rows.map(([key]) => (key as string).length));
  return rows
    .map(([key, value, source]) => `  ${(key as string).padEnd(width)}  ${value}  (${source})\n`)
    .join("");
}

function show(option: Option, value: unknown): string {
  if (value === undefined) return "-";
  if (typeof value === "number") {
    if (option.flags.includes("<duration>")) return formatDuration(value);
    if (option.flags.includes("<bytes>")) return formatSize(value);
  }
  if (typeof value === "object" && value !== null && "host" in value && "port" in value)
    return formatHostPort(value as HostPort);
  return Array.isArray(value) ? value.join(", ") || "-" : String(value);
}
