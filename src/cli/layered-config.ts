/**
 * One precedence order for every setting of a role: command-line flag, then environment variable
 * (`LIFELINE_SERVE_SESSION_TIMEOUT` for `serve --session-timeout`), then the YAML config file given
 * with `--config`, then the built-in default. Config keys are the flag names (`session-timeout:`);
 * each value goes through the same parser as its flag, and unknown keys are refused.
 */
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { CommanderError, type Command, type Option } from "commander";
import { parse as parseYaml } from "yaml";
import { EventLog } from "../ops/log.js";

/** Flags that steer the process rather than configure it: not settable from a file or the environment. */
const NOT_CONFIGURABLE = new Set(["help", "version", "config", "check-config"]);

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The key of an option in config files: its long flag without dashes (and without "no-"). */
function keyOf(option: Option): string {
  return (option.long ?? "").replace(/^--(no-)?/, "");
}

function envName(role: string, key: string): string {
  return `LIFELINE_${role}_${key}`.toUpperCase().replace(/-/g, "_");
}

/**
 * Adds `--config FILE` to `command` and an environment variable to each of its options. Call it
 * after the command's own options are defined.
 */
export function addLayeredConfig(command: Command, role: "serve" | "connect" | "host"): Command {
  command.option(
    "--config <file>",
    `YAML file of settings; keys are these flags' names (or ${envName(role, "config")})`,
  );
  command.hook("preAction", (cmd) => {
    const file = configFile(cmd, role);
    try {
      if (file) applyConfigFile(cmd, file);
      applyEnvironment(cmd, role, process.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      new EventLog(role).error("config.invalid", err.message, file ? { file } : {});
      throw new CommanderError(2, "lifeline.config", err.message);
    }
  });
  return command;
}

function configFile(command: Command, role: string): string | undefined {
  return (command.getOptionValue("config") as string | undefined) ?? process.env[envName(role, "config")];
}

/** What a reload read: the keys whose value it changed, and how to put some of them back. */
export interface Reread {
  changed: string[];
  /** Gives `keys` (all when omitted) the values and sources they had before the reload. */
  restore(keys?: readonly string[]): void;
}

/**
 * Reads the config file of `command` again (SIGHUP). Settings given on the command line or in the
 * environment keep their values; a setting the file no longer gives returns to its default. On a
 * ConfigError nothing has changed.
 */
export function rereadConfigFile(command: Command, role: "serve" | "connect" | "host"): Reread {
  const byKey = configurable(command);
  const before = new Map<string, { attribute: string; value: unknown; source: string | undefined }>();
  for (const [key, options] of byKey) {
    const attribute = (options[0] as Option).attributeName();
    before.set(key, {
      attribute,
      value: command.getOptionValue(attribute),
      source: command.getOptionValueSource(attribute),
    });
  }
  const restore = (keys: readonly string[] = [...before.keys()]): void => {
    for (const key of keys) {
      const was = before.get(key);
      if (was) command.setOptionValueWithSource(was.attribute, was.value, was.source as "default");
    }
  };
  try {
    for (const [key, was] of before) {
      if (was.source !== "config") continue;
      const options = byKey.get(key) as Option[];
      const defaultValue = (options.find((o) => !o.negate) ?? (options[0] as Option)).defaultValue;
      command.setOptionValueWithSource(was.attribute, defaultValue, "default");
    }
    const file = configFile(command, role);
    if (file) applyConfigFile(command, file);
  } catch (err) {
    restore();
    throw err;
  }
  const changed = [...before]
    .filter(([, was]) => !isDeepStrictEqual(command.getOptionValue(was.attribute), was.value))
    .map(([key]) => key);
  return { changed, restore };
}

/** The options a config file or the environment may set, by key. */
function configurable(command: Command): Map<string, Option[]> {
  const byKey = new Map<string, Option[]>();
  for (const option of command.options) {
    const key = keyOf(option);
    if (NOT_CONFIGURABLE.has(key)) continue;
    byKey.set(key, [...(byKey.get(key) ?? []), option]);
  }
  return byKey;
}

/**
 * Applies `LIFELINE_<ROLE>_<KEY>` variables to every option not set on the command line. One with
 * that prefix that names no setting is refused, as an unknown key in the file is: a misspelt
 * variable would otherwise leave its setting at the default without a word.
 */
export function applyEnvironment(command: Command, role: string, env: NodeJS.ProcessEnv): void {
  const settings = configurable(command);
  const known = new Set([...settings.keys(), "config"].map((key) => envName(role, key)));
  const prefix = envName(role, "");
  for (const name of Object.keys(env)) {
    if (name.startsWith(prefix) && !known.has(name))
      throw new ConfigError(
        `environment variable ${name} is not a setting of lifeline ${role}; known: ${[...known].join(", ")}`,
      );
  }
  for (const [key, options] of settings) {
    const name = envName(role, key);
    const text = env[name];
    if (text === undefined) continue;
    const attribute = (options[0] as Option).attributeName();
    if (command.getOptionValueSource(attribute) === "cli") continue;
    if (text.trim() === "") continue; // set but empty: as if unset
    const repeatable = Array.isArray(options.find((o) => !o.negate)?.defaultValue);
    const value = repeatable ? text.split(",").map((item) => item.trim()) : text;
    try {
      command.setOptionValueWithSource(attribute, convert(options, value), "env");
    } catch (err) {
      throw new ConfigError(`environment variable ${name}: ${(err as Error).message}`);
    }
  }
}

/** Applies the settings in `file` to every option not set on the command line or in the environment. */
export function applyConfigFile(command: Command, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (document === null || document === undefined) return;
  if (typeof document !== "object" || Array.isArray(document))
    throw new ConfigError(`${file}: expected a mapping of settings (key: value), got ${describe(document)}`);

  const byKey = configurable(command);
  for (const [key, value] of Object.entries(document)) {
    const options = byKey.get(key);
    if (!options)
      throw new ConfigError(`${file}: unknown key "${key}"; known keys: ${[...byKey.keys()].join(", ")}`);
    const attribute = (options[0] as Option).attributeName();
    const source = command.getOptionValueSource(attribute);
    if (source === "cli" || source === "env") continue;
    try {
      command.setOptionValueWithSource(attribute, convert(options, value), "config");
    } catch (err) {
      throw new ConfigError(`${file}: ${key}: ${(err as Error).message}`);
    }
  }
}

const TRUE_WORDS = /^(true|yes|on|1)$/i;
const FALSE_WORDS = /^(false|no|off|0)$/i;

/** true, false, or undefined when `value` is not a yes/no word (YAML and environment alike). */
function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const text = String(value);
  return TRUE_WORDS.test(text) ? true : FALSE_WORDS.test(text) ? false : undefined;
}

