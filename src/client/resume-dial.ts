/**
 * The dial that resumes a session. A server in a reconnect storm keeps new connections waiting for
 * their turn (up to 60 s): a client that gave one up to dial again only started again at the back
 * of the queue (5,600 abandoned dials in a 10,000-session storm). But a connection can also be
 * lost for good before TLS while TCP says nothing (the client roamed to another address, a
 * middlebox swallows it), and waiting on it would hold the resume up. So an attempt still waiting
 * after TLS_WAIT_FACTOR times the dial timeout is kept, and another starts beside it; the first to
 * complete wins and the others are closed.
 */
import type { HostPort } from "../ops/address.js";
import { dial, TLS_WAIT_FACTOR, type DialResult } from "./dialer.js";
import { SecurityError, type Verification } from "./verify.js";

/** Attempts a resume may hold open at once: with the default 5 s dial timeout, 60 s of waiting in all. */
export const RESUME_ATTEMPTS = 4;

/**
 * Resolves with the first attempt that completes TLS and passes verification. Rejects with the
 * first SecurityError at once, or with the last failure once every attempt has failed.
 */
export function dialResume(
  server: HostPort,
  verification: Verification,
  timeoutMs: number,
): Promise<DialResult> {
  const staleMs = TLS_WAIT_FACTOR * timeoutMs;
  const race = new AbortController();
  return new Promise((resolve, reject) => {
    let started = 0;
    let running = 0;
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      clearTimeout(timer);
      race.abort();
    };
    const start = (): void => {
      const attempt = started++;
      running++;
      // Every attempt may wait until the race's end, RESUME_ATTEMPTS × staleMs after it began.
      const tlsWaitMs = (RESUME_ATTEMPTS - attempt) * staleMs;
      dial(server, verification, timeoutMs, { tlsWaitMs, signal: race.signal }).then(
        (result) => {
          running--;
          if (race.signal.aborted) return void result.socket.destroy();
          end();
          resolve(result);
        },
        (err: Error) => {
          running--;
          if (race.signal.aborted) return;
          if (err instanceof SecurityError || running === 0) {
            end();
            reject(err);
          }
        },
      );
      if (started < RESUME_ATTEMPTS) timer = setTimeout(start, staleMs);
    };
    start();
  });
}
