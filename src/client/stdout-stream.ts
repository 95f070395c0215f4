/**
 * stdout for `connect --stdio`. process.stdout will not do on a pipe: ending it leaves descriptor 1
 * open (libuv never closes descriptors 0–2), so whoever reads it (ssh, a script) would see the end
 * of the stream only when connect exits, while half-closed protocols wait for it with their input
 * still open; and its handle cannot be closed before the descriptor is (see below).
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { Socket } from "node:net";
import type { Writable } from "node:stream";

/**
 * Descriptor 1 as a stream. A pipe or a socket gets a non-blocking socket of its own that, once
 * ended and flushed, shuts down (a socket) or closes (a pipe) descriptor 1: its reader sees the
 * end of file. A terminal or a file is process.stdout: nobody waits for its end.
 */
export function stdoutStream(): Writable {
  const stat = fstatSync(1);
  if (!stat.isFIFO() && !stat.isSocket()) return process.stdout;
  const out = new Socket({ fd: 1, readable: false, writable: true });
  // Closing the handle first takes descriptor 1 out of the event loop's watch list while it is still
  // valid; closing the descriptor under a watched handle can leave the loop spinning on it.
  out.once("close", () => {
    if (stat.isFIFO()) releaseDescriptor1();
  });
  out.once("finish", () => out.destroy());
  return out;
}

function releaseDescriptor1(): void {
  try {
    closeSync(1);
    // /dev/null takes descriptor 1 at once (the lowest free one), so that no file or socket opened
    // later gets it, with anything written to stdout by mistake.
    openSync("/dev/null", "w");
  } catch {
    // Already closed (the reader has its end of file), or no /dev/null: stdout stays closed.
  }
}
