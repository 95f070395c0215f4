/**
 * 5. Reconnect storm: N lifeline sessions reach `lifeline serve` through proxies (child processes,
 * 2,500 links each, spreading their upstream connections over 127.x source addresses, `perAddress`
 * sessions from each: 10 by default, thousands for users behind one NAT address). The
 * sessions belong to light clients (clients.ts), one process per 10,000 sessions, each with its own
 * proxies. As many sessions as the server's open-file limit allows also carry a channel to the
 * target's echo mode. Each channel streams a burst and checks it came back; then, once every session
 * is established and no link was lost for 2 s, every channel queues another burst and every proxy
 * resets all its links at once (links are usable again at once), and every channel queues a third
 * burst while the sessions resume. The figures: time from
 * the cut until the last session resumed (and the median), until every echo was complete, and the
 * byte check: what each channel got back hashes to what it sent, and the target received exactly
 * what was sent, so no byte was lost, doubled or reordered either way.
 *
 * The floor, for the other tunnels of the run: the same storm of plain TLS connections (no session,
 * no data) to the bare Node TLS server and to the stunnel server, each dialled again at once after
 * the cut, as `lifeline connect` would. No byte survives there; what it measures is the cost of
 * 10,000 TLS handshakes at once on this machine, which no resume can avoid.
 */
import { readFileSync } from "node:fs";
import type { LifelineProcess } from "../test/support/procs.js";
import { fitting } from "./idle.js";
import { startPath, startServe, type PathName } from "./paths.js";
import {
  call,
  cpuSeconds,
  lifelineNodeFlags,
  netstatCounter,
  startChild,
  stopProcess,
  withOwnNamespace,
} from "./processes.js";
import { countOf, percentiles, type Percentiles } from "./stats.js";

export interface StormFigures {
  sessions: number;
  clientProcesses: number;
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
  /**
   * The byte check, over the channels of the sessions that resumed: channels whose echo was short or
   * differed, and bytes lost (what was sent, less what came back and less what the target got;
   * without channels of sessions that never resumed, whose bytes the target cannot tell apart).
   */
  checkedChannels: number;
  incomplete: number;
  mismatched: number;
  targetReceived: number;
  lost: number | undefined;
  /** Whether every session was established, with no link lost for 2 s, before the cut. */
  calmBefore: boolean;
  /** Links lost and resumed before the cut (the storm waits until every session is established). */
  linksLostBefore: number;
  /** Links the clients lost from the cut on: one per session, more if resumed links were lost again. */
  linksLost: number;
  /** From the cut on: dials that failed while reconnecting, and resumes the server performed (more than one per session is wasted work). */
  failedDials: number;
  serverResumes: number;
  /** The listen queue's limit (net.core.somaxconn) the storm ran with, and how often it overflowed from the cut on (each overflow costs a client a SYN retransmission, 1 s or more). */
  somaxconn: number;
  listenOverflows: number;
  /** Sessions that reached serve from one source address. */
  perAddress: number;
  /** CPU seconds from the cut until all had resumed, by process kind. */
  cpuS: Record<"serve" | "clients" | "proxies", number>;
  /** The same storm of plain TLS connections to the other tunnels' servers. */
  floors: FloorFigures[];
}

/** The servers the floor's plain TLS connections reach, by the path they belong to. */
export const FLOOR_SERVERS = { node: "bare Node TLS server", stunnel: "stunnel server" } as const;

type FloorPath = keyof typeof FLOOR_SERVERS;
const hasFloor = (path: PathName): path is FloorPath => path in FLOOR_SERVERS;

/** A storm of plain TLS connections that reconnect (see the top of this file). */
export interface FloorFigures {
  path: FloorPath;
  connections: number;
  opened: number;
  reconnected: number;
  /** Seconds from the cut until each connection had a TLS handshake again. */
  reconnectS: Percentiles;
  failedDials: number;
  listenOverflows: number;
  cpuS: Record<"server" | "clients" | "proxies", number>;
}

/**
 * Sessions per light client process. More processes spread the client side's handshakes, but on
 * two cores they only add contention: with 2,500 per process, 10,000 sessions could not even stay
 * up before the cut (keepalives starved, links declared dead).
 */
const PER_PROCESS = 10_000;
const PER_PROXY = 2500;
const BURST = 4096;

interface Opened {
  ms: number;
  opened: number;
  failed: number;
  firstError?: string;
}

interface Echoed {
  ms: number;
  channels: number;
  sent: number;
  received: number;
  mismatched: number;
  incomplete: number;
  notResumed: number;
}

