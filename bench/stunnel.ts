/**
 * The stunnel pair (Debian's stunnel4): a client-mode and a server-mode stunnel, TLS 1.3, logging
 * at warning, TCP_NODELAY on every socket as lifeline sets it; installed with apt when missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { join } from "node:path";
import type { LifelineProcess } from "../test/support/procs.js";
import { currentNamespace, startProcess } from "./processes.js";
import { sleep } from "./stats.js";

export const STUNNEL = "/usr/bin/stunnel4";

/** Installs stunnel4 with apt when it is missing and this process may (root); false if it is still missing. */
export function ensureStunnel(): boolean {
  if (existsSync(STUNNEL)) return true;
  if (process.getuid?.() !== 0) {
    console.error(
      `${STUNNEL} is missing and this is not root: install it with \`apt-get install -y stunnel4\``,
    );
    return false;
  }
  console.error("installing stunnel4 (apt-get install -y stunnel4)…");
  try {
    execFileSync("apt-get", ["install", "-y", "stunnel4"], { stdio: ["ignore", "ignore", "inherit"] });
  } catch {
    execFileSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync("apt-get", ["install", "-y", "stunnel4"], { stdio: ["ignore", "ignore", "inherit"] });
  }
  return existsSync(STUNNEL);
}

/** A loopback port free right now (stunnel needs a number in its configuration). */
export function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}

/** Whether 127.0.0.1:`port` accepts a connection (from this process's network namespace). */
function connects(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Whether a socket listens on `port` in network namespace `ns` (which this process is not in). */
function listensIn(ns: string, port: number): boolean {
  const out = spawnSync("ip", ["netns", "exec", ns, "ss", "-Hltn", `sport = :${port}`], { encoding: "utf8" });
  return out.stdout.trim().length > 0;
}

/** Resolves once 127.0.0.1:`port` accepts connections (in the namespace the bench starts processes in). */
async function accepting(port: number, proc: LifelineProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const ns = currentNamespace();
  while (performance.now() < deadline) {
    if (proc.child.exitCode !== null) break;
    if (ns ? listensIn(ns, port) : await connects(port)) return;
    await sleep(50);
  }
  throw new Error(`stunnel did not listen on ${port}: ${proc.stderrText.join("\n")}`);
}

/** Starts stunnel with `config` (written to `dir/name.conf`) and waits for `port` to accept. */
export async function startStunnel(
  dir: string,
  name: string,
  config: string[],
  port: number,
): Promise<LifelineProcess> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(
    file,
    ["foreground = yes", "pid =", "debug = warning", "syslog = no", ...config, ""].join("\n"),
  );
  const proc = startProcess(STUNNEL, [file]);
  await accepting(port, proc);
  return proc;
}

/** The server side: TLS on `port`, to 127.0.0.1:`targetPort`. */
export function serverConfig(port: number, targetPort: number, cert: string, key: string): string[] {
  return [
    "[bench]",
    `accept = 127.0.0.1:${port}`,
    `connect = 127.0.0.1:${targetPort}`,
    `cert = ${cert}`,
    `key = ${key}`,
    "sslVersionMin = TLSv1.3",
    "socket = l:TCP_NODELAY=1",
    "socket = r:TCP_NODELAY=1",
  ];
}

/** The client side: plain TCP on `port`, TLS to 127.0.0.1:`serverPort`, the server verified against `ca`. */
export function clientConfig(port: number, serverPort: number, ca: string): string[] {
  return [
    "client = yes",
    "[bench]",
    `accept = 127.0.0.1:${port}`,
    `connect = 127.0.0.1:${serverPort}`,
    "sslVersionMin = TLSv1.3",
    "verifyPeer = yes",
    `CAfile = ${ca}`,
    "socket = l:TCP_NODELAY=1",
    "socket = r:TCP_NODELAY=1",
  ];
}
