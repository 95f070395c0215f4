/**
 * Every child process and temporary directory of a benchmark run: started here, ended by PID (on
 * success, on an error, and on Ctrl-C), and measured here (CPU seconds and resident memory from
 * /proc).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lifelineArgs } from "../src/cli/command.js";
import { ip, netnsUnavailable } from "../test/support/netns.js";
import { LifelineProcess } from "../test/support/procs.js";

/** The one entry point of the bench's own child processes (targets, proxies, clients, the Node pipe). */
const CHILD_ENTRY = fileURLToPath(new URL("./child.js", import.meta.url));

const live = new Set<LifelineProcess>();
const dirs = new Set<string>();
const namespaces = new Set<string>();
/** While set, new processes start inside this network namespace (see `withOwnNamespace`). */
let spawnNamespace: string | undefined;

/**
 * Node flags for the processes that run lifeline's code: `lifeline` itself and the light client
 * (e.g. --cpu-prof, set by `--prof DIR`).
 */
export const lifelineNodeFlags: string[] = [];

/** A temporary directory, removed when the run ends. */
export function tempDir(prefix = "lifeline-bench-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/**
 * Runs `body` with every process it starts inside a network namespace of its own: its own loopback
 * and its own `sysctls` (net.* keys), so that a measurement can have the settings
 * docs/OPERATIONS.md asks administrators for without changing the machine's. The namespace is
 * deleted afterwards, however the run ends. Without root or iproute2, `body` runs in the machine's
 * namespace and is told so (undefined).
 */
export async function withOwnNamespace<T>(
  sysctls: Record<string, string>,
  body: (namespace: string | undefined) => Promise<T>,
): Promise<T> {
  if (netnsUnavailable()) return body(undefined);
  const ns = `lifeline-bench-${process.pid}`;
  ip("netns", "add", ns);
  namespaces.add(ns);
  try {
    ip("-n", ns, "link", "set", "lo", "up");
    for (const [key, value] of Object.entries(sysctls))
      ip("netns", "exec", ns, "sysctl", "-qw", `${key}=${value}`);
    spawnNamespace = ns;
    return await body(ns);
  } finally {
    spawnNamespace = undefined;
    deleteNamespace(ns);
  }
}

function deleteNamespace(ns: string): void {
  spawnSync("ip", ["netns", "del", ns]);
  namespaces.delete(ns);
}

/** The network namespace new processes start in right now (see `withOwnNamespace`), if any. */
export function currentNamespace(): string | undefined {
  return spawnNamespace;
}

/** A counter of /proc/net/netstat (e.g. TcpExt ListenOverflows), in `namespace` or the machine's. */
export function netstatCounter(group: string, name: string, namespace?: string): number {
  const text = namespace
    ? execFileSync("ip", ["netns", "exec", namespace, "cat", "/proc/net/netstat"], { encoding: "utf8" })
    : readFileSync("/proc/net/netstat", "utf8");
  const lines = text.split("\n").filter((l) => l.startsWith(`${group}:`));
  const names = (lines[0] ?? "").split(/\s+/);
  const values = (lines[1] ?? "").split(/\s+/);
  return Number(values[names.indexOf(name)] ?? NaN);
}

/** Spawns `cmd args`; its stderr is read as JSON log lines (other lines are kept as text). */
export function startProcess(cmd: string, args: string[], ipc = false): LifelineProcess {
  // `ip netns exec` execs `cmd` in place: the PID is the command's own, as without a namespace.
  const [file, argv] = spawnNamespace ? ["ip", ["netns", "exec", spawnNamespace, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    stdio: ["ignore", "ignore", "pipe", ...(ipc ? (["ipc"] as const) : [])],
    env: process.env,
  });
  const proc = new LifelineProcess(child);
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  return proc;
}

/** `lifeline <args>` from this checkout. */
export function startLifeline(args: string[]): LifelineProcess {
  return startProcess(process.execPath, [...lifelineNodeFlags, ...lifelineArgs(args)]);
}

/** One of the bench's own child roles (see child.ts), with an IPC channel for `call`. */
export function startChild(role: string, args: string[] = [], nodeFlags: string[] = []): LifelineProcess {
  return startProcess(process.execPath, [...nodeFlags, CHILD_ENTRY, role, ...args], true);
}

/** Ends `proc` by PID: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(proc: LifelineProcess, graceMs = 3000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Synchronous last resort (process exit, Ctrl-C): SIGKILL every child still running, remove the temp dirs and namespaces. */
export function cleanUpNow(): void {
  for (const proc of live) proc.kill("SIGKILL");
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
  for (const ns of namespaces) deleteNamespace(ns);
}

/** Ends everything at the end of the run. */
export async function cleanUp(): Promise<void> {
  await Promise.all([...live].map((proc) => stopProcess(proc)));
  cleanUpNow();
}

let installed = false;

/** Makes sure no child outlives the run, however it ends. */
export function installCleanUp(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanUpNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the benchmark's processes`);
      cleanUpNow();
      process.exit(130);
    });
  }
}

let sequence = 0;

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Sends `command` to a child started with `startChild` and resolves with its answer. */
export function call<T>(proc: LifelineProcess, command: object, timeoutMs = 300_000): Promise<T> {
  const id = ++sequence;
  return new Promise((resolve, reject) => {
    const onMessage = (reply: Reply): void => {
      if (reply.id !== id) return;
      settle();
      if (reply.ok) resolve(reply.value as T);
      else reject(new Error(reply.error));
    };
    const onExit = (): void => {
      settle();
      reject(
        new Error(`child exited before answering ${JSON.stringify(command)}: ${proc.stderrText.join("\n")}`),
      );
    };
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`no answer to ${JSON.stringify(command)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      proc.child.off("message", onMessage);
      proc.child.off("exit", onExit);
    };
    proc.child.on("message", onMessage);
    proc.child.once("exit", onExit);
    proc.child.send({ id, ...command });
  });
}

let ticksPerSecond: number | undefined;

/** User + system CPU seconds used so far by the processes `pids` (all their threads). */
export function cpuSeconds(pids: readonly number[]): number {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond;
}

/** Resident memory of process `pid`, in bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit(): number {
  const match = /Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"));
  return Number(match?.[1] ?? 1024);
}
