/**
 * The server's fixed allow-list of targets. Clients name a target; they never supply an address
 * (an open relay is how CVE-2007-2850 happened). `--target [NAME=]HOST:PORT`, name "default" when
 * omitted.
 */
import { TARGET_NAME_PATTERN } from "../core/index.js";
import { parseHostPort, type HostPort } from "../ops/address.js";

export type Targets = ReadonlyMap<string, HostPort>;

export const DEFAULT_TARGET = "default";

export function parseTargets(specs: readonly string[]): Targets {
  const targets = new Map<string, HostPort>();
  for (const spec of specs.length ? specs : ["127.0.0.1:1494"]) {
    const eq = spec.indexOf("=");
    const name = eq > 0 ? spec.slice(0, eq) : DEFAULT_TARGET;
    if (!TARGET_NAME_PATTERN.test(name))
      throw new Error(`target name ${JSON.stringify(name)} must match [A-Za-z0-9._-]{1,255}`);
    if (targets.has(name)) throw new Error(`target ${JSON.stringify(name)} is given twice`);
    targets.set(name, parseHostPort(spec.slice(eq + 1)));
  }
  return targets;
}
