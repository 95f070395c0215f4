/**
 * Counts failures (wrong token, wrong resume secret) per source address in a sliding window and
 * refuses an address that failed too often, so tokens and secrets cannot be guessed at line rate.
 * Memory is bounded: at most `maxTracked` addresses are remembered, oldest forgotten first.
 */
export interface RateLimitOptions {
  /** Failures allowed within the window before the address is refused. */
  maxFailures: number;
  /** Window length, in milliseconds. */
  windowMs: number;
  maxTracked: number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number,
  ) {}

  /** Whether `address` is currently refused. */
  blocked(address: string): boolean {
    return this.recent(address).length >= this.options.maxFailures;
  }

  recordFailure(address: string): void {
    const list = this.recent(address);
    list.push(this.now());
    this.failures.delete(address);
    this.failures.set(address, list);
    if (this.failures.size > this.options.maxTracked) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  private recent(address: string): number[] {
    const since = this.now() - this.options.windowMs;
    const list = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(address);
    return list;
  }
}
