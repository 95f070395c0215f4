/**
 * `lifeline attach`: the user's own terminal, in raw mode, joined to a terminal session of
 * `lifeline host` over a lifeline channel (or, as the seed's fallback, directly to the host port).
 *
 * While the link is down the screen stays as it was, keystrokes are buffered up to the session's
 * budget (then input stops), and a status line says so plainly. On resume the status line clears
 * and the buffered keystrokes arrive in order. When the reliability session expires, the host
 * session is still running: attach says so and offers to reattach.
 */
import { Duplex } from "node:stream";
import type { ChannelOutcome } from "../client/runner.js";
import type { EventCode, EventFields, EventLog } from "../ops/log.js";
import {
  encodeMessage,
  MessageDecoder,
  TERMINAL_PROTOCOL_VERSION,
  type TerminalMessage,
} from "./messages.js";
import { clearStatusLine, drawStatusLine, formatSessions, outageText, stoppedText } from "./status-line.js";

/** Carries a local byte stream to the host: a lifeline channel, or the direct fallback. */
export interface Carrier {
  carry(local: Duplex): Promise<ChannelOutcome>;
}

export interface AttachOptions {
  carrier: Carrier;
  /** Observed for link loss, resume, expiry and fallback. */
  log: EventLog;
  token: string;
  /** Attach to this host session; a new one when absent. */
  sessionId?: string;
  /** List the host's sessions and quit, instead of attaching. */
  list?: boolean;
  term: string;
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  /** Called for the escape sequence Ctrl-] f (the demo's fault switch). */
  onFault?: () => void;
  /** False when the host ends with this client (the demo): detaching then just quits. */
  hostOutlivesClient?: boolean;
}

/** Ctrl-]: the next key is a command to attach, not input for the remote program. */
const ESCAPE_KEY = 0x1d;

/** Keystroke chunks held while the host has not yet confirmed the session. */
const MAX_EARLY_CHUNKS = 64;

/** Small, so that input stops soon after the session's budget is full, not 16 KiB later. */
const INPUT_HIGH_WATER_MARK = 256;
/**
 * Keystrokes read while input is stopped, held in order: the keyboard is still read, so that
 * Ctrl-] d works when the remote program has stopped taking input, even after a large paste.
 * Beyond this the keyboard is paused too (and the status line says so).
 */
const HOLD_LIMIT = 1024 * 1024;

export class TerminalAttach {
  private channel: Duplex | undefined;
  private sessionId: string | undefined;
  private suspended = false;
  private deadline = 0;
  private keystrokes = 0;
  /**
   * Keystrokes sent since the host's last output. When keepalives find the link dead, those typed
   * into it after it went silent were never answered: they wait for the resume like later ones.
   */
  private unanswered = 0;
  private inputStopped = false;
  /** Keystrokes typed while input is stopped, to send, in order, when it may go on. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private ticker: NodeJS.Timeout | undefined;
  /** Keystrokes typed before the host confirmed the session: they go after ATTACHED, in order. */
  private early: Buffer[] | undefined;
  /** The window changed size before ATTACHED: a RESIZE follows it. */
  private resizedEarly = false;
  /** The host's last word (EXIT, ERROR or the session list) has arrived: the channel's end is expected. */
  private answered = false;
  /** The row the status line is drawn on, while it is shown. */
  private statusRow: number | undefined;
  private expired = false;
  /** After expiry: the reattach question is on screen. */
  private prompted = false;
  private escaping = false;
  private finish!: (code: number) => void;
  private finished = false;

  constructor(private readonly options: AttachOptions) {
    if (options.sessionId) this.sessionId = options.sessionId;
    options.log.observe((event, fields, msg) => this.onEvent(event, fields, msg));
  }

  /** Runs until the remote program exits, the user detaches, or the session is lost for good. */
  run(): Promise<number> {
    const { input, output } = this.options;
    const done = new Promise<number>((resolve) => {
      this.finish = (code) => {
        this.finished = true;
        resolve(code);
      };
    });
    if (input.isTTY) input.setRawMode(true);
    input.on("data", (chunk: Buffer) => this.onInput(chunk));
    output.on("resize", () => {
      // Before ATTACHED the host takes nothing but its handshake: the new size goes after it.
      if (this.early) this.resizedEarly = true;
      else this.send({ type: "resize", size: this.size() });
      this.drawStatus();
    });
    this.open();
    return done.finally(() => this.restore());
  }

  private size(): { cols: number; rows: number } {
    return { cols: this.options.output.columns || 80, rows: this.options.output.rows || 24 };
  }

