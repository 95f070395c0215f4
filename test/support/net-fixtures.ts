/**
 * TCP fixtures for integration tests: a fault-injecting proxy, and endpoints that stream
 * deterministic pseudo-random data while hashing what they receive.
 */
import { createCipheriv, createHash } from "node:crypto";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";

/** Listens on a free loopback port; when the test ends, the server is closed and its connections destroyed. */
export function listen(t: TestContext, server: Server, host = "127.0.0.1"): Promise<number> {
  const open = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  );
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

/**
 * A TCP connection to loopback `port` from `localAddress` (any 127.x.y.z), connected; destroyed
 * when the test ends at the latest.
 */
export async function connectFrom(t: TestContext, port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => undefined);
  t.after(() => socket.destroy());
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

/**
 * Opens 128 silent TCP connections to `port`, 32 from each of four loopback addresses from
 * `firstAddress` on (serve gives one address at most 64 of the places): they take every handshake
 * place of `serve` until destroyed, which happens at the latest when the test ends.
 */
export async function holdHandshakePlaces(
  t: TestContext,
  port: number,
  firstAddress: string,
): Promise<Socket[]> {
  const prefix = firstAddress.slice(0, firstAddress.lastIndexOf(".") + 1);
  const first = Number(firstAddress.slice(prefix.length));
  const silent: Socket[] = [];
  for (let i = 0; i < 128; i++) silent.push(await connectFrom(t, port, `${prefix}${first + (i % 4)}`));
  return silent;
}

/** A loopback port with nothing listening on it (bound, noted and closed again). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An echo server (not yet listening: see listen) that counts the connections it accepted. */
export function echoTarget(): { server: Server; connections: () => number } {
  let count = 0;
  const server = createServer((s) => {
    count++;
    s.on("error", () => undefined); // a reset from serve (an aborted channel) is not the test's failure
    s.pipe(s);
  });
  return { server, connections: () => count };
}

/**
 * A TCP proxy whose connections can be cut at will (both sides destroyed: the bytes in flight are
 * lost, like a dead link) and which can refuse new connections for a while (an outage).
 */
export class FaultProxy {
  readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  down = false;
  cuts = 0;
  accepted = 0;

  /** @param targetPort where new connections go; may be changed to move the "server" */
  constructor(public targetPort: number) {
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      this.accepted++;
      const upstream = connect(this.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
  }

  /** Destroys every open connection; returns false (and counts nothing) when none was open. */
  cut(): boolean {
    if (this.pairs.size === 0) return false;
    this.cuts++;
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
    return true;
  }

  get open(): number {
    return this.pairs.size;
  }
}

/** Deterministic pseudo-random bytes (AES-256-CTR keystream), fast enough for hundreds of MB. */
export function pseudoRandom(seed: number): (size: number) => Buffer {
  const key = createHash("sha256").update(`lifeline-${seed}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return (size) => cipher.update(Buffer.alloc(size));
}

export interface StreamResult {
  sentHash: string;
  receivedHash: string;
  receivedBytes: number;
}

/**
 * Sends `bytes` of pseudo-random data (seeded) on `socket` while hashing everything received, then
 * half-closes. Resolves once both are done: all sent and ended, and the peer's end received.
 */
export function exchange(socket: Socket, bytes: number, seed: number): Promise<StreamResult> {
  const next = pseudoRandom(seed);
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let receivedBytes = 0;
  let remaining = bytes;
  return new Promise((resolve, reject) => {
    let sendingDone = false;
    let peerEnded = false;
    const settle = (): void => {
      if (sendingDone && peerEnded) {
        resolve({ sentHash: sent.digest("hex"), receivedHash: received.digest("hex"), receivedBytes });
      }
    };
    const pump = (): void => {
      while (remaining > 0) {
        const chunk = next(Math.min(64 * 1024, remaining));
        remaining -= chunk.length;
        sent.update(chunk);
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      socket.end();
      sendingDone = true;
      settle();
    };
    socket.on("data", (chunk: Buffer) => {
      received.update(chunk);
      receivedBytes += chunk.length;
    });
    socket.once("end", () => {
      peerEnded = true;
      settle();
    });
    socket.once("error", reject);
    pump();
  });
}

/** The SHA-256 of `bytes` of `pseudoRandom(seed)`. */
export function expectedHash(bytes: number, seed: number): string {
  const next = pseudoRandom(seed);
  const hash = createHash("sha256");
  for (let left = bytes; left > 0; left -= 1 << 20) hash.update(next(Math.min(1 << 20, left)));
  return hash.digest("hex");
}