interface Marked {
  linksLost: number;
  failedDials: number;
}

interface Resumed {
  resumed: number;
  linksLost: number;
  closed: number;
  closeCodes: string[];
  times: number[];
  resumes: number;
  failedDials: number;
  notResumed: Record<string, number>;
}

/**
 * The listen queue docs/OPERATIONS.md asks for: the kernel caps serve's backlog at
 * net.core.somaxconn, and at the usual 4,096 a 10k storm overflowed it 9,500 times.
 */
const SOMAXCONN = 65_535;

const sum = <T>(list: T[], of: (x: T) => number): number => list.reduce((n, x) => n + of(x), 0);

/** Seconds from the cut until each session (or connection) of the client processes resumed. */
function afterCut(resumed: Resumed[]): Percentiles {
  const at = percentiles(resumed.flatMap((r) => r.times).sort((a, b) => a - b));
  return { p50: at.p50 / 1000, p99: at.p99 / 1000, max: at.max / 1000 };
}

/**
 * The storm runs in a network namespace of its own (its own loopback), where the listen queue can
 * be set as an administrator would without touching the machine's; without root, in the machine's.
 * lifeline's storm first, then the floor for each other tunnel in `paths`.
 */
export function benchStorm(
  sessions: number,
  perAddress: number,
  paths: readonly PathName[],
  progress: (line: string) => void,
): Promise<StormFigures> {
  return withOwnNamespace(
    { "net.core.somaxconn": String(SOMAXCONN), "net.ipv4.tcp_max_syn_backlog": String(SOMAXCONN) },
    async (namespace) => {
      if (!namespace)
        progress("storm: no network namespace (needs root): the machine's listen queue limit applies");
      const figures = await storm(sessions, perAddress, namespace, progress);
      for (const path of paths.filter(hasFloor))
        figures.floors.push(await floor(path, sessions, perAddress, namespace, progress));
      return figures;
    },
  );
}

/** The storm's client side: proxies in front of a server's port, and the light client processes. */
interface Fleet {
  proxies: LifelineProcess[];
  clients: LifelineProcess[];
  /** The ports client process `g` dials: proxies g, g + groups, g + 2 × groups, ... */
  portsOf(g: number): number[];
  /** Client process `g`'s part of `total`. */
  share(g: number, total: number): number;
  /** Sends `command` to every client process. */
  all<T>(command: object, timeoutMs?: number): Promise<T[]>;
  /** Resets every link at once (every proxy's); answers how many. */
  cut(): Promise<number>;
  /** CPU seconds of the server process `serverPid`, the client processes and the proxies since `cpuMark`. */
  cpuMark(serverPid: number): () => { server: number; clients: number; proxies: number };
}

/** Starts the fleet for `sessions` links to `serverPort`; its processes join `children`. */
async function startFleet(
  serverPort: number,
  sessions: number,
  perAddress: number,
  children: LifelineProcess[],
): Promise<Fleet> {
  const groups = Math.ceil(sessions / PER_PROCESS);
  const proxies: LifelineProcess[] = [];
  const clients: LifelineProcess[] = [];
  for (let p = 0; p < Math.ceil(sessions / PER_PROXY); p++) {
    proxies.push(
      startChild("proxy", [
        String(serverPort),
        `127.${p + 1}.0.1`,
        String(Math.max(1, Math.ceil(PER_PROXY / perAddress))),
      ]),
    );
  }
  for (let g = 0; g < groups; g++) {
    clients.push(startChild("clients", [], ["--max-old-space-size=6144", ...lifelineNodeFlags]));
  }
  children.push(...proxies, ...clients);
  const ports = await Promise.all(proxies.map((p) => p.port()));
  const pids = (procs: LifelineProcess[]): number[] => procs.map((p) => p.child.pid!);
  return {
    proxies,
    clients,
    portsOf: (g) => ports.filter((_, i) => i % groups === g),
    share: (g, total) => Math.floor((total * (g + 1)) / groups) - Math.floor((total * g) / groups),
    all: <T>(command: object, timeoutMs?: number) =>
      Promise.all(clients.map((c) => call<T>(c, command, timeoutMs))),
    cut: async () =>
      sum(await Promise.all(proxies.map((p) => call<{ cut: number }>(p, { cmd: "cut" }))), (c) => c.cut),
    cpuMark: (serverPid) => {
      const serverBefore = cpuSeconds([serverPid]);
      const clientsBefore = cpuSeconds(pids(clients));
      const proxiesBefore = cpuSeconds(pids(proxies));
      return () => ({
        server: cpuSeconds([serverPid]) - serverBefore,
        clients: cpuSeconds(pids(clients)) - clientsBefore,
        proxies: cpuSeconds(pids(proxies)) - proxiesBefore,
      });
    },
  };
}

