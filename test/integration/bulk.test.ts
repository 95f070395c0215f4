/**
 * Acceptance (issue 3, point 1): 50 MB each way at once over two channels through real
 * `lifeline connect` and `lifeline serve` processes, with every link cut at 20 random moments by a
 * fault-injecting proxy; what arrives hashes to what was sent, in both directions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { exchange, expectedHash, FaultProxy, listen, type StreamResult } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";

const CHANNELS = 2;
const PER_CHANNEL = 25 * 1024 * 1024; // each direction: 2 × 25 MiB ≈ 52 MB
const CUTS = 20;

test(
  "bulk transfer both ways over two channels survives 20 random link cuts byte-exact",
  { timeout: 240_000 },
  async (t) => {
    const targetResults: Promise<StreamResult>[] = [];
    let targetSeed = 1000;
    const target = createServer({ allowHalfOpen: true }, (socket) =>
      targetResults.push(exchange(socket, PER_CHANNEL, targetSeed++)),
    );
    const targetPort = await listen(t, target);
    const served = await startServe(t, targetPort);
    const proxy = new FaultProxy(served.port);
    const proxyPort = await listen(t, proxy.server);
    const client = await startConnect(t, proxyPort, served);

    // Cut points: 20 seeded random byte counts of client-side progress, so every cut lands mid-transfer.
    let rng = 0x2f6b_1d3c;
    const random = (): number => (rng = (rng * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    const total = CHANNELS * PER_CHANNEL;
    const cutAt = Array.from({ length: CUTS }, () => Math.floor(random() * total * 0.95)).sort(
      (a, b) => a - b,
    );
    let progress = 0;
    const sockets: Socket[] = [];
    const clientResults = Array.from({ length: CHANNELS }, (_, i) => {
      const socket = connect({ port: client.port, host: "127.0.0.1", allowHalfOpen: true });
      sockets.push(socket);
      socket.on("data", (chunk: Buffer) => {
        progress += chunk.length;
        // At most one cut per arrival, and only on a live link, so each planned cut really cuts.
        if (cutAt.length > 0 && progress >= (cutAt[0] as number) && proxy.cut()) cutAt.shift();
      });
      return exchange(socket, PER_CHANNEL, i + 1);
    });

    const fromClients = await Promise.all(clientResults);
    const atTarget = await Promise.all(targetResults);
    assert.equal(proxy.cuts, CUTS, "every planned cut happened mid-transfer");
    assert.ok(proxy.accepted > CUTS, "the client reconnected after every cut");

    const sentByClients = new Set(
      Array.from({ length: CHANNELS }, (_, i) => expectedHash(PER_CHANNEL, i + 1)),
    );
    const sentByTarget = new Set(
      Array.from({ length: CHANNELS }, (_, i) => expectedHash(PER_CHANNEL, 1000 + i)),
    );
    const detail = JSON.stringify({ atTarget, fromClients, serveLog: served.serve.records.length });
    assert.deepEqual(new Set(fromClients.map((r) => r.sentHash)), sentByClients);
    assert.deepEqual(
      new Set(atTarget.map((r) => r.receivedHash)),
      sentByClients,
      `client → target intact: ${detail}`,
    );
    assert.deepEqual(
      new Set(fromClients.map((r) => r.receivedHash)),
      sentByTarget,
      `target → client intact: ${detail}`,
    );
    for (const r of [...fromClients, ...atTarget]) assert.equal(r.receivedBytes, PER_CHANNEL);

    const resumed = served.serve.events("session.resumed");
    assert.equal(resumed.length, CUTS, "the server logged one resume per cut");
    assert.ok(
      resumed.some((r) => (r.replayedBytes as number) > 0),
      "resumes replayed lost bytes",
    );
    for (const s of sockets) s.destroy();
  },
);
