/**
 * The receiving half of one direction of a channel: accepts DATA and EOF by stream offset, drops
 * what it already has (a replay may overlap), refuses gaps and window violations, and tracks the
 * offsets that ACK frames report.
 */
import { LifelineError } from "../errors.js";

export class Receiver {
  /** Next stream offset expected; EOF occupies one offset, so this is end + 1 after EOF. */
  private nextOffset = 0;
  private eofOffset = -1;
  /** Bytes the application has taken (written onward and flushed). */
  private consumedBytes = 0;

  /** @param window bytes the peer may send beyond what the application has consumed */
  constructor(private readonly window: number) {}

  get received(): number {
    return this.nextOffset;
  }

  get eofReceived(): boolean {
    return this.eofOffset >= 0;
  }

  /** Highest offset (exclusive) the peer may send up to: consumed + window. */
  get windowLimit(): number {
    return this.consumedBytes + this.window;
  }

  /** Bytes delivered to the application but not yet consumed. */
  get unconsumed(): number {
    return this.dataReceived - this.consumedBytes;
  }

  private get dataReceived(): number {
    return this.eofOffset >= 0 ? this.eofOffset : this.nextOffset;
  }

  /** Takes DATA at `offset`; returns the bytes new to the application (possibly empty). */
  acceptData(channel: number, offset: number, data: Uint8Array): Uint8Array {
    const end = offset + data.length;
    if (this.eofOffset >= 0 && end > this.eofOffset) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `channel ${channel}: DATA past end of stream at ${this.eofOffset}`,
      );
    }
    if (offset > this.nextOffset) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `channel ${channel}: DATA at ${offset} leaves a gap after ${this.nextOffset}`,
      );
    }
    if (end > this.windowLimit) {
      throw new LifelineError(
        "FLOW_CONTROL_ERROR",
        `channel ${channel}: DATA up to ${end} exceeds the window limit ${this.windowLimit}`,
      );
    }
    if (end <= this.nextOffset) return EMPTY;
    const fresh = data.subarray(this.nextOffset - offset);
    this.nextOffset = end;
    return fresh;
  }

  /** Takes EOF at `offset`; returns true when it is new. */
  acceptEof(channel: number, offset: number): boolean {
    if (this.eofOffset >= 0) {
      if (offset !== this.eofOffset) {
        throw new LifelineError(
          "PROTOCOL_ERROR",
          `channel ${channel}: EOF moved from ${this.eofOffset} to ${offset}`,
        );
      }
      return false;
    }
    if (offset !== this.nextOffset) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `channel ${channel}: EOF at ${offset} but ${this.nextOffset} bytes were received`,
      );
    }
    this.eofOffset = offset;
    this.nextOffset = offset + 1;
    return true;
  }

  /** The application took `n` more delivered bytes; this opens the window by `n`. */
  consume(n: number): void {
    if (n < 0 || this.consumedBytes + n > this.dataReceived) {
      throw new LifelineError(
        "INTERNAL_ERROR",
        `consumed ${n} bytes but only ${this.unconsumed} are pending`,
      );
    }
    this.consumedBytes += n;
  }
}

const EMPTY = new Uint8Array(0);
