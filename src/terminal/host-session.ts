/**
 * One terminal session of `lifeline host`: a program in a pseudo-terminal that outlives the
 * connections of its clients, as a remote desktop session outlives a dropped client. Its output
 * goes into a ring buffer first; the one attached client is sent it from there, as fast as it
 * takes it. A client that attaches gets the kept output to redraw its screen; a client that falls
 * further behind than the buffer skips to what is kept. The program is never held up by a missing
 * or slow client, and memory stays bounded. The session ends when the program exits, or after
 * `idleLimitMs` without a client.
 */
import { closeSync, constants, openSync } from "node:fs";
import { spawn, type IPty } from "node-pty";
import type { EventLog } from "../ops/log.js";
import type { SessionSummary, TerminalMessage, WindowSize } from "./messages.js";
import { tokenNameField } from "../server/tokens.js";
import { RingBuffer } from "./ring-buffer.js";
import { TerminalInput } from "./terminal-input.js";

/** Output goes out in pieces of at most this size, well under the protocol's message limit. */
const CHUNK = 64 * 1024;
/** After the hang-up at expiry or shutdown, a program still running this long is killed. */
const KILL_AFTER_MS = 5_000;
/** Where a client skips to, it starts at a line start found this close to the oldest kept byte. */
const ALIGN_WITHIN = 4096;
const LF = 0x0a;

/** The client end a session writes to: a connection of the host (host-connection.ts). */
export interface Viewer {
  readonly client: string;
  /** The name the token file gives the client's token, if any. */
  readonly tokenName?: string | undefined;
  send(message: TerminalMessage): void;
  /** Whether the viewer's send buffer is above its high-water mark. */
  congested(): boolean;
  /** Calls `fn` once when the viewer's send buffer has drained. */
  onceDrained(fn: () => void): void;
  /** Flushes what was sent, then closes. */
  end(): void;
  /** Sends ERROR `code`, then closes. */
  fail(code: string, message: string): void;
  /** Stops (true) or starts again (false) reading what the client sends: the program's input is full. */
  holdInput(held: boolean): void;
}

export interface SessionSpec {
  id: string;
  /** The program and its arguments: a login shell, or a shell running the configured command. */
  file: string;
  args: string[];
  /** How LIST names the program. */
  label: string;
  size: WindowSize;
  term: string;
  env: Record<string, string>;
  cwd: string;
  /** Bytes of recent output kept for a client that attaches or falls behind. */
  scrollback: number;
  /** How long the session lives without a client; 0 for ever. */
  idleLimitMs: number;
}

export interface SessionEvents {
  /** The program ended (exited, or was hung up at expiry or shutdown): forget the session. */
  ended(session: HostSession): void;
}

/** What node-pty's Unix terminal has beyond its typings: the master's descriptor, the slave's path, and a hang-up. */
type UnixPty = IPty & { readonly fd: number; readonly ptsName?: string; destroy(): void };

export class HostSession {
  readonly id: string;
  readonly pid: number;
  private readonly pty: UnixPty;
  private readonly ring: RingBuffer;
  /** Our own descriptor of the terminal's slave side, held until the program has exited. */
  private readonly slave: number | undefined;
  private readonly startedAt = Date.now();
  private viewer: Viewer | undefined;
  /** The output offset (RingBuffer.total) up to which the viewer has been sent. */
  private sentTo = 0;
  /** The viewer whose drain the session waits for, to send it more. */
  private drainWaiter: Viewer | undefined;
  private detachedAt = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private exited = false;
  /** The terminal was hung up (expiry, shutdown): its master is closed, the program is ending. */
  private hungUp = false;
  private readonly exitWaiters: (() => void)[] = [];
  private readonly programInput: TerminalInput;

