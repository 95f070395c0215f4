/**
 * What a reconnect storm asks of `lifeline serve` and of a resuming client: every connection that
 * arrives while the server is busy waits in the kernel's queue instead of being dropped; a new
 * link's answer costs one TLS record; and a resuming client keeps its place in the server's queue
 * instead of giving up and starting again at the back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect as tcpConnect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import {
  AuthMethod,
  concatBytes,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  PROTOCOL_VERSION,
} from "../../src/core/index.js";
import { FaultProxy, holdHandshakePlaces, listen } from "../support/net-fixtures.js";
import { startConnect, startServe } from "../support/setup.js";

/** The first token in serve's token file. */
function tokenOf(dir: string): string {
  return readFileSync(join(dir, "tokens"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line !== "" && !line.startsWith("#")) as string;
}

/** The kernel's cap on any listen backlog (per network namespace). */
const SOMAXCONN = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));

test(
  "connections that arrive while serve cannot accept them all wait in the kernel's queue",
  {
    timeout: 30_000,
    skip:
      SOMAXCONN <= 1000 && `net.core.somaxconn is ${SOMAXCONN}: no listener may queue 1,000 connections here`,
  },
  async (t) => {
    const served = await startServe(t, 1);
    const pid = served.serve.child.pid as number;
    // A stopped process accepts nothing: every connection must be held by the kernel's listen queue.
    // With Node's default backlog (511) the kernel drops the handshakes beyond it, and those clients
    // wait for SYN retransmissions (1 s, 3 s, 7 s, ...) however soon serve is free again.
    process.kill(pid, "SIGSTOP");
    const sockets: Socket[] = [];
    t.after(() => {
      for (const s of sockets) s.destroy();
      served.serve.kill("SIGCONT");
    });
    const count = 1000;
    let connected = 0;
    const all = new Promise<void>((resolve) => {
      for (let i = 0; i < count; i++) {
        const socket = tcpConnect(served.port, "127.0.0.1");
        sockets.push(socket);
        socket.on("error", () => undefined);
        socket.once("connect", () => {
          if (++connected === count) resolve();
        });
      }
    });
    // On loopback the kernel completes them in milliseconds; those it dropped would wait seconds.
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 5000))]);
    process.kill(pid, "SIGCONT");
    assert.equal(connected, count, "every connection was completed by the kernel while serve was stopped");
  },
);

test(
  "serve answers a new session with its preamble and WELCOME in one TLS record",
  { timeout: 30_000 },
  async (t) => {
    const served = await startServe(t, 1);
    const socket = tlsConnect({ port: served.port, host: "127.0.0.1", rejectUnauthorized: false });
    t.after(() => socket.destroy());
    await new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    socket.write(
      concatBytes([
        encodePreamble(PROTOCOL_VERSION),
        encodeFrameBytes({
          kind: "hello",
          receiveWindow: 65_536,
          authMethod: AuthMethod.BearerToken,
          authData: new TextEncoder().encode(tokenOf(served.dir)),
        }),
      ]),
    );
    // Node hands over what one TLS record decrypts to as one chunk.
    const first = await new Promise<Buffer>((resolve) => socket.once("data", resolve));
    const frames = new FrameDecoder({ expectPreamble: true }).push(first);
    assert.deepEqual(
      frames.map((f) => f.kind),
      ["welcome"],
      "the first record holds the preamble and the whole WELCOME",
    );
  },
);

test(
  "a resuming client keeps its place in serve's queue rather than giving up and starting again at the back",
  { timeout: 60_000 },
  async (t) => {
    const target = createServer((s) => s.pipe(s));
    const served = await startServe(t, await listen(t, target));
    const proxy = new FaultProxy(served.port);
    const client = await startConnect(t, await listen(t, proxy.server), served, [
      // A first connection would get 3 × 200 ms for TLS.
      "--dial-timeout",
      "200ms",
      "--log-level",
      "debug",
    ]);
    const app = tcpConnect(client.port, "127.0.0.1");
    t.after(() => app.destroy());
    app.setEncoding("utf8");
    let echoed = "";
    app.on("data", (text: string) => (echoed += text));
    app.write("before ");
    await served.serve.waitFor("session.created");

    // 128 silent connections take every handshake place of serve for 2 s.
    const silent = await holdHandshakePlaces(t, served.port, "127.0.2.1");
    const released = setTimeout(() => silent.forEach((s) => s.destroy()), 2000);
    t.after(() => clearTimeout(released));

    assert.ok(proxy.cut(), "the link was cut");
    app.write("after");
    await client.connect.waitFor("session.resumed", () => true, 30_000);
    assert.equal(
      client.connect.events("link.failed").length,
      0,
      "the first reconnect attempt waited for its turn and resumed the session",
    );
    while (echoed !== "before after") await new Promise((resolve) => setTimeout(resolve, 20));
  },
);
