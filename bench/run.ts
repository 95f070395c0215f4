/** `npm run bench`: prints figures, asserts nothing. */
import { benchCodec } from "./codec.js";
import { machineFacts } from "./machine.js";

console.log(`lifeline benchmarks — ${machineFacts()}`);
const codec = benchCodec();
const fmt = (n: number): string => `${Math.round(n).toLocaleString("en-US")} MB/s`;
console.log("\ncodec and replay buffer, 16 KiB DATA frames, one core, median of 5 runs over 512 MiB:");
console.table({
  "encode (header + payload by reference)": fmt(codec.encodeMBps),
  "encode, copied into one buffer": fmt(codec.encodeCopyMBps),
  "decode (64 KiB socket chunks)": fmt(codec.decodeMBps),
  "encode + decode": fmt(codec.encodeDecodeMBps),
  "send buffer: append, read, trim on ACK": fmt(codec.bufferTrimMBps),
});
