/**
 * The four ways from a client to the target that every figure compares: direct (no tunnel), the
 * stunnel pair, the bare Node TLS pipe and lifeline (connect → serve). Each starts its processes,
 * tells where the application connects (`port`), where the server side accepts TLS (`tlsPort`),
 * which processes relay (`relayPids`, client side and server side) and stops them all by PID.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "selfsigned";
import type { LifelineProcess } from "../test/support/procs.js";
import { connectArgs, serveArgs, served } from "../test/support/setup.js";
import { startChild, startLifeline, stopProcess, tempDir } from "./processes.js";
import { clientConfig, freePort, serverConfig, startStunnel } from "./stunnel.js";

export const PATHS = ["direct", "stunnel", "node", "lifeline"] as const;
export type PathName = (typeof PATHS)[number];
export const TUNNELS = PATHS.filter((p) => p !== "direct");

export const PATH_LABELS: Record<PathName, string> = {
  direct: "direct",
  stunnel: "stunnel pair",
  node: "bare Node TLS pipe",
  lifeline: "lifeline",
};

export interface RunningPath {
  name: PathName;
  /** Where an application connects (plain TCP). */
  port: number;
  /** The server side's TLS port (absent for direct). */
  tlsPort?: number;
  /** Client-side relay, then server-side relay (empty for direct). */
  relayPids: number[];
  /** Their processes, in the same order. */
  procs: LifelineProcess[];
  /** The server-side relay process (absent for direct). */
  serverPid?: number;
  /** lifeline only: what a client needs to open sessions itself. */
  lifeline?: ServeInfo;
  /** A certificate a plain TLS client verifies the server side with (stunnel, node). */
  caFile?: string;
  stop(): Promise<void>;
}

export interface ServeInfo {
  proc: LifelineProcess;
  port: number;
  pin: string;
  /** Its state directory (certificate, tokens). */
  dir: string;
  tokenFile: string;
}

export interface PathOptions {
  /** Extra `lifeline serve` flags. */
  serveArgs?: string[];
  /** Only the server side (the application side is the bench's own light client). */
  serverOnly?: boolean;
  /** lifeline: `connect` dials this port instead of serve's (a proxy in front of serve). */
  via?: (servePort: number) => Promise<number>;
}

let certificate: { dir: string; cert: string; key: string } | undefined;

/** One throwaway certificate (EC P-256, as lifeline's own) for stunnel and the Node pipe. */
async function benchCertificate(): Promise<{ cert: string; key: string }> {
  if (certificate) return certificate;
  const dir = tempDir("lifeline-bench-cert-");
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  certificate = { dir, cert, key };
  return certificate;
}

export async function startPath(
  name: PathName,
  targetPort: number,
  options: PathOptions = {},
): Promise<RunningPath> {
  switch (name) {
    case "direct":
      return { name, port: targetPort, relayPids: [], procs: [], stop: async () => undefined };
    case "stunnel":
      return startStunnelPair(targetPort, options);
    case "node":
      return startNodePipe(targetPort, options);
    case "lifeline":
      return startLifelinePair(targetPort, options);
  }
}

async function startStunnelPair(targetPort: number, options: PathOptions): Promise<RunningPath> {
  const { cert, key } = await benchCertificate();
  const dir = tempDir("lifeline-bench-stunnel-");
  const tlsPort = await freePort();
  const server = await startStunnel(dir, "server", serverConfig(tlsPort, targetPort, cert, key), tlsPort);
  const procs = [server];
  let port = tlsPort;
  if (!options.serverOnly) {
    port = await freePort();
    procs.unshift(await startStunnel(dir, "client", clientConfig(port, tlsPort, cert), port));
  }
  return running("stunnel", port, tlsPort, procs, { caFile: cert });
}

async function startNodePipe(targetPort: number, options: PathOptions): Promise<RunningPath> {
  const { cert, key } = await benchCertificate();
  const server = startChild("pipe-server", [cert, key, String(targetPort)]);
  const tlsPort = await server.port();
  const procs = [server];
  let port = tlsPort;
  if (!options.serverOnly) {
    const client = startChild("pipe-client", [cert, String(tlsPort)]);
    port = await client.port();
    procs.unshift(client);
  }
  return running("node", port, tlsPort, procs, { caFile: cert });
}

/** `lifeline serve` in front of 127.0.0.1:`targetPort`, with a fresh state directory. */
export async function startServe(targetPort: number, extra: string[] = []): Promise<ServeInfo> {
  const dir = tempDir("lifeline-bench-serve-");
  const proc = startLifeline(serveArgs(targetPort, dir, extra));
  const { port, fingerprint } = await served(proc);
  return { proc, port, pin: fingerprint, dir, tokenFile: join(dir, "tokens") };
}

/** `lifeline connect --listen` to 127.0.0.1:`serverPort`, pinned to serve's certificate, no fallback. */
export async function startConnect(serverPort: number, serve: ServeInfo): Promise<LifelineProcess> {
  const dir = tempDir("lifeline-bench-connect-");
  const proc = startLifeline(
    connectArgs(serverPort, { dir: serve.dir, fingerprint: serve.pin }, dir, ["--no-fallback"]),
  );
  await proc.port();
  return proc;
}

async function startLifelinePair(targetPort: number, options: PathOptions): Promise<RunningPath> {
  const serve = await startServe(targetPort, options.serveArgs);
  const procs = [serve.proc];
  let port = serve.port;
  if (!options.serverOnly) {
    const connect = await startConnect(options.via ? await options.via(serve.port) : serve.port, serve);
    port = await connect.port();
    procs.unshift(connect);
  }
  return running("lifeline", port, serve.port, procs, { lifeline: serve });
}

function running(
  name: PathName,
  port: number,
  tlsPort: number,
  procs: LifelineProcess[],
  extra: Pick<RunningPath, "lifeline" | "caFile">,
): RunningPath {
  const pids = procs.map((p) => p.child.pid as number);
  return {
    name,
    port,
    tlsPort,
    relayPids: pids,
    procs,
    serverPid: pids[pids.length - 1] as number,
    ...extra,
    stop: async () => {
      await Promise.all(procs.map((p) => stopProcess(p)));
    },
  };
}