/** Turns a YAML or environment value into the option's value with the flag's own parser. */
function convert(options: Option[], value: unknown): unknown {
  const valued = options.find((o) => !o.negate && (o.required || o.optional));
  if (!valued) {
    const flag = asBoolean(value);
    if (flag === undefined) throw new Error(`expected true or false, got ${describe(value)}`);
    return flag;
  }
  if (options.some((o) => o.negate)) {
    // An option that can be switched off (fallback, admin-socket): "no" is off, "yes" is its default.
    const flag = asBoolean(value);
    if (flag !== undefined) return flag ? valued.defaultValue : false;
  }
  const parse = (text: string, previous: unknown): unknown =>
    valued.parseArg ? valued.parseArg(text, previous) : text;
  if (Array.isArray(valued.defaultValue)) {
    // A repeatable flag: a list, a single value, or (for named entries like targets) a mapping.
    // Never an empty one: "pin: []" would silently mean trust on first use, "target: {}" the default.
    if ((Array.isArray(value) && value.length === 0) || (isMapping(value) && Object.keys(value).length === 0))
      throw new Error("an empty list: give at least one value, or leave the setting out");
    const items = Array.isArray(value)
      ? value.map(scalar)
      : isMapping(value)
        ? Object.entries(value).map(([name, v]) => {
            if (name.includes("=")) throw new Error(`a name may not contain "=": ${JSON.stringify(name)}`);
            return `${name}=${scalar(v)}`;
          })
        : [scalar(value)];
    return items.reduce<unknown>((all, item) => parse(item, all), []);
  }
  return parse(scalar(value), valued.defaultValue);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "number") throw new Error(`expected a finite number, got ${String(value)}`);
  throw new Error(`expected a string or a number, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}
