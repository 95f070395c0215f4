/**
 * 5. Reconnect storm: N lifeline sessions (the light client, one process) reach `lifeline serve`
 * through proxies (child processes, 2,500 links each, spreading their upstream connections over
 * many 127.x source addresses). As many sessions as the server's open-file limit allows also carry
 * a channel to the target's echo mode. Each channel streams a burst and checks it came back; then
 * every channel queues another burst and every proxy resets all its links at once (links are
 * usable again at once), and every channel queues a third burst while the sessions resume. The
 * figures: time from the cut until the last session resumed (and the median), until every echo
 * was complete, and the byte check: what each channel got back hashes to what it sent, and the
 * target received exactly what was sent, so no byte was lost, doubled or reordered either way.
 */
import type { LifelineProcess } from "../test/support/procs.js";
import { fitting } from "./idle.js";
import { startServe } from "./paths.js";
import { call, cpuSeconds, startChild, stopProcess, lifelineNodeFlags } from "./processes.js";
import type { Percentiles } from "./stats.js";

export interface StormFigures {
  sessions: number;
  opened: number;
  withChannel: number;
  establishSeconds: number;
  resumed: number;
  closed: number;
  /** Seconds from the cut until each session resumed (client side). */
  resumeS: Percentiles;
  /** Seconds from the cut until every channel had all its bytes back. */
  allBytesBackS: number;
  bytesEachWay: number;
  /** Channels whose echo was short or differed, and the target's byte count against what was sent. */
  incomplete: number;
  mismatched: number;
  targetReceived: number;
  lost: number;
  /** Dials that failed while reconnecting, and resumes the server performed (more than one per session is wasted work). */
  failedDials: number;
  serverResumes: number;
  /** CPU seconds from the cut until all had resumed: serve, the light client, the proxies. */
  serveCpuS: number;
  clientCpuS: number;
  proxiesCpuS: number;
}

const PER_PROXY = 2500;
const SOURCES_PER_PROXY = 250;
const BURST = 4096;

interface Echoed {
  ms: number;
  channels: number;
  sent: number;
  received: number;
  mismatched: number;
  incomplete: number;
}

