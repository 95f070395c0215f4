/**
 * The sending half of one direction of a channel: every byte the application wrote that the peer
 * has not acknowledged, addressed by stream offset. Bytes are kept by reference (no copy) except
 * small writes, which are packed into shared blocks so that a burst of one-byte keystrokes costs
 * bytes, not objects. Trimmed on ACK; read again from any unacknowledged offset to replay.
 */

/** Writes shorter than this are copied into a packing block. */
const SMALL_WRITE = 1024;
/**
 * Packing blocks start at SMALL_WRITE bytes and double while small writes keep coming, up to
 * PACK_BLOCK. Once every byte is acknowledged a larger block is let go: an interactive channel at
 * rest (a shell, keystrokes and prompts) holds 1 KiB per direction, not 16, which at 10,000 sessions
 * is 150 MiB of the server's memory. A 1 KiB block is kept, so that typing, one acknowledged
 * keystroke after another, allocates nothing.
 */
const PACK_BLOCK = 16384;

export class SendBuffer {
  /** Offset of the first byte still held (everything below was acknowledged). */
  private ackedOffset = 0;
  /** Offset one past the last byte written. */
  private writtenOffset = 0;

  private chunks: Uint8Array[] = [];
  /** Stream offset of chunks[i][0]. */
  private starts: number[] = [];
  private head = 0;

  private pack: Uint8Array | undefined;
  private packUsed = 0;
  /** Index in `chunks` of the last entry viewing `pack` (which begins at `packStart`), or -1. */
  private packEntry = -1;
  private packStart = 0;

  get acked(): number {
    return this.ackedOffset;
  }

  get written(): number {
    return this.writtenOffset;
  }

  /** Bytes held: written but not yet acknowledged. */
  get buffered(): number {
    return this.writtenOffset - this.ackedOffset;
  }

  /** Appends bytes. The caller has already checked the byte budget. */
  append(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    if (n < SMALL_WRITE) this.appendSmall(bytes);
    else this.pushChunk(bytes);
    this.writtenOffset += n;
  }

  /** Drops every byte below `offset`. Returns the number of bytes freed. */
  ack(offset: number): number {
    if (offset <= this.ackedOffset) return 0;
    if (offset > this.writtenOffset)
      throw new RangeError(`ack ${offset} beyond written ${this.writtenOffset}`);
    const freed = offset - this.ackedOffset;
    this.ackedOffset = offset;
    while (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head] as Uint8Array;
      if ((this.starts[this.head] as number) + chunk.length > offset) break;
      // The block itself lives on while later entries view it; only this entry is gone.
      if (this.head === this.packEntry) this.packEntry = -1;
      this.chunks[this.head] = EMPTY;
      this.head++;
    }
    this.compact();
    return freed;
  }

  /**
   * Bytes starting at `from` (acked ≤ from < written), at most `max` of them. Returns a view of one
   * stored chunk, up to its end: bulk data then goes out a socket read per frame, never copied.
   * Only a small remainder is gathered with the chunks after it into one copy, so that a replay of
   * many tiny writes goes out as few frames.
   */
  read(from: number, max: number): Uint8Array {
    if (from < this.ackedOffset || from >= this.writtenOffset) {
      throw new RangeError(`read at ${from} outside [${this.ackedOffset}, ${this.writtenOffset})`);
    }
    let i = this.find(from);
    const first = this.chunks[i] as Uint8Array;
    const skip = from - (this.starts[i] as number);
    const available = first.length - skip;
    if (available >= max) return first.subarray(skip, skip + max);
    if (available >= SMALL_WRITE || i === this.chunks.length - 1) return first.subarray(skip);
    const size = Math.min(max, this.writtenOffset - from);
    const out = new Uint8Array(size);
    out.set(first.subarray(skip), 0);
    let filled = available;
    while (filled < size) {
      const chunk = this.chunks[++i] as Uint8Array;
      const take = Math.min(chunk.length, size - filled);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
      filled += take;
    }
    return out;
  }

  /** Copies a small write into the current block: extending the last entry, or as a new entry viewing the block's free part. */
  private appendSmall(bytes: Uint8Array): void {
    const last = this.chunks.length - 1;
    if (!this.pack || this.packUsed + bytes.length > this.pack.length) {
      this.pack = new Uint8Array(this.pack ? Math.min(PACK_BLOCK, 2 * this.pack.length) : SMALL_WRITE);
      this.packUsed = 0;
      this.packEntry = -1;
    }
    this.pack.set(bytes, this.packUsed);
    if (this.packEntry === last && last >= this.head) {
      this.chunks[last] = this.pack.subarray(this.packStart, this.packUsed + bytes.length);
    } else {
      this.packStart = this.packUsed;
      this.pushChunk(this.pack.subarray(this.packStart, this.packUsed + bytes.length));
      this.packEntry = this.chunks.length - 1;
    }
    this.packUsed += bytes.length;
  }

  private pushChunk(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.starts.push(this.writtenOffset);
  }

  /** Index of the chunk holding `offset`: binary search over the live chunks. */
  private find(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Reclaims the array slots of trimmed chunks once they are the larger part. */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.starts.length = 0;
      this.head = 0;
      this.packEntry = -1;
      // Every byte in the block is acknowledged: a small one is filled again from its start, so that
      // typing never allocates; a larger one is let go.
      if (this.pack && this.pack.length > SMALL_WRITE) this.pack = undefined;
      else this.packUsed = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.starts = this.starts.slice(this.head);
      if (this.packEntry >= 0) this.packEntry -= this.head;
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