  /** Opens the byte stream to the host and says hello; the host's answers drive the rest. */
  private open(): void {
    const decoder = new MessageDecoder();
    const channel = new Duplex({
      readableHighWaterMark: INPUT_HIGH_WATER_MARK,
      read: () => this.resumeInput(),
      write: (chunk: Buffer, _encoding, callback) => {
        try {
          for (const message of decoder.push(chunk)) this.onMessage(message);
          callback();
        } catch (err) {
          callback(err as Error);
        }
      },
      // The host ended its side. After EXIT or ERROR that is expected; without them the host is gone
      // (the carrier reports the channel only once both sides have ended, and attach never ends its own).
      final: (callback) => {
        callback();
        if (channel === this.channel && !this.finished && !this.answered && !this.expired) {
          this.note("the host closed the connection");
          this.finish(1);
        }
      },
    });
    this.channel = channel;
    this.early = [];
    void this.options.carrier.carry(channel).then((outcome) => this.onChannelEnd(channel, outcome));
    this.send({ type: "hello", version: TERMINAL_PROTOCOL_VERSION, token: this.options.token });
  }

  private send(message: TerminalMessage): void {
    const channel = this.channel;
    if (!channel || channel.destroyed) return;
    if (!channel.push(encodeMessage(message)) && !this.inputStopped) {
      // The session's send budget is full and the channel's buffer too: what is typed now is held.
      this.inputStopped = true;
      this.drawStatus();
    }
  }

  private resumeInput(): void {
    if (!this.inputStopped) return;
    this.inputStopped = false;
    while (this.held.length > 0 && !this.inputStopped) {
      const bytes = this.held.shift() as Buffer;
      this.heldBytes -= bytes.length;
      this.sendInput(bytes);
    }
    if (this.inputStopped) return;
    this.options.input.resume();
    if (this.suspended) this.drawStatus();
    else this.clearStatus();
  }

  private onInput(chunk: Buffer): void {
    if (this.expired) return this.onExpiredKey(chunk);
    let bytes = chunk;
    if (this.escaping || chunk.includes(ESCAPE_KEY)) bytes = this.handleEscape(chunk);
    if (bytes.length === 0) return;
    if (this.suspended) this.keystrokes += bytes.length;
    if (this.early) {
      this.early.push(bytes);
      // The host has not answered yet: hold the keyboard rather than buffer without limit.
      if (this.early.length >= MAX_EARLY_CHUNKS) this.options.input.pause();
      return;
    }
    if (this.inputStopped) {
      this.held.push(bytes);
      this.heldBytes += bytes.length;
      if (this.heldBytes >= HOLD_LIMIT) this.options.input.pause();
      this.drawStatus();
      return;
    }
    this.sendInput(bytes);
    if (this.suspended) this.drawStatus();
  }

  private sendInput(bytes: Buffer): void {
    if (!this.suspended) this.unanswered += bytes.length;
    this.send({ type: "input", bytes });
  }

  /** Ctrl-] d detaches (the host session keeps running), Ctrl-] f drops the link (demo), Ctrl-] Ctrl-] sends one. */
  private handleEscape(chunk: Buffer): Buffer {
    const kept: number[] = [];
    for (const byte of chunk) {
      if (!this.escaping) {
        if (byte === ESCAPE_KEY) this.escaping = true;
        else kept.push(byte);
        continue;
      }
      this.escaping = false;
      if (byte === 0x64 /* d */) {
        this.note(
          this.options.hostOutlivesClient === false
            ? "quit"
            : `detached; the session keeps running: lifeline attach ${this.sessionId ?? ""}`.trim(),
        );
        this.finish(0);
      } else if (byte === 0x66 /* f */ && this.options.onFault) {
        this.options.onFault();
      } else if (byte === ESCAPE_KEY) {
        kept.push(byte);
      }
    }
    return Buffer.from(kept);
  }

  private onMessage(message: TerminalMessage): void {
    switch (message.type) {
      case "ready":
        this.send(
          this.options.list
            ? { type: "list" }
            : this.sessionId
              ? { type: "attach", id: this.sessionId, size: this.size() }
              : { type: "new", size: this.size(), term: this.options.term },
        );
        break;
      case "attached": {
        this.sessionId = message.id;
        const early = this.early ?? [];
        this.early = undefined;
        if (this.resizedEarly) this.send({ type: "resize", size: this.size() });
        this.resizedEarly = false;
        for (const bytes of early) this.sendInput(bytes);
        if (!this.inputStopped) this.options.input.resume();
        break;
      }
      case "sessions":
        this.answered = true;
        // Quit only once the list is out: the process exits right after.
        this.options.output.write(formatSessions(message.sessions), () => this.finish(0));
        break;
      case "output":
        this.unanswered = 0;
        this.options.output.write(message.bytes);
        // Output may have scrolled the status line away or written over it.
        if (this.suspended || this.inputStopped) this.drawStatus();
        break;
      case "exit":
        this.answered = true;
        this.note(
          `session ${this.sessionId ?? ""} ended${message.code === null ? "" : ` with status ${message.code}`}`,
        );
        this.finish(message.code ?? 1);
        break;
      case "error":
        this.answered = true;
        this.note(`the host refused: ${message.code}: ${message.message}`);
        this.finish(1);
        break;
      default:
        break;
    }
  }

