/**
 * Acceptance (issue 3, points 2 and 3), with real network faults: the client runs in its own
 * network namespace, joined to the server's by a veth pair.
 * - Silent loss: for 10 s mid-transfer, packets vanish both ways (nftables rules in each namespace;
 *   no RST, no error, both interfaces stay up); the keepalive notices, the session resumes when the
 *   link returns, and the data is intact.
 * - The client's own interface goes down: connect notices within a second that its address is gone.
 * - Roaming: the client's address changes mid-session; it notices that the old address is gone and
 *   resumes from the new one.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { lifeline, stateDir, type LifelineProcess } from "../support/procs.js";
import {
  blackHole,
  inNamespace,
  ip,
  makeTopology,
  netnsUnavailable,
  nftUnavailable,
  scriptIn,
  type Topology,
} from "../support/netns.js";

const skip = netnsUnavailable();
const TOTAL = 16 * 1024 * 1024;

interface Running {
  topology: Topology;
  serve: LifelineProcess;
  connect: LifelineProcess;
  app: ReturnType<typeof scriptIn>;
}

/** Server namespace: echo target and `lifeline serve`. Client namespace: `lifeline connect` and a paced app. */
async function start(t: TestContext): Promise<Running> {
  const topology = makeTopology(t);
  const target = scriptIn(t, topology.server, "echo-target", ["7000"]);
  assert.equal(await target.line(0), "ready");
  const dir = stateDir(t);
  const serve = lifeline(
    t,
    ["serve", "--listen", `${topology.serverAddress}:0`, "--target", "127.0.0.1:7000", "--state-dir", dir],
    {
      command: inNamespace(topology.server),
    },
  );
  const port = await serve.port();
  const fingerprint = (await serve.waitFor("certificate.created", (r) => typeof r.fingerprint === "string"))
    .fingerprint as string;
  const connect = lifeline(
    t,
    [
      "connect",
      "--server",
      `${topology.serverAddress}:${port}`,
      "--listen",
      "127.0.0.1:0",
      "--pin",
      fingerprint,
      "--token-file",
      join(dir, "tokens"),
      "--state-dir",
      stateDir(t),
      "--no-fallback",
    ],
    { command: inNamespace(topology.client) },
  );
  const localPort = await connect.port();
  // 16 MiB at about 1.6 MB/s: the transfer spans the whole fault.
  const app = scriptIn(t, topology.client, "paced-app", [
    "127.0.0.1",
    String(localPort),
    String(TOTAL),
    "32768",
    "20",
  ]);
  await connect.waitFor("session.created");
  return { topology, serve, connect, app };
}

async function intact(app: Running["app"]): Promise<void> {
  const result = JSON.parse(await app.line(0)) as {
    sent: string;
    received: string;
    bytes: number;
    error?: string;
  };
  assert.equal(result.error, undefined);
  assert.equal(result.bytes, TOTAL);
  assert.equal(result.received, result.sent, "the echo of every byte came back intact, in order");
}

test(
  "a silently dead link (10 s, no RST) is detected by keepalive and the session resumes intact",
  { skip, timeout: 90_000 },
  async (t) => {
    // Probed only when this test runs: the probe makes a namespace of its own.
    const noNft = nftUnavailable();
    if (noNft) return t.skip(noNft);
    const run = await start(t);
    await sleep(2000);
    const letThrough = blackHole(run.topology);
    const downAt = Date.now();
    await sleep(10_000);
    const restoredAt = Date.now();
    letThrough();

    const lost = await run.connect.waitFor("link.lost");
    assert.equal(lost.reason, "link-dead", "found by the keepalive, not by a TCP error");
    const lostAt = lost.time as number;
    assert.ok(lostAt > downAt && lostAt < restoredAt, "detected while the link was still down");
    const resumed = await run.connect.waitFor("session.resumed");
    assert.ok((resumed.outageMs as number) > 0);
    await intact(run.app);
  },
);

test(
  "the client's network going down is noticed within a second (not after dead-after), and the session resumes when it is back",
  { skip, timeout: 90_000 },
  async (t) => {
    const run = await start(t);
    await sleep(2000);
    ip("-n", run.topology.client, "link", "set", run.topology.clientDevice, "down");
    const lost = await run.connect.waitFor("link.lost", () => true, 30_000);
    assert.equal(lost.reason, "address-gone", "the address left with its interface");
    await sleep(3000);
    ip("-n", run.topology.client, "link", "set", run.topology.clientDevice, "up");
    const resumed = await run.connect.waitFor("session.resumed", () => true, 30_000);
    assert.ok((resumed.outageMs as number) >= 3000);
    await intact(run.app);
  },
);

test(
  "roaming to a new address mid-session resumes the session from the new address",
  { skip, timeout: 90_000 },
  async (t) => {
    const run = await start(t);
    await sleep(2000);
    const { client, clientDevice } = run.topology;
    // Like a laptop moving between networks: the old address goes, a new one comes.
    ip("-n", client, "addr", "del", `${run.topology.clientAddress}/24`, "dev", clientDevice);
    ip("-n", client, "addr", "add", "10.99.0.3/24", "dev", clientDevice);

    // The client gives the old link up because its address left, not after the keepalive's 5 s.
    const lost = await run.connect.waitFor("link.lost", () => true, 30_000);
    assert.equal(lost.reason, "address-gone");
    const resumed = await run.serve.waitFor("session.resumed", () => true, 30_000);
    assert.match(
      String(resumed.client),
      /^10\.99\.0\.3:/,
      "the server sees the session come back from the new address",
    );
    const created = await run.serve.waitFor("session.created");
    assert.match(String(created.client), /^10\.99\.0\.2:/);
    assert.equal(resumed.session, created.session, "the same session, not a new one");
    await intact(run.app);
  },
);
