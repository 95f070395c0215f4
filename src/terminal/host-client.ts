/**
 * A small promise-based client of `lifeline host` (docs/TERMINAL.md): connect, HELLO, then NEW,
 * ATTACH or LIST, then INPUT and RESIZE while collecting OUTPUT. The tests drive the host with it;
 * it knows the protocol's order but nothing of terminals.
 */
import { connect, type Socket } from "node:net";
import {
  encodeMessage,
  MessageDecoder,
  TERMINAL_PROTOCOL_VERSION,
  type SessionSummary,
  type TerminalMessage,
  type WindowSize,
} from "./messages.js";

/** The host answered ERROR: `code` is its stable code (AUTH_FAILED, NO_SUCH_SESSION, ...). */
export class HostError extends Error {
  override readonly name = "HostError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

type Control = Exclude<TerminalMessage, { type: "output" }>;
type Exit = Extract<TerminalMessage, { type: "exit" }>;

const DEFAULT_TIMEOUT_MS = 10_000;

export class HostClient {
  /** Everything the host sent as OUTPUT, decoded as UTF-8. */
  text = "";
  /** How many bytes of OUTPUT arrived. */
  outputBytes = 0;
  /** Where the next `waitForOutput` starts looking in `text`. */
  private cursor = 0;
  private readonly decoder = new MessageDecoder();
  private readonly textDecoder = new TextDecoder();
  private readonly controls: Control[] = [];
  private readonly wakers = new Set<() => void>();
  private ended = false;
  private failure: Error | undefined;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => (this.failure ??= err));
    socket.once("close", () => {
      this.ended = true;
      this.notify();
    });
  }

  static connect(port: number, host = "127.0.0.1"): Promise<HostClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new HostClient(socket));
      });
    });
  }

  send(message: TerminalMessage): void {
    this.socket.write(encodeMessage(message));
  }

  /** HELLO with `token`; resolves on READY, rejects with HostError on ERROR. */
  async hello(token: string | undefined, version = TERMINAL_PROTOCOL_VERSION): Promise<void> {
    this.send(token === undefined ? { type: "hello", version } : { type: "hello", version, token });
    await this.expect("ready");
  }

  /** NEW: starts a session; resolves with its id. */
  async create(size: WindowSize, term = "xterm-256color"): Promise<string> {
    this.send({ type: "new", size, term });
    return (await this.expect("attached")).id;
  }

  /** ATTACH: takes over session `id`; its kept output then arrives as OUTPUT. */
  async attach(id: string, size: WindowSize): Promise<void> {
    this.send({ type: "attach", id, size });
    await this.expect("attached");
  }

  async list(): Promise<SessionSummary[]> {
    this.send({ type: "list" });
    return (await this.expect("sessions")).sessions;
  }

  input(text: string | Uint8Array): void {
    this.send({ type: "input", bytes: typeof text === "string" ? new TextEncoder().encode(text) : text });
  }

  resize(size: WindowSize): void {
    this.send({ type: "resize", size });
  }

  /** Resolves when the output since the last match matches `pattern`. */
  async waitForOutput(pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(this.cursor));
      if (match) {
        this.cursor += match.index + match[0].length;
        return match;
      }
      if (this.ended)
        throw new Error(`connection closed before output matched ${pattern}; output:\n${this.tail()}`);
      await this.changed(deadline, () => `output matching ${pattern}`);
    }
  }

  /** The next message other than OUTPUT (EXIT, ERROR, ...). */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Control> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.controls.shift();
      if (message) return message;
      if (this.ended) throw this.failure ?? new Error("connection closed");
      await this.changed(deadline, () => "a message");
    }
  }

  /** The next message, which must be `type`; an ERROR instead rejects with HostError. */
  async expect<T extends Control["type"]>(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<Control, { type: T }>> {
    const message = await this.next(timeoutMs);
    if (message.type === type) return message as Extract<Control, { type: T }>;
    if (message.type === "error") throw new HostError(message.code, message.message);
    throw new Error(`expected ${type.toUpperCase()}, got ${JSON.stringify(message)}`);
  }

  /** Waits for EXIT (the program ended). */
  exit(timeoutMs?: number): Promise<Exit> {
    return this.expect("exit", timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let messages: TerminalMessage[];
    try {
      messages = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      this.failure = err as Error;
      this.socket.destroy();
      return;
    }
    for (const message of messages) {
      if (message.type !== "output") this.controls.push(message);
      else {
        this.outputBytes += message.bytes.length;
        this.text += this.textDecoder.decode(message.bytes, { stream: true });
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  /** Resolves at the next arrival or close; rejects at `deadline`. */
  private changed(deadline: number, what: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          this.wakers.delete(wake);
          reject(new Error(`timed out waiting for ${what()}; output so far:\n${this.tail()}`));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.wakers.add(wake);
    });
  }

  private tail(): string {
    return JSON.stringify(this.text.slice(-2000));
  }
}
