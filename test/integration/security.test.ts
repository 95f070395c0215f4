/**
 * Acceptance (issue 3, points 7 and 9): a resume with a wrong secret is refused and leaves the real
 * session untouched; a client that sends garbage or nothing is dropped within the handshake
 * deadline; listeners report the port they actually bound when asked for port 0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  fromHex,
  WIRE_CODES,
  type Frame,
} from "../../src/core/index.js";
import { connectFrom, holdHandshakePlaces, listen } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";

/** Opens a raw TLS link to the server, writes `bytes`, and returns every frame until the server closes. */
function rawLink(port: number, bytes: Uint8Array | undefined): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    const guard = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `the server did not close the link (secure: ${socket.encrypted && !socket.connecting}, got ${chunks.length} chunks)`,
        ),
      );
    }, 10_000);
    socket.once("close", () => clearTimeout(guard));
    socket.once("secureConnect", () => {
      if (bytes) socket.write(bytes);
    });
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", reject);
    socket.once("close", () => {
      const all = concatBytes(chunks);
      resolve(all.length === 0 ? [] : new FrameDecoder({ expectPreamble: true }).push(all));
    });
  });
}

async function echo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.setEncoding("utf8");
    let got = "";
    socket.on("data", (d: string) => {
      got += d;
      if (got.length >= text.length) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.once("error", reject);
    socket.write(text);
  });
}

test(
  "a resume with a wrong secret is refused and the real session carries on",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target));
    const client = await startConnect(t, served.port, served);
    assert.ok(
      client.port > 0 && served.port > 0,
      "port 0 was replaced by the bound port in the listening events",
    );
    assert.equal(await echo(client.port, "before"), "before");
    const sessionId = (await served.serve.waitFor("session.created")).session as string;

    const forged = concatBytes([
      encodePreamble(1),
      encodeFrameBytes({
        kind: "resume",
        sessionId: fromHex(sessionId),
        resumeSecret: new Uint8Array(32).fill(1),
        highestChannel: 0,
        channels: [],
      }),
    ]);
    const reply = await rawLink(served.port, forged);
    assert.deepEqual(
      reply.map((f) => f.kind),
      ["close"],
    );
    assert.equal(reply[0]?.kind === "close" && reply[0].code, WIRE_CODES.BAD_SECRET);
    const refused = await served.serve.waitFor("resume.refused");
    assert.equal(refused.reason, "BAD_SECRET");

    assert.equal(await echo(client.port, "after"), "after", "the real session still works");
    assert.equal(
      served.serve.events("session.interrupted").length,
      0,
      "the real session was never disturbed",
    );
  },
);

test(
  "a client that sends garbage, or nothing, is dropped within the handshake deadline",
  { timeout: 30_000 },
  async (t) => {
    const served = await startServe(t, 1, ["--handshake-timeout", "1s"]);

    const garbage = await rawLink(served.port, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.deepEqual(garbage, [], "no reply to a peer that does not speak lifeline");
    await served.serve.waitFor("handshake.failed", (r) => r.code === "BAD_MAGIC");

    const silent = await rawLink(served.port, undefined);
    assert.deepEqual(
      silent.map((f) => f.kind === "close" && f.code),
      [WIRE_CODES.HANDSHAKE_TIMEOUT],
    );

    // Not even a TLS handshake: TCP only.
    await new Promise<void>((resolve) => {
      const socket = tcpConnect(served.port, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.once("close", () => resolve());
    });
  },
);

test(
  "one address takes at most 64 of the 128 handshake places: another address's connection starts at once",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target), [
      // Neither dropped for their number nor timed out while the test runs: only the places matter.
      "--max-unauthenticated-per-address",
      "1000",
      "--handshake-timeout",
      "60s",
    ]);
    // 128 silent connections from one address: 64 take places until their deadline, 64 wait.
    for (let i = 0; i < 128; i++) await connectFrom(t, served.port, "127.0.3.1");
    const other = tlsConnect({
      socket: await connectFrom(t, served.port, "127.0.0.2"),
      rejectUnauthorized: false,
    });
    other.on("error", () => undefined);
    await new Promise((resolve) => other.once("secureConnect", resolve));
    const client = await startConnect(t, served.port, served);
    assert.equal(await echo(client.port, "still served"), "still served");
  },
);

test(
  "the limit per address is a setting, and other addresses are not held to one's count",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target), [
      "--max-unauthenticated-per-address",
      "3",
      // Longer than this test may run: a close can only be the drop at once, not a handshake timeout.
      "--handshake-timeout",
      "60s",
    ]);
    for (let i = 0; i < 3; i++) await connectFrom(t, served.port, "127.0.0.1");
    // The fourth from that address is dropped at once (the default would have let it wait).
    const fourth = tcpConnect({ port: served.port, host: "127.0.0.1", localAddress: "127.0.0.1" });
    fourth.on("error", () => undefined);
    await new Promise((resolve) => fourth.once("close", resolve));
    // Another address still gets through to a TLS handshake.
    const other = tlsConnect({
      socket: await connectFrom(t, served.port, "127.0.0.2"),
      rejectUnauthorized: false,
    });
    other.on("error", () => undefined);
    await new Promise((resolve) => other.once("secureConnect", resolve));
  },
);

test(
  "beyond 128 handshakes at once, a connection waits its turn (TLS untouched) and is then served",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target));
    // 128 silent connections take every handshake place until they close.
    const silent = await holdHandshakePlaces(t, served.port, "127.0.1.1");
    const waiting = tlsConnect({ port: served.port, host: "127.0.0.1", rejectUnauthorized: false });
    waiting.on("error", () => undefined);
    t.after(() => waiting.destroy());
    let secure = false;
    const handshake = new Promise((resolve) => waiting.once("secureConnect", resolve)).then(
      () => (secure = true),
    );
    // A handshake takes milliseconds on loopback; this one waits while every place is taken.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(secure, false, "no TLS handshake while 128 are in progress");
    assert.ok(!waiting.destroyed, "the waiting connection is held open, not dropped");
    for (const s of silent) s.destroy();
    await handshake; // its hello, sent while it waited, was kept for the handshake
    waiting.destroy();
    const client = await startConnect(t, served.port, served);
    assert.equal(await echo(client.port, "served"), "served");
  },
);
