/**
 * The application side of the stream benchmarks: plain TCP connections to a path's local port that
 * upload, download or echo through it to the target (target.ts), run in the bench process itself.
 */
import { connect, type Socket } from "node:net";
import { ENDLESS, header, pour, type Mode } from "./target.js";

/** Connects to 127.0.0.1:`port` and sends the target's header for `mode`. */
export function open(port: number, mode: Mode, length = ENDLESS, tag = 0): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => socket.destroy());
      socket.write(header(mode, length, tag));
      resolve(socket);
    });
  });
}

/** Seconds to upload `bytes` through `port`: until the target confirms it received them all. */
export async function upload(port: number, bytes: number): Promise<number> {
  const socket = await open(port, "U", bytes);
  const start = performance.now();
  const confirmed = new Promise<void>((resolve, reject) => {
    socket.once("data", () => resolve());
    socket.once("close", () => reject(new Error("upload: closed before the target confirmed")));
  });
  pour(socket, bytes);
  await confirmed;
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  return seconds;
}

/** Seconds to download `bytes` through `port`, from the request to the last byte. */
export async function download(port: number, bytes: number): Promise<number> {
  const socket = await open(port, "D", bytes);
  const start = performance.now();
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) resolve();
    });
    socket.once("close", () => reject(new Error(`download: closed after ${received} of ${bytes} bytes`)));
  });
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  return seconds;
}
