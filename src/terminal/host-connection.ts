/**
 * One client connection of `lifeline host`, as messages: decodes what arrives, encodes what is
 * sent, reports a malformed stream once, and closes with a bounded wait for the last bytes.
 */
import type { Socket } from "node:net";
import { formatHostPort } from "../ops/address.js";
import { encodeMessage, MessageDecoder, TerminalProtocolError, type TerminalMessage } from "./messages.js";
import type { TokenEntry } from "../server/tokens.js";
import type { Viewer } from "./host-session.js";

/** Above this many unsent bytes the connection is congested: its session stops reading the program. */
export const SEND_HIGH_WATER = 256 * 1024;
/** A closing connection whose peer does not take its last bytes is destroyed after this long. */
const LINGER_MS = 5_000;

export interface ConnectionHandlers {
  message(message: TerminalMessage): void;
  /** The stream was malformed (the connection already answered ERROR PROTOCOL and is closing). */
  malformed(error: TerminalProtocolError): void;
  closed(): void;
}

export class HostConnection implements Viewer {
  readonly client: string;
  /** Set once HELLO is accepted: this connection's token (its digest and name). */
  token: TokenEntry | undefined;

  get tokenName(): string | undefined {
    return this.token?.name;
  }
  private readonly decoder = new MessageDecoder();
  /** Set once the host has said its last word: nothing more is read or sent. */
  private closing = false;

  constructor(
    private readonly socket: Socket,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.client = formatHostPort({ host: socket.remoteAddress ?? "?", port: socket.remotePort ?? 0 });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => socket.destroy());
    socket.once("close", () => {
      this.closing = true;
      handlers.closed();
    });
  }

  send(message: TerminalMessage): void {
    if (!this.closing && this.socket.writable) this.socket.write(encodeMessage(message));
  }

  congested(): boolean {
    return this.socket.writableLength > SEND_HIGH_WATER;
  }

  onceDrained(fn: () => void): void {
    this.socket.once("drain", fn);
  }

  holdInput(held: boolean): void {
    if (held) this.socket.pause();
    else this.socket.resume();
  }

  end(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    this.socket.once("close", () => clearTimeout(linger));
  }

  fail(code: string, message: string): void {
    this.send({ type: "error", code, message });
    this.end();
  }

  /** Drops the connection at once, without a last word (the host is stopping). */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let messages: TerminalMessage[];
    try {
      // A plain view of the chunk, so that the decoder's slices are copies, as with any Uint8Array.
      messages = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      if (!(err instanceof TerminalProtocolError)) throw err;
      this.fail("PROTOCOL", err.message);
      this.handlers.malformed(err);
      return;
    }
    for (const message of messages) {
      if (this.closing) return;
      this.handlers.message(message);
    }
  }
}