  constructor(
    private readonly spec: SessionSpec,
    private readonly events: SessionEvents,
    private readonly log: EventLog,
    /** Who asked for it, for the log. */
    creator: { client: string; tokenName?: string | undefined },
  ) {
    this.id = spec.id;
    this.ring = new RingBuffer(spec.scrollback);
    this.pty = spawn(spec.file, spec.args, {
      name: spec.term,
      cols: spec.size.cols,
      rows: spec.size.rows,
      cwd: spec.cwd,
      env: spec.env,
      // Raw bytes, exactly as the program wrote them: no decoding, no re-encoding.
      encoding: null,
    }) as UnixPty;
    this.pid = this.pty.pid;
    this.slave = holdSlave(this.pty);
    this.programInput = new TerminalInput(this.pty.fd, (full) => this.viewer?.holdInput(full));
    // With `encoding: null` node-pty hands over Buffers, whatever its typings say.
    this.pty.onData((data: string | Uint8Array) => this.onOutput(data as Uint8Array));
    this.pty.onExit(({ exitCode, signal }) => this.onExit(exitCode, signal ?? 0));
    log.info("terminal.created", `session ${this.id} started ${spec.label} (pid ${this.pid})`, {
      session: this.id,
      client: creator.client,
      ...tokenNameField(creator.tokenName),
      pid: this.pid,
      command: spec.label,
      cols: spec.size.cols,
      rows: spec.size.rows,
      term: spec.term,
    });
  }

  get attached(): boolean {
    return this.viewer !== undefined;
  }

  /** Hung up or exited: the program is ending or gone. */
  get ending(): boolean {
    return this.hungUp || this.exited;
  }

  summary(): SessionSummary {
    const now = Date.now();
    return {
      id: this.id,
      command: this.spec.label,
      ageSeconds: Math.floor((now - this.startedAt) / 1000),
      idleSeconds: this.viewer ? 0 : Math.floor((now - this.detachedAt) / 1000),
      attached: this.attached,
      cols: this.pty.cols,
      rows: this.pty.rows,
    };
  }

  /**
   * Makes `viewer` the session's one client: answers ATTACHED, replays the kept output (unless the
   * session was just created), then sends live output. A previous client gets ERROR TAKEN_OVER.
   */
  attach(viewer: Viewer, size: WindowSize, created: boolean): void {
    const previous = this.viewer;
    this.viewer = viewer;
    this.clearIdleTimer();
    if (previous) {
      previous.fail("TAKEN_OVER", `session ${this.id} was attached by another client (${viewer.client})`);
      this.log.info("terminal.detached", `session ${this.id}: ${previous.client} was taken over`, {
        session: this.id,
        client: previous.client,
        reason: "taken-over",
      });
    }
    this.resize(size);
    if (this.programInput.isFull) viewer.holdInput(true);
    viewer.send({ type: "attached", id: this.id, created });
    this.sentTo = created ? this.ring.total : this.oldestLineStart();
    const replayedBytes = this.ring.total - this.sentTo;
    this.flush(viewer);
    if (!created)
      this.log.info("terminal.attached", `session ${this.id} attached by ${viewer.client}`, {
        session: this.id,
        client: viewer.client,
        ...tokenNameField(viewer.tokenName),
        replayedBytes,
        tookOver: previous !== undefined,
      });
  }

  /** `viewer`'s connection closed: the session carries on without a client, for the idle limit. */
  detach(viewer: Viewer): void {
    if (this.viewer !== viewer) return;
    this.viewer = undefined;
    this.detachedAt = Date.now();
    if (this.exited) return;
    this.log.info("terminal.detached", `session ${this.id}: ${viewer.client} disconnected`, {
      session: this.id,
      client: viewer.client,
      reason: "disconnected",
      idleLimitMs: this.spec.idleLimitMs,
    });
    if (this.spec.idleLimitMs > 0)
      this.idleTimer = setTimeout(() => this.expire(), this.spec.idleLimitMs).unref();
  }

  input(bytes: Uint8Array): void {
    if (!this.exited && !this.hungUp) this.programInput.write(bytes);
  }

  /** A new window size: the program sees it (SIGWINCH, `stty size`). */
  resize(size: WindowSize): void {
    if (this.exited || this.hungUp) return;
    if (size.cols !== this.pty.cols || size.rows !== this.pty.rows) this.pty.resize(size.cols, size.rows);
  }