/** Listen queue overflows so far, in `namespace` or the machine's. */
const overflowsIn = (namespace: string | undefined) => (): number =>
  netstatCounter("TcpExt", "ListenOverflows", namespace);

async function storm(
  sessions: number,
  perAddress: number,
  namespace: string | undefined,
  progress: (line: string) => void,
): Promise<StormFigures> {
  const overflows = overflowsIn(namespace);
  const somaxconn = Number(
    namespace ? SOMAXCONN : readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim(),
  );
  const children: LifelineProcess[] = [];
  const target = startChild("target");
  children.push(target);
  // The server holds a link per session and a target connection per channel.
  const withChannel = Math.min(sessions, fitting(2 * sessions, 1, 200) - sessions);
  const serve = await startServe(await target.port(), ["--max-sessions", String(Math.max(10_000, sessions))]);
  try {
    const fleet = await startFleet(serve.port, sessions, perAddress, children);
    const { clients, all } = fleet;
    const groups = clients.length;
    const opened = await Promise.all(
      clients.map((c, p) =>
        call<Opened>(c, {
          cmd: "open",
          kind: "lifeline",
          ports: fleet.portsOf(p),
          count: fleet.share(p, sessions),
          concurrency: Math.ceil(256 / groups),
          channels: fleet.share(p, withChannel),
          pin: serve.pin,
          tokenFile: serve.tokenFile,
        }),
      ),
    );
    const openedCount = sum(opened, (o) => o.opened);
    const failed = opened.find((o) => o.failed > 0);
    const establishSeconds = Math.max(...opened.map((o) => o.ms)) / 1000;
    progress(
      `storm: ${openedCount} sessions (${withChannel} with a channel) in ${establishSeconds.toFixed(1)} s by ${groups} client processes` +
        (failed ? `, ${sum(opened, (o) => o.failed)} failed: ${failed.firstError}` : ""),
    );
    await all({ cmd: "send", bytes: BURST });
    const first = await all<Echoed>({ cmd: "echoed", timeoutMs: 60_000 });
    progress(
      `storm: first burst back on ${sum(first, (e) => e.channels - e.incomplete)}/${withChannel} channels`,
    );

    // The storm starts from a calm state: every session established, no link lost for 2 s.
    const calm = (await all<{ calm: boolean }>({ cmd: "settled", quietMs: 2000, timeoutMs: 60_000 })).every(
      (s) => s.calm,
    );
    await all({ cmd: "send", bytes: BURST });
    const before = await all<Marked>({ cmd: "mark" });
    const lostBefore = sum(before, (s) => s.linksLost);
    progress(
      `storm: ${calm ? "calm" : "NOT calm after 60 s"}; ${lostBefore} links lost and resumed before the cut, ` +
        `${sum(before, (s) => s.failedDials)} failed dials`,
    );
    const cpuSince = fleet.cpuMark(serve.proc.child.pid!);
    const overflowsBefore = overflows();
    const cutAt = Date.now();
    const cut = await fleet.cut();
    await all({ cmd: "send", bytes: BURST });
    progress(`storm: ${cut} links cut`);
    const resumed = await all<Resumed>({ cmd: "resumed", since: cutAt, timeoutMs: 120_000 });
    const cpu = cpuSince();
    const listenOverflows = overflows() - overflowsBefore;
    const echoed = await all<Echoed>({ cmd: "echoed", timeoutMs: 60_000, since: cutAt });
    const allBack = (Date.now() - cutAt) / 1000;
    const { echoed: targetReceived } = await call<{ echoed: number }>(target, { cmd: "stats" });

    const resumedCount = sum(resumed, (r) => r.resumed);
    const sent = sum(echoed, (e) => e.sent);
    const received = sum(echoed, (e) => e.received);
    const figures: StormFigures = {
      sessions,
      clientProcesses: groups,
      opened: openedCount,
      withChannel,
      establishSeconds,
      resumed: resumedCount,
      closed: sum(resumed, (r) => r.closed),
      resumeS: afterCut(resumed),
      allBytesBackS: allBack,
      bytesEachWay: sent,
      checkedChannels: sum(echoed, (e) => e.channels),
      incomplete: sum(echoed, (e) => e.incomplete),
      mismatched: sum(echoed, (e) => e.mismatched),
      targetReceived,
      lost:
        sum(echoed, (e) => e.notResumed) > 0 ? sent - received : sent - received + (sent - targetReceived),
      failedDials: sum(resumed, (r) => r.failedDials),
      calmBefore: calm,
      linksLostBefore: lostBefore,
      linksLost: sum(resumed, (r) => r.linksLost),
      serverResumes: serve.proc.events("session.resumed").filter((r) => (r.time as number) >= cutAt).length,
      somaxconn,
      listenOverflows,
      perAddress,
      cpuS: { serve: cpu.server, clients: cpu.clients, proxies: cpu.proxies },
      floors: [],
    };
    const count = (event: string): number => serve.proc.events(event).length;
    const refusals = serve.proc.events("resume.refused").map((r) => String(r.reason));
    progress(
      `storm: clients: ${sum(resumed, (r) => r.resumes)} resumes, ${figures.failedDials} failed dials; serve: ` +
        `${count("session.resumed")} resumed, ${count("session.interrupted")} interrupted, ` +
        `${refusals.length} resumes refused ${JSON.stringify(countOf(refusals))}; ` +
        `${listenOverflows} listen queue overflows (somaxconn ${somaxconn}); CPU s until all resumed: ` +
        `serve ${figures.cpuS.serve.toFixed(1)}, clients ${figures.cpuS.clients.toFixed(1)}, proxies ${figures.cpuS.proxies.toFixed(1)}`,
    );
    if (resumedCount < openedCount) {
      const states = resumed.map((r) => r.notResumed);
      progress(`storm: not resumed, by state: ${JSON.stringify(states)}`);
    }
    progress(
      `storm: ${resumedCount}/${openedCount} resumed, last after ${figures.resumeS.max.toFixed(2)} s` +
        `${figures.closed ? ` (${figures.closed} closed: ${resumed.flatMap((r) => r.closeCodes).join(", ")})` : ""}; ` +
        `all bytes back after ${allBack.toFixed(2)} s; ${sent} bytes each way, ` +
        `${figures.incomplete} channels short, ${figures.mismatched} differing, target got ${targetReceived}`,
    );
    return figures;
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await stopProcess(serve.proc);
  }
}

