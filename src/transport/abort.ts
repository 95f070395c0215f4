/** Ending a connection as an abort, the way TCP says so. */
import { Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * Ends `socket` with a TCP reset where it is TCP, as the far side's own reset would have been, so
 * that an application does not take a cut-off stream for a complete one. Any other stream (a Unix
 * socket, stdin and stdout) is just destroyed.
 */
export function abort(socket: Duplex): void {
  if (socket instanceof Socket && !socket.destroyed) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not TCP, or not connected: a plain close is all there is.
    }
  }
  socket.destroy();
}
