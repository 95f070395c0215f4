/** Big-endian integer access and small byte utilities on plain Uint8Array (no Buffer: browsers too). */

const TWO_POW_32 = 0x1_0000_0000;

export function readU16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

export function readU32(b: Uint8Array, at: number): number {
  return (
    (b[at] as number) * 0x100_0000 +
    (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
  );
}

/** Reads a u64; returns -1 when the value exceeds 2^53-1 so callers can reject it. */
export function readU64(b: Uint8Array, at: number): number {
  const high = readU32(b, at);
  if (high > 0x1f_ffff) return -1;
  return high * TWO_POW_32 + readU32(b, at + 4);
}

export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

export function writeU64(b: Uint8Array, at: number, v: number): void {
  writeU32(b, at, Math.floor(v / TWO_POW_32));
  writeU32(b, at + 4, v >>> 0);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Compares secrets without an early exit, so timing does not reveal how many bytes matched. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function toHex(b: Uint8Array): string {
  // join() gives one flat string; += would leave a chain of partial strings behind a long-kept id.
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new TypeError(`not hex: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
