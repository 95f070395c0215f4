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
/** A repeatable `--pin`, checked as it is given. */
export const pins = (value: string, previous: string[] = []): string[] => [
  ...previous,
  wrap(parsePin)(value),
];
/** A whole number from 1 to `max`. */
export const countUpTo = (max: number): ((text: string) => number) =>
  wrap((text) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? "≥ 1" : `from 1 to ${max}`;
      throw new Error(`expected a whole number ${range}, got ${JSON.stringify(text)}`);
    }
    return n;
  });
export const positiveInt = countUpTo(Number.MAX_SAFE_INTEGER);
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

/** A size flag whose help shows its default in human units; `maxBytes` where the protocol sets a bound. */
export function sizeOption(
  flags: string,
  description: string,
  defaultBytes: number,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Option {
  const parse = wrap((text) => {
    const bytes = atLeastOne(parseSize(text), text, "a size");
    if (bytes > maxBytes) throw new Error(`expected at most ${maxBytes} bytes, got ${JSON.stringify(text)}`);
    return bytes;
  });
  return new Option(flags, description).argParser(parse).default(defaultBytes, formatSize(defaultBytes));
}

/** A flag that may be given several times, each value checked by `parse`; `none` says what applies without it. */
export function repeatableOption(
  flags: string,
  description: string,
  parse: (value: string, previous: string[]) => string[],
  none = "none",
): Option {
  return new Option(flags, description).argParser(parse).default([], none);
}

/**
 * A flag whose default is worked out at start (a file in the state directory, the server's host):
 * no value here, and `shown` for help (see main.ts) and --check-config to print.
 */
export function computedDefaultOption(flags: string, description: string, shown: string): Option {
  return new Option(flags, description).default(undefined, shown);
}

/** The protocol's largest receive window (a u32 of bytes). */
export const MAX_WINDOW = 2 ** 32 - 1;

/** How a client command trusts the server and finds its token: the same flags for connect and doctor. */
export function addTrustOptions(command: Command): Command {
  return command
    .option(
      "--ca <file>",
      "trust server certificates signed by this CA bundle (or this self-signed certificate)",
    )
    .addOption(
      repeatableOption(
        "--pin <sha256:...>",
        "trust only a server certificate with this SHA-256 fingerprint; repeatable (the old and the new one during a rotation)",
        pins,
      ),
    )
    .addOption(
      computedDefaultOption("--known-hosts <file>", "trust-on-first-use store", "<state-dir>/known_hosts"),
    )
    .option("--token-file <file>", "file holding the client token (or set LIFELINE_TOKEN)")
    .option(
      "--state-dir <dir>",
      "where known_hosts (and, on the server's machine, its token) live",
      defaultStateDir(),
    );
}
