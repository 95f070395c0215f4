#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=4
// Why the flags. Node reads them from this line when the command runs; src/cli/command.ts reads
// them from here for processes lifeline spawns itself (bench/RESULTS.md has the measurements).
// --initial-old-space-size=64: a relay keeps a small heap (about 10 MiB) while its sockets churn
// through gigabytes of buffers, and V8 sizes the old generation's limit from the live heap. With
// only headroom of about one young generation, V8 starts a full mark-compact again and again (80
// per GiB relayed, a third of the relay's CPU); a 64 MiB floor on that limit removes them.
// --max-semi-space-size=4 caps the young generation at 8 MiB. Opening 10,000 sessions grew it to
// V8's 32 MiB ceiling, where it stays: 2 KiB of resident memory per idle session at 10,000 (about
// 32 KiB each in all), for 35 ms more scavenging per GiB relayed (1 % of the relays' CPU).
import "../dist/src/cli/main.js";
