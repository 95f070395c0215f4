/**
 * The end of `connect --stdio`'s output. Ending process.stdout does not close descriptor 1 (libuv
 * never closes descriptors 0–2), so whoever reads it (ssh, a script) would see the end of the
 * stream only when the process exits, while half-closed protocols wait for it with their input
 * still open.
 */
import { closeSync, openSync } from "node:fs";

/** Once everything written to stdout is out (writes to it are synchronous), closes descriptor 1. */
export function closeStdoutWhenEnded(): void {
  process.stdout.once("finish", () => {
    try {
      closeSync(1);
      // Taken at once by /dev/null (the lowest free descriptor), so no file or socket opened later
      // gets descriptor 1 and with it anything written to stdout by mistake.
      openSync("/dev/null", "w");
    } catch {
      // Already closed: the reader has its end of file.
    }
  });
}