/**
 * The floor: `sessions` plain TLS connections (as many as fit with a target connection each) to
 * `path`'s server, through the same proxies and light client, cut at once and dialled again.
 */
async function floor(
  path: FloorPath,
  sessions: number,
  perAddress: number,
  namespace: string | undefined,
  progress: (line: string) => void,
): Promise<FloorFigures> {
  const overflows = overflowsIn(namespace);
  const children: LifelineProcess[] = [];
  const target = startChild("target");
  children.push(target);
  const connections = fitting(sessions, 2);
  const running = await startPath(path, await target.port(), { serverOnly: true });
  try {
    const fleet = await startFleet(running.tlsPort!, connections, perAddress, children);
    const opened = await Promise.all(
      fleet.clients.map((c, p) =>
        call<Opened>(c, {
          cmd: "open",
          kind: "tls",
          ports: fleet.portsOf(p),
          count: fleet.share(p, connections),
          concurrency: Math.ceil(256 / fleet.clients.length),
          channels: 0,
          caFile: running.caFile,
          reconnect: true,
        }),
      ),
    );
    await fleet.all({ cmd: "settled", quietMs: 2000, timeoutMs: 60_000 });
    await fleet.all({ cmd: "mark" });
    const cpuSince = fleet.cpuMark(running.serverPid!);
    const overflowsBefore = overflows();
    const cutAt = Date.now();
    await fleet.cut();
    const resumed = await fleet.all<Resumed>({ cmd: "resumed", since: cutAt, timeoutMs: 120_000 });
    const cpuS = cpuSince();
    const figures: FloorFigures = {
      path,
      connections,
      opened: sum(opened, (o) => o.opened),
      reconnected: sum(resumed, (r) => r.resumed),
      reconnectS: afterCut(resumed),
      failedDials: sum(resumed, (r) => r.failedDials),
      listenOverflows: overflows() - overflowsBefore,
      cpuS,
    };
    progress(
      `storm floor, ${FLOOR_SERVERS[path]}: ${figures.reconnected}/${figures.opened} plain TLS connections ` +
        `reconnected, the last after ${figures.reconnectS.max.toFixed(2)} s; ${figures.failedDials} failed dials, ` +
        `${figures.listenOverflows} listen queue overflows; CPU s: server ${cpuS.server.toFixed(1)}, ` +
        `clients ${cpuS.clients.toFixed(1)}, proxies ${cpuS.proxies.toFixed(1)}`,
    );
    return figures;
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await running.stop();
  }
}
