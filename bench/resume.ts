/**
 * 4. Resume, through a proxy between `lifeline connect` and `lifeline serve` (default settings):
 * - after a cut: the proxy resets the link and refuses new ones for an outage of 0.1–2 s (seeded),
 *   during which the application writes 64 bytes; then the proxy accepts again, and the figure is
 *   the time from that moment until those bytes come back from the target's echo (the resume itself,
 *   the client's reconnect backoff, and one round trip);
 * - a silently dead link: the proxy stops forwarding without closing anything, while the
 *   application sends 64 bytes every 100 ms; the figures are the times until each side's log says
 *   the link is dead (`link.lost` on connect, `session.interrupted` on serve).
 */
import type { Socket } from "node:net";
import type { LifelineProcess, LogRecord } from "../test/support/procs.js";
import { open } from "./load.js";
import { startPath } from "./paths.js";
import { CutProxy } from "./proxy.js";
import { percentiles, sleep, type Percentiles } from "./stats.js";
import { Target } from "./target.js";

export interface ResumeFigures {
  cuts: number;
  /** Milliseconds from the link being usable again to the first byte delivered after resume. */
  afterRestoreMs: Percentiles;
  /** Seconds until a silently dead link is declared dead: client and server side, median and max. */
  deadLinks: number;
  clientDetectS: Percentiles;
  serverDetectS: Percentiles;
}

const MESSAGE = Buffer.alloc(64, 0x37);

/** Resolves when `socket` has received `bytes` more bytes. */
function receive(socket: Socket, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (chunk: Buffer): void => {
      got += chunk.length;
      if (got >= bytes) {
        socket.off("data", onData);
        resolve();
      }
    };
    socket.on("data", onData);
  });
}

/** The n-th (0-based) record of `event` from `proc`, past or future. */
function nth(proc: LifelineProcess, event: string, n: number, timeoutMs = 30_000): Promise<LogRecord> {
  return proc.waitFor(event, (r) => proc.events(event).indexOf(r) === n, timeoutMs);
}

export async function benchResume(
  cuts: number,
  deadLinks: number,
  progress: (line: string) => void,
): Promise<ResumeFigures> {
  const target = new Target();
  const targetPort = await target.listen();
  let proxy: CutProxy | undefined;
  const path = await startPath("lifeline", targetPort, {
    via: async (servePort) => {
      proxy = new CutProxy(servePort);
      return proxy.listen();
    },
  });
  const connect = path.procs[0]!;
  const serve = path.lifeline!.proc;
  try {
    const app = await open(path.port, "E");
    app.write(MESSAGE);
    await receive(app, MESSAGE.length);

    let seed = 0x5eed_1234;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    const restoreMs: number[] = [];
    for (let i = 0; i < cuts; i++) {
      const lost = connect.events("link.lost").length;
      proxy!.down = true;
      proxy!.cut();
      await nth(connect, "link.lost", lost);
      const echoed = receive(app, MESSAGE.length);
      app.write(MESSAGE);
      await sleep(100 + random() * 1900);
      proxy!.down = false;
      const usable = performance.now();
      await echoed;
      restoreMs.push(performance.now() - usable);
      if ((i + 1) % 10 === 0 || i + 1 === cuts)
        progress(`resume: ${i + 1}/${cuts} cuts, last ${restoreMs.at(-1)!.toFixed(0)} ms after restore`);
    }

    const client: number[] = [];
    const server: number[] = [];
    for (let i = 0; i < deadLinks; i++) {
      const clientLost = connect.events("link.lost").length;
      const serverLost = serve.events("session.interrupted").length;
      const resumed = connect.events("session.resumed").length;
      const ticker = setInterval(() => app.write(MESSAGE), 100);
      await sleep(1000);
      const at = Date.now();
      proxy!.blackhole();
      const [c, s] = await Promise.all([
        nth(connect, "link.lost", clientLost),
        nth(serve, "session.interrupted", serverLost),
      ]);
      client.push(((c.time as number) - at) / 1000);
      server.push(((s.time as number) - at) / 1000);
      await nth(connect, "session.resumed", resumed);
      clearInterval(ticker);
      progress(
        `dead link ${i + 1}/${deadLinks}: client saw it after ${client.at(-1)!.toFixed(2)} s (${String(c.reason)}), server after ${server.at(-1)!.toFixed(2)} s (${String(s.reason)})`,
      );
    }
    app.destroy();
    const sorted = (v: number[]): number[] => [...v].sort((a, b) => a - b);
    return {
      cuts,
      afterRestoreMs: percentiles(sorted(restoreMs)),
      deadLinks,
      clientDetectS: percentiles(sorted(client)),
      serverDetectS: percentiles(sorted(server)),
    };
  } finally {
    await path.stop();
    proxy?.close();
    target.close();
  }
}
