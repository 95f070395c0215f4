/**
 * The server's view of a new link before it belongs to a session: checks the preamble, answers
 * with its own, and waits (up to a deadline) for the single HELLO or RESUME that names what the
 * link is for. A peer that is not lifeline is dropped without a reply; any other failure is
 * answered with CLOSE and a code.
 */
import { PROTOCOL_VERSION } from "../constants.js";
import { isLifelineError, LifelineError } from "../errors.js";
import { FrameDecoder } from "../frame/decode.js";
import { encodeFrameBytes, encodePreamble } from "../frame/encode.js";
import type { HelloFrame, ResumeFrame } from "../frame/types.js";

export type LinkRequest = HelloFrame | ResumeFrame;

export class ServerLink {
  readonly decoder = new FrameDecoder({ expectPreamble: true });
  /** The reason the link was refused, once it was. */
  failure: LifelineError | undefined;
  private output: Uint8Array[] = [];
  private preambleSent = false;
  private request: LinkRequest | undefined;

  /** @param deadline clock time (ms) by which the HELLO or RESUME must have arrived */
  constructor(readonly deadline: number) {}

  /** Feeds bytes; returns the HELLO or RESUME once it is complete. */
  receive(bytes: Uint8Array): LinkRequest | undefined {
    if (this.failure) return undefined;
    try {
      if (this.request) {
        throw new LifelineError(
          "PROTOCOL_ERROR",
          "data sent before the handshake reply; a client must wait for it",
        );
      }
      const frames = this.decoder.push(bytes);
      this.sendPreamble();
      if (this.decoder.failure) throw this.decoder.failure;
      if (frames.length === 0) return undefined;
      const first = frames[0];
      if (frames.length > 1 || !this.decoder.idle) {
        throw new LifelineError(
          "PROTOCOL_ERROR",
          "frames sent before the handshake reply; a client must wait for it",
        );
      }
      if (first?.kind !== "hello" && first?.kind !== "resume") {
        throw new LifelineError(
          "PROTOCOL_ERROR",
          `a link must start with HELLO or RESUME, not ${first?.kind.toUpperCase()}`,
        );
      }
      this.request = first;
      return first;
    } catch (err) {
      if (!isLifelineError(err)) throw err;
      this.refuse(err);
      return undefined;
    }
  }

  /** Refuses the link: queues CLOSE with the error's code (nothing for a peer that is not lifeline). */
  refuse(err: LifelineError): void {
    if (this.failure) return;
    this.failure = err;
    if (err.code === "BAD_MAGIC") return;
    this.sendPreamble(true);
    this.output.push(encodeFrameBytes({ kind: "close", code: err.wireCode, reason: err.message }));
  }

  /** Refuses the link when the handshake deadline has passed. */
  tick(now: number): void {
    if (!this.request && now >= this.deadline) {
      this.refuse(new LifelineError("HANDSHAKE_TIMEOUT", "no HELLO or RESUME within the handshake deadline"));
    }
  }

  /** Bytes to write on the link. */
  takeOutput(): Uint8Array[] {
    const out = this.output;
    this.output = [];
    return out;
  }

  private sendPreamble(evenWithoutPeerVersion = false): void {
    if (this.preambleSent) return;
    if (this.decoder.peerVersion === undefined && !evenWithoutPeerVersion) return;
    this.preambleSent = true;
    this.output.push(encodePreamble(PROTOCOL_VERSION));
  }
}