  private onEvent(event: EventCode, fields: EventFields, msg: string): void {
    switch (event) {
      case "link.lost":
        this.suspended = true;
        // Held already, or typed into the link after it went silent: buffered like what comes next.
        this.keystrokes = this.heldBytes + this.unanswered;
        this.deadline = Date.now() + Number(fields.secondsLeft ?? 0) * 1000;
        this.drawStatus();
        clearInterval(this.ticker);
        this.ticker = setInterval(() => this.drawStatus(), 1000);
        break;
      case "session.resumed":
        this.suspended = false;
        this.unanswered = 0; // what was typed before went through with the replay
        clearInterval(this.ticker);
        this.clearStatus();
        this.drawStatus(); // the line for input still stopped, if it is
        break;
      case "session.expired":
        this.expired = true;
        this.suspended = false;
        clearInterval(this.ticker);
        this.clearStatus();
        // Input may have stopped at the budget (or before ATTACHED): the reattach prompt needs keys.
        // What was held was for the session that is gone, as is what its buffer held.
        this.inputStopped = false;
        this.held = [];
        this.heldBytes = 0;
        this.options.input.resume();
        break;
      case "fallback.used":
        this.note("the reliability service is unavailable: connected directly, WITHOUT session reliability");
        break;
      case "link.failed":
        // Failed reconnect attempts are the status line's business; only a final failure is news.
        if (fields.attempt === undefined) this.note(`cannot connect: ${msg}`);
        break;
      case "security.failed":
      case "fallback.failed":
        this.note(`cannot connect: ${msg}`);
        break;
      default:
        break;
    }
  }

  private onChannelEnd(channel: Duplex, outcome: ChannelOutcome): void {
    if (channel !== this.channel || this.finished) return;
    if (this.expired && this.sessionId) {
      this.note(
        `the link stayed down past the session timeout; session ${this.sessionId} is still running on the host. ` +
          "Press r to reattach, q to quit.",
      );
      this.prompted = true;
      return;
    }
    if (outcome === "reset") {
      this.note("the connection to the host was lost");
      this.finish(1);
    }
  }

  private onExpiredKey(chunk: Buffer): void {
    // Keys read before the question was on screen were typed before it (the rest of a paste that
    // waited while input was stopped): they answer nothing.
    if (!this.prompted) return;
    const key = String.fromCharCode(chunk[0] ?? 0).toLowerCase();
    if (key === "r") {
      this.expired = false;
      this.prompted = false;
      this.open();
      // Whatever was typed right after "r" (in the same read) is for the shell.
      if (chunk.length > 1) this.onInput(chunk.subarray(1));
    } else if (key === "q" || chunk[0] === 0x03) {
      this.finish(1);
    }
  }

  private drawStatus(): void {
    if (!this.suspended && !this.inputStopped) return;
    const secondsLeft = Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
    const { cols, rows } = this.size();
    const view = { secondsLeft, keystrokes: this.keystrokes, inputStopped: this.inputStopped };
    const keyboardPaused = this.heldBytes >= HOLD_LIMIT;
    const text = this.suspended ? outageText(view, cols) : stoppedText(this.heldBytes, keyboardPaused, cols);
    // After a resize the old line is not the last one any more: erase it before drawing the new one.
    if (this.statusRow !== undefined && this.statusRow !== rows) this.clearStatus();
    this.statusRow = rows;
    this.options.output.write(drawStatusLine(text, cols, rows));
  }

  private clearStatus(): void {
    if (this.statusRow === undefined) return;
    this.options.output.write(clearStatusLine(this.statusRow));
    this.statusRow = undefined;
  }

  /** A line of lifeline's own, on its own line, in the user's terminal. */
  private note(text: string): void {
    this.clearStatus();
    this.options.output.write(`\r\n[lifeline: ${text}]\r\n`);
  }

  private restore(): void {
    clearInterval(this.ticker);
    const { input } = this.options;
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    this.channel?.destroy();
  }
}
