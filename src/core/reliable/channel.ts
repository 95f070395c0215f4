/**
 * One channel: two reliable directions over a shared session. The sending half keeps bytes until
 * acknowledged and knows how far it has transmitted on the current link; the receiving half
 * dedupes and orders. EOF occupies one stream offset, as FIN does in TCP, so acknowledging it and
 * replaying it need no special case.
 */
import { MAX_DATA_PER_FRAME } from "../constants.js";
import { LifelineError } from "../errors.js";
import type { DataFrame, EofFrame } from "../frame/types.js";
import { Receiver } from "./receiver.js";
import { SendBuffer } from "./send-buffer.js";

export class Channel {
  readonly out = new SendBuffer();
  readonly in: Receiver;
  /** Next stream offset to transmit on the current link (EOF included). */
  sentOffset = 0;
  /** We may transmit stream bytes below this offset. */
  peerWindowLimit: number;
  /** The application ended its direction; EOF sits at `out.written`. */
  ended = false;
  /** Server: target connected. Client: OPENED received. */
  opened = false;
  /** Set while a RESET we sent awaits the peer's confirming RESET. */
  resetCode: number | undefined;
  /** `in.received` and `in.windowLimit` as last sent in an ACK. */
  ackedReceived = 0;
  advertisedLimit: number;
  /** Which of the session's scheduling queues hold this channel, a bit each (see ChannelQueue). */
  queued = 0;
  private ackedEof = false;

  constructor(
    readonly id: number,
    readonly target: string,
    receiveWindow: number,
    peerWindow: number,
  ) {
    this.in = new Receiver(receiveWindow);
    this.peerWindowLimit = peerWindow;
    this.advertisedLimit = receiveWindow;
  }

  get isReset(): boolean {
    return this.resetCode !== undefined;
  }

  /** Our EOF has been acknowledged. */
  get eofAcked(): boolean {
    return this.ackedEof;
  }

  /** Both directions ended and were acknowledged. */
  get finished(): boolean {
    return this.eofAcked && this.in.eofReceived;
  }

  /** Something can go on the link now: bytes within the peer's window, or our EOF. */
  get hasSendable(): boolean {
    if (this.isReset) return false;
    const written = this.out.written;
    if (this.sentOffset < written) return this.sentOffset < this.peerWindowLimit;
    return this.ended && this.sentOffset === written;
  }

  /** The next frame to transmit, advancing `sentOffset`; undefined when nothing is sendable. */
  nextFrame(): DataFrame | EofFrame | undefined {
    if (!this.hasSendable) return undefined;
    const written = this.out.written;
    if (this.sentOffset < written) {
      const limit = Math.min(written, this.peerWindowLimit);
      const data = this.out.read(this.sentOffset, Math.min(limit - this.sentOffset, MAX_DATA_PER_FRAME));
      const frame: DataFrame = { kind: "data", channel: this.id, offset: this.sentOffset, data };
      this.sentOffset += data.length;
      return frame;
    }
    this.sentOffset = written + 1;
    return { kind: "eof", channel: this.id, offset: written };
  }

  /** Applies a cumulative ACK (or a resume table's received offset); returns bytes freed. */
  acknowledge(received: number, windowLimit: number): number {
    const written = this.out.written;
    const highest = written + (this.ended ? 1 : 0);
    if (received > highest) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `channel ${this.id}: peer acknowledges offset ${received} but only ${highest} exist`,
      );
    }
    if (received === written + 1) this.ackedEof = true;
    if (received > this.sentOffset) this.sentOffset = received;
    this.peerWindowLimit = Math.max(this.peerWindowLimit, windowLimit);
    return this.out.ack(Math.min(received, written));
  }

  /** After a resume: transmit again from what the peer reports it has. */
  rewindTo(received: number): void {
    if (received < this.out.acked) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `channel ${this.id}: peer reports offset ${received}, below the ${this.out.acked} it already acknowledged`,
      );
    }
    this.sentOffset = received;
  }
}
