/** What a session needs from the outside world, injected so that tests control time and chance. */
export interface SessionEnv {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** `size` cryptographically strong random bytes. */
  randomBytes(size: number): Uint8Array;
}
