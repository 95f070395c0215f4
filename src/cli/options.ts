/** Option parsers shared by the subcommands: each turns a flag's text into a value or a clear error. */
import { InvalidArgumentError, Option, type Command } from "commander";
import { parseHostPort, type HostPort } from "../ops/address.js";
import type { LogLevel } from "../ops/log.js";
import { parsePin } from "../ops/fingerprint.js";
import { defaultStateDir } from "../server/credentials.js";
import { formatDuration, formatSize, parseDuration, parseSize } from "../ops/units.js";
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
/** A repeatable `--pin`, checked as it is given. */
export const pins = (value: string, previous: string[] = []): string[] => [
  ...previous,
  wrap(parsePin)(value),
];
export const positiveInt = wrap((text) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`expected a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return n;
});
export const portNumber = wrap((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`expected a port from 1 to 65535, got ${JSON.stringify(text)}`);
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

const durationOrZero = wrap((text) => parseDuration(text, "s"));

/** A duration flag whose help shows its default in human units (a bare number means seconds). */
export function durationOption(
  flags: string,
  description: string,
  defaultMs: number,
  zeroAllowed = false,
): Option {
  return new Option(flags, description)
    .argParser(zeroAllowed ? durationOrZero : duration)
    .default(defaultMs, formatDuration(defaultMs));
}

/** A size flag whose help shows its default in human units. */
export function sizeOption(flags: string, description: string, defaultBytes: number): Option {
  return new Option(flags, description).argParser(size).default(defaultBytes, formatSize(defaultBytes));
}

/** How a client command trusts the server and finds its token: the same flags for connect and doctor. */
export function addTrustOptions(command: Command): Command {
  return command
    .option(
      "--ca <file>",
      "trust server certificates signed by this CA bundle (or this self-signed certificate)",
    )
    .option(
      "--pin <sha256:...>",
      "trust only a server certificate with this SHA-256 fingerprint; repeatable (the old and the new one during a rotation)",
      pins,
      [],
    )
    .option("--known-hosts <file>", "trust-on-first-use store (default: known_hosts in the state directory)")
    .option("--token-file <file>", "file holding the client token (or set LIFELINE_TOKEN)")
    .option(
      "--state-dir <dir>",
      "where known_hosts (and, on the server's machine, its token) live",
      defaultStateDir(),
    );
}