  /**
   * Hangs the terminal up, as a dropped modem line would: the program gets SIGHUP, and SIGKILL if
   * it is still running a few seconds later. Resolves when it has ended.
   */
  hangUp(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    if (this.hungUp) return done;
    this.hungUp = true;
    this.programInput.close();
    this.clearIdleTimer();
    this.killTimer = setTimeout(() => {
      // The program and every process of its group (not the jobs an interactive shell moved out).
      for (const target of [-this.pid, this.pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }, KILL_AFTER_MS);
    // Closing the PTY's master side is a hang-up: the kernel sends SIGHUP to the session leader and
    // the foreground process group, and node-pty SIGHUPs the program once the master is closed.
    this.pty.destroy();
    return done;
  }

  private expire(): void {
    this.idleTimer = undefined;
    if (this.exited || this.viewer) return;
    this.log.warn("terminal.expired", `session ${this.id} had no client for ${this.spec.idleLimitMs} ms`, {
      session: this.id,
      idleLimitMs: this.spec.idleLimitMs,
    });
    void this.hangUp();
  }

  private onOutput(bytes: Uint8Array): void {
    const upToDate = this.sentTo === this.ring.total;
    this.ring.push(bytes);
    const viewer = this.viewer;
    if (!viewer) return;
    if (upToDate && !viewer.congested()) {
      // The usual case, sent as it came (even a piece larger than the ring).
      viewer.send({ type: "output", bytes });
      this.sentTo = this.ring.total;
    } else this.flush(viewer);
  }

  /**
   * Sends the viewer what it has not had yet, from the ring, until it is congested; then again
   * when it drains. Bytes already dropped from the ring are skipped. `all`: ignore congestion
   * (at exit: what is kept, then EXIT).
   */
  private flush(viewer: Viewer, all = false): void {
    while (this.sentTo < this.ring.total) {
      if (!all && viewer.congested()) return this.awaitDrain(viewer);
      if (this.sentTo < this.ring.dropped) this.sentTo = this.oldestLineStart();
      const bytes = this.ring.slice(this.sentTo, this.sentTo + CHUNK);
      viewer.send({ type: "output", bytes });
      this.sentTo += bytes.length;
    }
  }

  private awaitDrain(viewer: Viewer): void {
    if (this.drainWaiter === viewer) return;
    this.drainWaiter = viewer;
    viewer.onceDrained(() => {
      if (this.drainWaiter === viewer) this.drainWaiter = undefined;
      if (this.viewer === viewer) this.flush(viewer);
    });
  }

  /**
   * Where a replay starts: the oldest kept byte, or, once output was dropped, the start of the
   * first whole line near it, so that the client does not begin mid-line or mid-escape-sequence.
   */
  private oldestLineStart(): number {
    const oldest = this.ring.dropped;
    if (oldest === 0) return 0;
    const lf = this.ring.slice(oldest, oldest + ALIGN_WITHIN).indexOf(LF);
    return lf === -1 ? oldest : oldest + lf + 1;
  }

  private onExit(exitCode: number, signal: number): void {
    this.exited = true;
    this.programInput.close();
    this.clearIdleTimer();
    clearTimeout(this.killTimer);
    if (this.slave !== undefined) closeSync(this.slave);
    const code = signal ? null : exitCode;
    const sig = signal ? signal : null;
    this.log.info(
      "terminal.exited",
      `session ${this.id} ended: ${sig === null ? `exit status ${code}` : `signal ${sig}`}`,
      { session: this.id, code, signal: sig },
    );
    const viewer = this.viewer;
    this.viewer = undefined;
    if (viewer) {
      this.flush(viewer, true);
      viewer.send({ type: "exit", code, signal: sig });
      viewer.end();
    }
    this.events.ended(this);
    for (const resolve of this.exitWaiters.splice(0)) resolve();
  }

  private clearIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/**
 * Opens the terminal's slave side in the host too, until the program has exited. Without it, the
 * program's last output can be lost on Linux: when the program closes the slave, libuv (1.46, in
 * Node 20) takes the hang-up for the end of the stream while bytes are still on their way to the
 * master (libuv issue 4992). Held open, the slave never hangs up before the exit, and node-pty
 * reads the master until then. Undefined where the slave cannot be opened: the session runs without.
 */
function holdSlave(pty: UnixPty): number | undefined {
  if (!pty.ptsName) return undefined;
  try {
    return openSync(pty.ptsName, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}
