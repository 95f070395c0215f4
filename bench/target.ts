/**
 * The TCP service behind every path. A connection starts with a 13-byte header: a mode, a length
 * (u64) and a tag (u32); then, by mode:
 * - U (upload): counts what arrives under the tag; answers one byte once `length` bytes arrived;
 * - D (download): sends `length` bytes, then ends;
 * - E (echo): sends back everything after the header;
 * - anything else, or no header at all: holds the connection idle.
 * `ENDLESS` as the length: upload or download until the connection is closed.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";

export const HEADER_SIZE = 13;
export const ENDLESS = Number.MAX_SAFE_INTEGER;
export type Mode = "U" | "D" | "E" | "I";

export function header(mode: Mode, length = ENDLESS, tag = 0): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.write(mode, 0, "latin1");
  buf.writeBigUInt64BE(BigInt(length), 1);
  buf.writeUInt32BE(tag, 9);
  return buf;
}

/** What a download or upload sends: one block, written again and again (no generation cost). */
const BLOCK = Buffer.alloc(256 * 1024, 0x5a);

export class Target {
  readonly server: Server;
  /** Bytes received by upload connections, by tag. */
  readonly uploaded = new Map<number, number>();
  /** Bytes echoed back, all connections together. */
  echoed = 0;
  connections = 0;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
  }

  listen(host = "127.0.0.1"): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen({ port: 0, host, backlog: 4096 }, () =>
        resolve((this.server.address() as AddressInfo).port),
      ),
    );
  }

  close(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    socket.once("close", () => this.sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onHeader = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < HEADER_SIZE) return;
      socket.off("data", onHeader);
      const mode = head.toString("latin1", 0, 1);
      const length = Number(head.readBigUInt64BE(1));
      const tag = head.readUInt32BE(9);
      const rest = head.subarray(HEADER_SIZE);
      if (mode === "U") this.upload(socket, length, tag, rest);
      else if (mode === "D") download(socket, length);
      else if (mode === "E") this.echo(socket, rest);
    };
    socket.on("data", onHeader);
  }

  private upload(socket: Socket, length: number, tag: number, first: Buffer): void {
    let received = 0;
    const count = (chunk: Buffer): void => {
      received += chunk.length;
      this.uploaded.set(tag, (this.uploaded.get(tag) ?? 0) + chunk.length);
      if (received >= length && length !== ENDLESS) {
        socket.off("data", count);
        socket.write("K");
      }
    };
    socket.on("data", count);
    if (first.length > 0) count(first);
  }

  private echo(socket: Socket, first: Buffer): void {
    const send = (chunk: Buffer): void => {
      this.echoed += chunk.length;
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    };
    socket.on("data", send);
    if (first.length > 0) send(first);
  }
}

function download(socket: Socket, length: number): void {
  pour(socket, length, () => socket.end());
}

/** Writes BLOCK to `socket` until `bytes` are written (or for ever), respecting backpressure; then `done`. */
export function pour(socket: Socket, bytes = ENDLESS, done?: () => void): void {
  let left = bytes;
  const pump = (): void => {
    while (left > 0 && !socket.destroyed) {
      const n = Math.min(left, BLOCK.length);
      left -= n;
      if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        socket.once("drain", pump);
        return;
      }
    }
    if (left === 0) done?.();
  };
  pump();
}

/** As a child process (child.ts): a target on its own event loop and file descriptors. */
export async function targetChild(): Promise<Record<string, () => unknown>> {
  const target = new Target();
  const port = await target.listen();
  announce(port);
  return { stats: () => ({ echoed: target.echoed, connections: target.connections }) };
}

/** The line a parent reads to learn a child's port (the same shape as lifeline's own "listening" event). */
export function announce(port: number): void {
  process.stderr.write(`${JSON.stringify({ level: 30, event: "listening", port, msg: "listening" })}\n`);
}
