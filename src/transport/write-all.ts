/** One write of a core's transmit on a Node stream. */
import type { Writable } from "node:stream";

/** Writes smaller than this in all are copied into one Buffer from Node's pool (half its size). */
export const COALESCE_BELOW = Buffer.poolSize >>> 1;

/**
 * Writes `chunks` in order as one write; false when the stream wants "drain". A small transmit (a
 * PONG, ACKs, interactive DATA: a header and a few bytes) is copied into one pooled Buffer: one write
 * costs less than corking several, and Node would otherwise turn each of the core's Uint8Arrays into
 * a Buffer, giving a small one memory of its own first. Larger ones are written corked, uncopied.
 */
export function writeAll(stream: Writable, chunks: readonly Uint8Array[]): boolean {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  if (total < COALESCE_BELOW) {
    const out = Buffer.allocUnsafe(total); // pooled and not zeroed: every byte is written below
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return stream.write(out);
  }
  stream.cork();
  let ok = true;
  for (const chunk of chunks) ok = stream.write(chunk);
  stream.uncork();
  return ok;
}
