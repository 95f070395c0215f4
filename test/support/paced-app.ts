/**
 * A test application: connects to HOST:PORT, sends BYTES of seeded pseudo-random data at a paced
 * rate (so the transfer spans an outage), hashes what it sends and what comes back (the target
 * echoes), and prints one JSON line with both hashes when the echo is complete.
 * Usage: node paced-app.js HOST PORT BYTES CHUNK_BYTES INTERVAL_MS
 */
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { pseudoRandom } from "./net-fixtures.js";

const [host, port, bytes, chunkBytes, intervalMs] = process.argv.slice(2);
const total = Number(bytes);
const next = pseudoRandom(7);
const sent = createHash("sha256");
const received = createHash("sha256");
let receivedBytes = 0;
let sentBytes = 0;
const socket = connect({ host: host as string, port: Number(port), allowHalfOpen: true });
socket.on("data", (chunk: Buffer) => {
  received.update(chunk);
  receivedBytes += chunk.length;
  if (receivedBytes === total) {
    console.log(
      JSON.stringify({ sent: sent.digest("hex"), received: received.digest("hex"), bytes: receivedBytes }),
    );
    socket.end();
  }
});
socket.on("error", (err) => {
  console.log(JSON.stringify({ error: err.message, sentBytes, receivedBytes }));
  process.exit(1);
});
socket.once("connect", () => {
  const timer = setInterval(() => {
    const chunk = next(Math.min(Number(chunkBytes), total - sentBytes));
    sent.update(chunk);
    sentBytes += chunk.length;
    socket.write(chunk);
    if (sentBytes >= total) clearInterval(timer);
  }, Number(intervalMs));
});
