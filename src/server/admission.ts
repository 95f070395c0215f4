/**
 * Which new connections may start their handshake now. A TLS handshake and a resume cost the server
 * about a millisecond of CPU. When thousands of clients reconnect at once (an outage cut all their
 * links), starting every handshake together shares the CPU between all of them, so each one takes
 * as long as all of them: longer than a client waits for its dial, and the server then completes
 * handshakes nobody waits for while the clients dial again. So only `concurrent` handshakes run at
 * once; the other connections wait their turn in arrival order before any TLS work is spent on
 * them. A waiting connection whose client gave up leaves the queue at no cost, and one that waited
 * longer than `maxWaitMs` is closed when its turn comes.
 *
 * One source (address) runs at most `concurrentPerSource` handshakes at once: connections that never
 * finish their handshake (an attacker's, or a broken client's) then hold only that share of the
 * places until their deadline, while connections from other sources take the rest, skipping ahead
 * of that source's waiting ones. Many users behind one NAT address are one source too: they share
 * its places, and still start in arrival order.
 */
export interface AdmissionOptions {
  /** Handshakes in progress at once; enough to keep the CPU busy while clients answer. */
  concurrent: number;
  /** Handshakes in progress at once from one source. */
  concurrentPerSource: number;
  /** A connection that waited longer than this for its turn, in milliseconds, is closed instead. */
  maxWaitMs: number;
}

interface Waiting {
  source: string;
  arrived: number;
}

export class Admission<T> {
  /** Waiting connections, in arrival order (a Map keeps insertion order). */
  private readonly waiting = new Map<T, Waiting>();
  private running = 0;
  private readonly runningBySource = new Map<string, number>();

  constructor(
    private readonly options: AdmissionOptions,
    private readonly now: () => number,
  ) {}

  get waitingCount(): number {
    return this.waiting.size;
  }

  /**
   * A new connection from `source`: true when its handshake may start now; otherwise it waits. (No
   * waiting connection could start now, or `finish` would have started it: a new one that can start
   * overtakes none that could.)
   */
  arrive(item: T, source: string): boolean {
    if (this.mayStart(source)) {
      this.start(source);
      return true;
    }
    this.waiting.set(item, { source, arrived: this.now() });
    return false;
  }

  /** A waiting connection closed (its client gave up): it will not be started. */
  leave(item: T): void {
    this.waiting.delete(item);
  }

  /**
   * A handshake from `source` that `arrive` or `finish` started has ended (joined a session, was
   * refused or failed): the next waiting connection to start, if any (the first in arrival order
   * whose source has a place left), and the ones passed over that waited too long.
   */
  finish(source: string): { next: T | undefined; expired: T[] } {
    this.running--;
    const left = (this.runningBySource.get(source) ?? 1) - 1;
    if (left > 0) this.runningBySource.set(source, left);
    else this.runningBySource.delete(source);
    const expired: T[] = [];
    const since = this.now() - this.options.maxWaitMs;
    for (const [item, { source: from, arrived }] of this.waiting) {
      if (arrived < since) {
        this.waiting.delete(item);
        expired.push(item);
        continue;
      }
      if (!this.mayStart(from)) continue;
      this.waiting.delete(item);
      this.start(from);
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

  private mayStart(source: string): boolean {
    return (
      this.running < this.options.concurrent &&
      (this.runningBySource.get(source) ?? 0) < this.options.concurrentPerSource
    );
  }

  private start(source: string): void {
    this.running++;
    this.runningBySource.set(source, (this.runningBySource.get(source) ?? 0) + 1);
  }
}