export async function benchStorm(sessions: number, progress: (line: string) => void): Promise<StormFigures> {
  const children: LifelineProcess[] = [];
  const target = startChild("target");
  children.push(target);
  // The server holds a link per session and a target connection per channel.
  const withChannel = Math.min(sessions, fitting(2 * sessions, 1, 200) - sessions);
  const serve = await startServe(await target.port(), ["--max-sessions", String(Math.max(10_000, sessions))]);
  try {
    const proxies: LifelineProcess[] = [];
    for (let p = 0; p < Math.ceil(sessions / PER_PROXY); p++) {
      const proxy = startChild("proxy", [String(serve.port), `127.${p + 1}.0.1`, String(SOURCES_PER_PROXY)]);
      children.push(proxy);
      proxies.push(proxy);
    }
    const ports = await Promise.all(proxies.map((p) => p.port()));
    const clients = startChild("clients", [], ["--max-old-space-size=6144", ...lifelineNodeFlags]);
    children.push(clients);
    const opened = await call<{ ms: number; opened: number; failed: number; firstError?: string }>(clients, {
      cmd: "open",
      kind: "lifeline",
      ports,
      count: sessions,
      concurrency: 256,
      channels: withChannel,
      pin: serve.pin,
      tokenFile: serve.tokenFile,
    });
    progress(
      `storm: ${opened.opened} sessions (${withChannel} with a channel) in ${(opened.ms / 1000).toFixed(1)} s` +
        (opened.failed ? `, ${opened.failed} failed: ${opened.firstError}` : ""),
    );
    await call(clients, { cmd: "send", bytes: BURST });
    const first = await call<Echoed>(clients, { cmd: "echoed", timeoutMs: 60_000 });
    progress(`storm: first burst back on ${first.channels - first.incomplete}/${first.channels} channels`);

    await call(clients, { cmd: "send", bytes: BURST });
    const pids = [serve.proc.child.pid!, clients.child.pid!, ...proxies.map((p) => p.child.pid!)];
    const cpuBefore = pids.map((pid) => cpuSeconds([pid]));
    const cutAt = Date.now();
    const cut = await Promise.all(proxies.map((p) => call<{ cut: number; at: number }>(p, { cmd: "cut" })));
    await call(clients, { cmd: "send", bytes: BURST });
    progress(`storm: ${cut.reduce((n, c) => n + c.cut, 0)} links cut`);
    const resumed = await call<{
      resumed: number;
      closed: number;
      closeCodes: string[];
      times: Percentiles;
      resumes: number;
      failedDials: number;
      notResumed: Record<string, number>;
    }>(clients, { cmd: "resumed", since: cutAt, timeoutMs: 120_000 });
    const cpu = pids.map((pid, i) => cpuSeconds([pid]) - cpuBefore[i]!);
    const echoed = await call<Echoed>(clients, { cmd: "echoed", timeoutMs: 120_000 });
    const allBack = (Date.now() - cutAt) / 1000;
    const { echoed: targetReceived } = await call<{ echoed: number }>(target, { cmd: "stats" });
    const figures: StormFigures = {
      sessions,
      opened: opened.opened,
      withChannel,
      establishSeconds: opened.ms / 1000,
      resumed: resumed.resumed,
      closed: resumed.closed,
      resumeS: {
        p50: resumed.times.p50 / 1000,
        p99: resumed.times.p99 / 1000,
        max: resumed.times.max / 1000,
      },
      allBytesBackS: allBack,
      bytesEachWay: echoed.sent,
      incomplete: echoed.incomplete,
      mismatched: echoed.mismatched,
      targetReceived,
      lost: echoed.sent - echoed.received + (echoed.sent - targetReceived),
      failedDials: resumed.failedDials,
      serverResumes: serve.proc.events("session.resumed").length,
      serveCpuS: cpu[0]!,
      clientCpuS: cpu[1]!,
      proxiesCpuS: cpu.slice(2).reduce((a, b) => a + b, 0),
    };
    const count = (event: string): number => serve.proc.events(event).length;
    const refusals = serve.proc.events("resume.refused").map((r) => String(r.reason));
    if (refusals.length > 0 || resumed.resumed < opened.opened)
      progress(
        `storm: not resumed by state ${JSON.stringify(resumed.notResumed)}; resumes refused by reason ${JSON.stringify(
          Object.fromEntries([...new Set(refusals)].map((r) => [r, refusals.filter((x) => x === r).length])),
        )}`,
      );
    progress(
      `storm: client: ${resumed.resumes} resumes, ${resumed.failedDials} failed dials; serve: ` +
        `${count("session.resumed")} resumed, ${count("session.interrupted")} interrupted, ` +
        `${count("resume.refused")} resumes refused, ${count("handshake.failed")} handshakes refused; ` +
        `CPU s until all resumed: serve ${cpu[0]!.toFixed(1)}, client ${cpu[1]!.toFixed(1)}, proxies ${cpu
          .slice(2)
          .reduce((a, b) => a + b, 0)
          .toFixed(1)}`,
    );
    progress(
      `storm: ${resumed.resumed}/${opened.opened} resumed, last after ${figures.resumeS.max.toFixed(2)} s` +
        `${resumed.closed ? ` (${resumed.closed} closed: ${resumed.closeCodes.join(", ")})` : ""}; ` +
        `all bytes back after ${allBack.toFixed(2)} s; ${echoed.sent} bytes each way, ` +
        `${echoed.incomplete} channels short, ${echoed.mismatched} differing, target got ${targetReceived}`,
    );
    return figures;
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await stopProcess(serve.proc);
  }
}
