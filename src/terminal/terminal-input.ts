/**
 * What the client types (or pastes) for a session's program, written to the terminal as fast as
 * the program reads it and no faster. node-pty's own write queues without limit and retries a full
 * terminal in a tight loop, so a paste into a program that is not reading grew the host without
 * bound and kept a core busy. Here at most INPUT_HIGH_WATER bytes wait: beyond that the session
 * stops reading its client's connection (`full`), which backs up through serve to the user's
 * keyboard, and reading starts again once the program has taken the input down to INPUT_LOW_WATER.
 */
import { writeSync } from "node:fs";

export const INPUT_HIGH_WATER = 64 * 1024;
const INPUT_LOW_WATER = 16 * 1024;
/** How often a full terminal is tried again: the program reads when it reads, and no event says so. */
const RETRY_MS = 10;

export class TerminalInput {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private full = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * @param fd the terminal's master side, non-blocking (as node-pty opens it)
   * @param onFull told when input stops being taken (true) and when it may come again (false)
   */
  constructor(
    private readonly fd: number,
    private readonly onFull: (full: boolean) => void,
  ) {}

  /** Bytes waiting for the program. */
  get waiting(): number {
    return this.queued;
  }

  get isFull(): boolean {
    return this.full;
  }

  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (this.retry === undefined) this.flush();
    if (!this.full && this.queued > INPUT_HIGH_WATER) {
      this.full = true;
      this.onFull(true);
    }
  }

  /** The program has ended or hung up: nothing more is written, and what waits is dropped. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.queue.length = 0;
    this.queued = 0;
  }

  /** From the retry timer, where a throw would end the process: a fault ends this input alone. */
  private flushLater(): void {
    try {
      this.flush();
    } catch {
      this.close();
    }
  }

  private flush(): void {
    this.retry = undefined;
    while (!this.closed && this.queue.length > 0) {
      const head = this.queue[0] as Uint8Array;
      let written: number;
      try {
        // Synchronous and non-blocking: it takes what the terminal has room for, or throws EAGAIN.
        written = writeSync(this.fd, head);
      } catch (err) {
        const { code, syscall } = err as NodeJS.ErrnoException;
        if (code === "EAGAIN") {
          this.retry = setTimeout(() => this.flushLater(), RETRY_MS);
          break;
        }
        // Not the terminal's answer (EIO, or EBADF once it is gone) but a fault of ours: say so.
        if (syscall !== "write") throw err;
        // The terminal is gone (the program hung up): its input with it.
        this.close();
        return;
      }
      this.queued -= written;
      if (written === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(written);
    }
    if (this.full && this.queued <= INPUT_LOW_WATER) {
      this.full = false;
      this.onFull(false);
    }
  }
}
