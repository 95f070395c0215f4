/**
 * An insertion-ordered set of channels that allocates nothing once it has grown to its working
 * size. The session schedules every frame through a few of these (channels ready to send, owing an
 * ACK, waiting for budget), several operations per round trip.
 *
 * Not a `Set`: a Set replaces its hash table on `clear()`, on the `delete` that shrinks it and on the
 * `add` that finds it full of deleted entries, and V8 allocates the new table in the old generation
 * once the Set lives there, which a session's Sets reach within seconds. Each operation then costs
 * ten times as much and leaves garbage that only a full collection reclaims (bench/RESULTS.md,
 * item 11).
 */

/** An item that records, one bit per queue, which queues hold it: a membership test is one load. */
export interface Queueable {
  queued: number;
}

export class ChannelQueue<T extends Queueable> {
  /** Members in order, from `head` to `tail`; slots outside that range hold undefined. */
  private readonly items: (T | undefined)[] = [];
  private head = 0;
  private tail = 0;

  /** @param bit this queue's bit in `Queueable.queued`, distinct for each queue an item can be in */
  constructor(private readonly bit: number) {}

  get size(): number {
    return this.tail - this.head;
  }

  has(item: T): boolean {
    return (item.queued & this.bit) !== 0;
  }

  /** Appends `item` unless it is already a member. */
  add(item: T): void {
    if (this.has(item)) return;
    item.queued |= this.bit;
    const size = this.tail - this.head;
    if (this.tail === this.items.length && this.head >= size) {
      // Reuse the slots already shifted out rather than grow: a round-robin queue that never empties
      // (shift a channel, add it back) would otherwise grow without end. At least half is free, so
      // the moves cost O(1) per add over time.
      this.items.copyWithin(0, this.head, this.tail);
      this.items.fill(undefined, size, this.tail);
      this.head = 0;
      this.tail = size;
    }
    this.items[this.tail++] = item;
  }

  /** Removes and returns the oldest member. */
  shift(): T | undefined {
    if (this.head === this.tail) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    item.queued &= ~this.bit;
    if (this.head === this.tail) this.head = this.tail = 0;
    return item;
  }

  /** Removes `item` wherever it stands; the others keep their order. Rare: a scan is fine. */
  delete(item: T): void {
    if (!this.has(item)) return;
    item.queued &= ~this.bit;
    const at = this.items.indexOf(item, this.head);
    this.items.copyWithin(at, at + 1, this.tail);
    this.items[--this.tail] = undefined;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  clear(): void {
    while (this.shift() !== undefined);
  }
}
