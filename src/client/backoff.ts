/**
 * Reconnect delays: the first retry at once (most outages are short), then exponential growth
 * with jitter so that a thousand clients cut by the same outage do not reconnect in lock-step.
 */
export interface BackoffOptions {
  /** Delay before the second attempt, in milliseconds. */
  initialMs: number;
  /** Growth factor per attempt. */
  factor: number;
  /**
   * Upper bound on any delay, in milliseconds. Attempts are cheap; users want to be back fast: after
   * a long outage the link is used again within this cap plus a handshake (under 1 s in all).
   */
  maxMs: number;
  /** Relative jitter: each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = {
  initialMs: 100,
  factor: 1.6,
  maxMs: 600,
  jitter: 0.2,
};

/** Delay before attempt number `attempt` (0 is the first attempt after the link was lost). */
export function backoffDelay(
  attempt: number,
  random: () => number,
  options: BackoffOptions = DEFAULT_BACKOFF,
): number {
  if (attempt <= 0) return 0;
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** (attempt - 1));
  const scaled = base * (1 - options.jitter + 2 * options.jitter * random());
  return Math.round(Math.min(options.maxMs, scaled));
}
