/**
 * Which new connections may start their handshake now. A TLS handshake and a resume cost the server
 * about a millisecond of CPU. When thousands of clients reconnect at once (an outage cut all their
 * links), starting every handshake together shares the CPU between all of them, so each one takes
 * as long as all of them: longer than a client waits for its dial, and the server then completes
 * handshakes nobody waits for while the clients dial again. So only `concurrent` handshakes run at
 * once; the other connections wait their turn in arrival order before any TLS work is spent on
 * them. A waiting connection whose client gave up leaves the queue at no cost, and one that waited
 * longer than `maxWaitMs` is closed when its turn comes.
 */
export interface AdmissionOptions {
  /** Handshakes in progress at once; enough to keep the CPU busy while clients answer. */
  concurrent: number;
  /** A connection that waited longer than this for its turn, in milliseconds, is closed instead. */
  maxWaitMs: number;
}

export class Admission<T> {
  /** Waiting connections and when each arrived, in arrival order (a Map keeps insertion order). */
  private readonly waiting = new Map<T, number>();
  private running = 0;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly now: () => number,
  ) {}

  get waitingCount(): number {
    return this.waiting.size;
  }

  /** A new connection: true when its handshake may start now; otherwise it waits. */
  arrive(item: T): boolean {
    if (this.running < this.options.concurrent && this.waiting.size === 0) {
      this.running++;
      return true;
    }
    this.waiting.set(item, this.now());
    return false;
  }

  /** A waiting connection closed (its client gave up): it will not be started. */
  leave(item: T): void {
    this.waiting.delete(item);
  }

  /**
   * A handshake that `arrive` or `finish` started has ended (joined a session, was refused or
   * failed): the next waiting connection to start, if any, and the ones that waited too long.
   */
  finish(): { next: T | undefined; expired: T[] } {
    this.running--;
    const expired: T[] = [];
    const since = this.now() - this.options.maxWaitMs;
    for (const [item, arrived] of this.waiting) {
      this.waiting.delete(item);
      if (arrived < since) {
        expired.push(item);
        continue;
      }
      this.running++;
      return { next: item, expired };
    }
    return { next: undefined, expired };
  }

  /** Stops waiting for all (the server is stopping): the connections that were waiting. */
  clear(): T[] {
    const all = [...this.waiting.keys()];
    this.waiting.clear();
    return all;
  }
}
