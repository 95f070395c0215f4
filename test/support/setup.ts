/** A served target behind `lifeline serve`, and a `lifeline connect` in front of it, on loopback. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { lifeline, stateDir, type LifelineProcess } from "./procs.js";

export interface Pair {
  serve: LifelineProcess;
  connect: LifelineProcess;
  servePort: number;
  localPort: number;
  dir: string;
  fingerprint: string;
}

export async function startServe(
  t: TestContext,
  targetPort: number,
  extra: string[] = [],
  dir = stateDir(t),
): Promise<{ serve: LifelineProcess; port: number; dir: string; fingerprint: string }> {
  const serve = lifeline(t, serveArgs(targetPort, dir, extra));
  return { serve, ...(await served(serve)), dir };
}

/** The arguments of `lifeline serve` on a free loopback port in front of 127.0.0.1:`targetPort`. */
export function serveArgs(targetPort: number, dir: string, extra: string[] = []): string[] {
  return [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--target",
    `127.0.0.1:${targetPort}`,
    "--state-dir",
    dir,
    ...extra,
  ];
}

/** Once `serve` listens: its port and its certificate's fingerprint. */
export async function served(serve: LifelineProcess): Promise<{ port: number; fingerprint: string }> {
  const port = await serve.port();
  const fingerprint = (await serve.waitFor("certificate.created", (r) => typeof r.fingerprint === "string"))
    .fingerprint as string;
  return { port, fingerprint };
}

/**
 * The arguments of `lifeline connect`, pinned, with serve's token: by default `--listen` on a free
 * loopback port; `local` replaces that (`["--stdio"]`).
 */
export function connectArgs(
  serverPort: number,
  serve: { dir: string; fingerprint: string },
  dir: string,
  extra: string[] = [],
  local: string[] = ["--listen", "127.0.0.1:0"],
): string[] {
  return [
    "connect",
    "--server",
    `127.0.0.1:${serverPort}`,
    ...local,
    "--pin",
    serve.fingerprint,
    "--token-file",
    join(serve.dir, "tokens"),
    "--state-dir",
    dir,
    ...extra,
  ];
}

/** `lifeline connect --listen` to `serverPort`, trusting the pinned certificate and the server's token. */
export async function startConnect(
  t: TestContext,
  serverPort: number,
  serve: { dir: string; fingerprint: string },
  extra: string[] = [],
): Promise<{ connect: LifelineProcess; port: number; dir: string }> {
  const dir = stateDir(t);
  const connect = lifeline(t, connectArgs(serverPort, serve, dir, extra));
  return { connect, port: await connect.port(), dir };
}

/**
 * The client refused for a security reason (`why`: a pattern, or text its message contains) and
 * did not fall back to `direct`.
 */
export async function refusedWithoutFallback(
  client: LifelineProcess,
  why: RegExp | string,
  direct: { connections(): number },
): Promise<void> {
  const failure = await client.waitFor("security.failed");
  if (typeof why === "string") assert.ok(failure.msg.includes(why), failure.msg);
  else assert.match(failure.msg, why);
  assert.equal(client.events("fallback.used").length, 0, "no fallback after a security failure");
  assert.equal(direct.connections(), 0, "nothing went to the direct port");
}
