/** Option parsers shared by the subcommands: each turns a flag's text into a value or a clear error. */
import { InvalidArgumentError, Option } from "commander";
import { parseHostPort, type HostPort } from "../ops/address.js";
import type { LogLevel } from "../ops/log.js";
import { parsePin } from "../ops/fingerprint.js";
import { parseDuration, parseSize } from "../ops/units.js";
import { parseTargets } from "../server/targets.js";

function wrap<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export const hostPort = (defaultPort?: number): ((text: string) => HostPort) =>
  wrap((text) => parseHostPort(text, defaultPort));
export const duration = wrap((text) => atLeastOne(parseDuration(text, "s"), text, "a duration"));
export const size = wrap((text) => atLeastOne(parseSize(text), text, "a size"));
export const pin = wrap(parsePin);
export const positiveInt = wrap((text) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`expected a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return n;
});
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
/** A repeatable `[NAME=]HOST:PORT` target, checked as it is given. */
export const target = (value: string, previous: string[] = []): string[] => [
  ...previous,
  wrap((text) => (parseTargets([text]), text))(value),
];

function atLeastOne(value: number, text: string, what: string): number {
  if (value < 1) throw new Error(`expected ${what} above zero, got ${JSON.stringify(text)}`);
  return value;
}
export const logLevel = wrap((text) => {
  if (!["debug", "info", "warn", "error", "silent"].includes(text))
    throw new Error("one of debug, info, warn, error, silent");
  return text as LogLevel;
});

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function formatSize(bytes: number): string {
  if (bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}GiB`;
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MiB`;
  return bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}`;
}

/** A duration flag whose help shows its default in human units (a bare number means seconds). */
export function durationOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).argParser(duration).default(defaultMs, formatDuration(defaultMs));
}

/** A size flag whose help shows its default in human units. */
export function sizeOption(flags: string, description: string, defaultBytes: number): Option {
  return new Option(flags, description).argParser(size).default(defaultBytes, formatSize(defaultBytes));
}
