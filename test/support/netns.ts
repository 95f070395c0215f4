/**
 * Two Linux network namespaces joined by a veth pair: a "server" host and a "client" host with
 * their own addresses. Nothing is added to the machine's own namespace; everything is deleted when
 * the test ends, pass or fail. Needs root and iproute2.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { eachLine } from "./procs.js";
import type { TestContext } from "node:test";

export interface Topology {
  server: string;
  client: string;
  serverAddress: string;
  clientAddress: string;
  /** The client's end of the veth pair (inside the client namespace). */
  clientDevice: string;
  /** The server's end (inside the server namespace). */
  serverDevice: string;
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for ip netns";
  const probe = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) return "needs iproute2 (ip netns)";
  return undefined;
}

export function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function makeTopology(t: TestContext): Topology {
  const tag = `${process.pid % 100_000}${Math.floor(Math.random() * 100)}`;
  const topology: Topology = {
    server: `ll${tag}s`,
    client: `ll${tag}c`,
    serverAddress: "10.99.0.1",
    clientAddress: "10.99.0.2",
    clientDevice: `vc${tag}`,
    serverDevice: `vs${tag}`,
  };
  const { serverDevice } = topology;
  t.after(() => {
    for (const ns of [topology.server, topology.client]) {
      // Every process inside these namespaces was started by this test: end them, then the namespace.
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      spawnSync("ip", ["netns", "del", ns]);
    }
  });
  ip("netns", "add", topology.server);
  ip("netns", "add", topology.client);
  ip("-n", topology.server, "link", "set", "lo", "up");
  ip("-n", topology.client, "link", "set", "lo", "up");
  // Created inside the server namespace, then one end moved: the host namespace never holds either.
  ip(
    "-n",
    topology.server,
    "link",
    "add",
    serverDevice,
    "type",
    "veth",
    "peer",
    "name",
    topology.clientDevice,
    "netns",
    topology.client,
  );
  ip("-n", topology.server, "addr", "add", `${topology.serverAddress}/24`, "dev", serverDevice);
  ip("-n", topology.client, "addr", "add", `${topology.clientAddress}/24`, "dev", topology.clientDevice);
  ip("-n", topology.server, "link", "set", serverDevice, "up");
  ip("-n", topology.client, "link", "set", topology.clientDevice, "up");
  return topology;
}

/**
 * Why black-hole tests cannot run here, or undefined when they can: they need the nft command and
 * nftables in the kernel, which is tried in a namespace of its own, made and deleted for the probe.
 */
export function nftUnavailable(): string | undefined {
  const version = spawnSync("nft", ["--version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) return "needs nftables (nft)";
  const probe = `llnft${process.pid}`;
  try {
    ip("netns", "add", probe);
    const table = spawnSync("ip", ["netns", "exec", probe, "nft", "-f", "-"], {
      input: "table inet lifeline_probe {}\n",
      encoding: "utf8",
    });
    return table.status === 0 ? undefined : `nftables does not work here: ${table.stderr.trim()}`;
  } catch (err) {
    return `cannot make a namespace to try nftables: ${(err as Error).message}`;
  } finally {
    spawnSync("ip", ["netns", "del", probe]);
  }
}

/**
 * Makes the veth pair a silent black hole: each namespace drops whatever arrives on its end, with
 * nftables rules inside that namespace. Both interfaces stay up and addressed, nothing is refused
 * or reset: packets just vanish, as on a dead Wi-Fi or a stateful firewall that forgot the flow.
 * Returns the function that lets traffic through again.
 */
export function blackHole(topology: Topology): () => void {
  const ends: [string, string][] = [
    [topology.client, topology.clientDevice],
    [topology.server, topology.serverDevice],
  ];
  for (const [ns, device] of ends) {
    const rules = `table inet lifeline_black_hole {
  chain input { type filter hook input priority 0; iifname "${device}" drop; }
}
`;
    execFileSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
      input: rules,
      stdio: ["pipe", "ignore", "pipe"],
    });
  }
  return () => {
    for (const [ns] of ends) {
      execFileSync("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "lifeline_black_hole"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    }
  };
}

/** The command prefix that runs node inside namespace `ns`. */
export function inNamespace(ns: string): string[] {
  return ["ip", "netns", "exec", ns, process.execPath];
}

/** Runs a compiled test script (dist/test/support/NAME.js) with node inside `ns`; killed by PID at the end. */
export function scriptIn(
  t: TestContext,
  ns: string,
  name: string,
  args: string[],
): { child: ChildProcess; line: (i: number) => Promise<string> } {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const waiting: ((line: string) => void)[] = [];
  const seen: string[] = [];
  if (child.stdout) {
    eachLine(child.stdout, (l) => {
      seen.push(l);
      waiting.shift()?.(l);
    });
  }
  const line = (i: number): Promise<string> =>
    seen[i] !== undefined
      ? Promise.resolve(seen[i] as string)
      : new Promise((resolve) => waiting.push(resolve));
  return { child, line };
}
