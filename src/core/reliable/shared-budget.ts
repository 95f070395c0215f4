/**
 * A byte budget shared by many sessions (the server's global buffer budget). Idle sessions hold
 * nothing; a session takes from the pool as it buffers and gives back as the peer acknowledges.
 * A session refused for lack of shared room waits here and is woken when another one gives back.
 */
export interface BudgetWaiter {
  /** There may be room again: retry the writes that were cut short. */
  wake(): void;
}

export class SharedBudget {
  private usedBytes = 0;
  private readonly waiting = new Set<BudgetWaiter>();

  /** @param limit bytes all sessions together may hold for replay */
  constructor(readonly limit: number) {}

  get used(): number {
    return this.usedBytes;
  }

  get available(): number {
    return Math.max(0, this.limit - this.usedBytes);
  }

  take(bytes: number): void {
    this.usedBytes += bytes;
  }

  give(bytes: number): void {
    if (bytes <= 0) return;
    this.usedBytes -= bytes;
    if (this.waiting.size === 0 || this.available === 0) return;
    const woken = [...this.waiting];
    this.waiting.clear();
    for (const waiter of woken) waiter.wake();
  }

  waitForRoom(waiter: BudgetWaiter): void {
    this.waiting.add(waiter);
  }

  forget(waiter: BudgetWaiter): void {
    this.waiting.delete(waiter);
  }
}
