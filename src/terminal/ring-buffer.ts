/**
 * The recent output of a terminal session: the last `capacity` bytes, kept in one fixed block of
 * memory whatever is written. Bytes are addressed by their offset in everything ever written, so a
 * reader can ask for "what came after the last byte I sent" and learn what it missed. A client that
 * attaches, or falls behind, is sent its bytes from here. Pure: no I/O.
 */
export class RingBuffer {
  private readonly block: Uint8Array;
  /** Where the oldest kept byte is. */
  private start = 0;
  private kept = 0;
  /** Bytes written and since overwritten. */
  private droppedBytes = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`ring buffer capacity must be a whole number ≥ 1, got ${capacity}`);
    this.block = new Uint8Array(capacity);
  }

  /** How many bytes are kept (at most `capacity`). */
  get length(): number {
    return this.kept;
  }

  /** How many bytes were written but are no longer kept: the oldest ones, overwritten. */
  get dropped(): number {
    return this.droppedBytes;
  }

  /** How many bytes were ever written: the offset the next byte will have. */
  get total(): number {
    return this.droppedBytes + this.kept;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length >= this.capacity) {
      this.droppedBytes += this.kept + bytes.length - this.capacity;
      this.block.set(bytes.subarray(bytes.length - this.capacity));
      this.start = 0;
      this.kept = this.capacity;
      return;
    }
    const overflow = Math.max(0, this.kept + bytes.length - this.capacity);
    this.droppedBytes += overflow;
    this.start = (this.start + overflow) % this.capacity;
    this.kept -= overflow;
    const end = (this.start + this.kept) % this.capacity;
    const first = Math.min(bytes.length, this.capacity - end);
    this.block.set(bytes.subarray(0, first), end);
    this.block.set(bytes.subarray(first), 0);
    this.kept += bytes.length;
  }

  /** A copy of the kept bytes, oldest first. */
  contents(): Uint8Array {
    return this.slice(this.droppedBytes, this.total);
  }

  /** A copy of the bytes at offsets `from` to `to` (exclusive) that are still kept. */
  slice(from: number, to: number): Uint8Array {
    const begin = Math.max(from, this.droppedBytes) - this.droppedBytes;
    const end = Math.min(to, this.total) - this.droppedBytes;
    if (end <= begin) return new Uint8Array(0);
    const out = new Uint8Array(end - begin);
    const at = (this.start + begin) % this.capacity;
    const first = Math.min(out.length, this.capacity - at);
    out.set(this.block.subarray(at, at + first));
    out.set(this.block.subarray(0, out.length - first), first);
    return out;
  }
}
