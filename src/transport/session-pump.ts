/**
 * Drives a sans-I/O core session over Node streams: one link (TLS socket or WebSocket stream) and
 * one duplex per channel (a local application socket, or a target socket on the server).
 *
 * Backpressure both ways:
 * - application → session: a short `session.write` pauses the socket, and the rest of that chunk
 *   waits here until the core reports "writable" (so at most one read chunk per channel is held
 *   outside the core's budget);
 * - session → application: delivered bytes are consumed (opening the peer's window) only when the
 *   socket has flushed them;
 * - session → link: transmission stops while the link socket needs "drain".
 */
import type { Duplex } from "node:stream";
import type { Session, SessionEvent } from "../core/index.js";
import { abort } from "./abort.js";
import { nodeEnv } from "./node-env.js";
import { SessionStats } from "./session-stats.js";
import { writeAll } from "./write-all.js";

export interface PumpHooks {
  /** Every event, after the pump has done its part. */
  onEvent(event: SessionEvent): void;
  /** Reading from a channel's socket stopped (send budget full) or started again. */
  onBackpressure?(channel: number, paused: boolean): void;
}

interface ChannelPipe {
  channel: number;
  socket: Duplex;
  /**
   * Bytes read from the socket that the session has not accepted yet, oldest first. Usually empty
   * or one remainder; a stream may still deliver a chunk or two after pause(), and those must queue
   * behind the remainder, never replace it.
   */
  pending: Uint8Array[];
  /** Reading is paused because the session's budget is full. */
  blocked: boolean;
  ended: boolean;
  /** The socket failed (reset, write error): a close after this is an abort, not a clean end. */
  failed: boolean;
  /** Bytes delivered during this service pass, written when it ends (see `deliver`). */
  delivered: Uint8Array[];
}

/**
 * Node hands what a TLS socket decrypts to JavaScript in pieces of at most 16 KiB, one call each,
 * all within the same turn; a plain socket, reads of 64 KiB. A piece this large may have more behind
 * it in this turn.
 */
const FULL_READ_PIECE = 16384;

/** The longest delay setTimeout accepts (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Ends a socket gracefully, but never waits on a silent peer for more than `graceMs`. */
function endThenDestroy(socket: Duplex, graceMs = 2000): void {
  socket.end();
  setTimeout(() => socket.destroy(), graceMs).unref();
}

export class SessionPump {
  /** Every link socket still open, by link number; `link` is the current one. */
  private readonly links = new Map<number, Duplex>();
  private link: { id: number; socket: Duplex; blocked: boolean } | undefined;
  private readonly channels = new Map<number, ChannelPipe>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private timerDelay = 0;
  private servicing = false;
  private again = false;
  /** A service pass queued for the end of this turn (see `serviceSoon`). */
  private queued: NodeJS.Immediate | undefined;
  /**
   * Channels with bytes delivered during this service pass. They are written when it ends, so that
   * the pieces of DATA one read completes (the end of one frame, the start of the next) leave in one
   * vectored write with one completion. Made on first delivery: an idle session never needs it. An
   * array, not a Set: a long-lived Set costs an old-generation allocation per clear (see ChannelQueue).
   */
  private delivering: ChannelPipe[] | undefined;
  readonly stats = new SessionStats(nodeEnv.now());

  constructor(
    readonly session: Session,
    private readonly hooks: PumpHooks,
  ) {
    // Woken from another session's call stack: service at the end of this turn, not inside it.
    session.onWake = () => this.serviceSoon();
  }

  /** Attaches `socket` as link number `id` (from linkUp / the server session) and starts reading it. */
  attachLink(id: number, socket: Duplex): void {
    this.link = { id, socket, blocked: false };
    this.links.set(id, socket);
    socket.on("data", (chunk: Buffer) => {
      this.session.receive(id, chunk);
      // In bulk, a full piece is followed by more in this same turn: one pass for all of them writes
      // their data to the application at once and settles the session once, rather than once per
      // 16 KiB (a fifth less CPU per GiB for the relays). A short piece, such as a keystroke's echo
      // or the end of a burst, is served at once.
      if (chunk.length >= FULL_READ_PIECE) this.serviceSoon();
      else this.service();
    });
    const down = (): void => {
      this.links.delete(id);
      if (this.link?.id === id) this.link = undefined;
      this.session.linkDown(id);
      this.service();
    };
    socket.on("close", down);
    // A reset is the link's loss at once: "close" only follows once the handle has closed, after
    // this turn's deadlines, and a busy process would report the reset link as silent instead.
    socket.on("error", () => {
      socket.destroy();
      down();
    });
    socket.on("drain", () => {
      if (this.link?.id === id) this.link.blocked = false;
      this.service();
    });
    this.service();
  }

  /** Connects an application socket to `channel`: reads feed the session, deliveries are written. */
  attachChannel(channel: number, socket: Duplex): void {
    const pipe: ChannelPipe = {
      channel,
      socket,
      pending: [],
      blocked: false,
      ended: false,
      failed: false,
      delivered: [],
    };
    this.channels.set(channel, pipe);
    socket.on("data", (chunk: Buffer) => {
      if (this.channels.get(channel) !== pipe) return;
      pipe.pending.push(chunk);
      this.offer(channel, pipe);
      this.service();
    });
    socket.on("end", () => {
      if (this.channels.get(channel) !== pipe) return;
      pipe.ended = true;
      if (pipe.pending.length === 0) this.endChannel(channel);
      this.service();
    });
    socket.on("error", () => {
      pipe.failed = true;
      socket.destroy();
    });
    socket.once("close", () => {
      if (this.channels.get(channel) !== pipe) return;
      if (pipe.ended && !pipe.failed) {
        // A clean close: everything the application sent before it is still delivered (the pipe
        // stays until its pending bytes and EOF have gone to the session).
        return;
      }
      // Closed by an error or without a clean end of input: abort the channel so the far side knows.
      this.channels.delete(channel);
      this.session.reset(channel, "CHANNEL_ABORTED");
      this.service();
    });
    this.service();
  }

  /** Processes events, transmits what the session has, and re-arms the timer. Safe to re-enter. */
  service(): void {
    if (this.servicing) {
      this.again = true;
      return;
    }
    this.servicing = true;
    try {
      let handled: number;
      do {
        this.again = false;
        const events = this.session.takeEvents();
        for (const event of events) this.handle(event);
        handled = events.length;
        this.transmit();
      } while (this.again || handled > 0);
    } finally {
      this.servicing = false;
      const pipes = this.delivering;
      if (pipes && pipes.length > 0) {
        for (let i = 0; i < pipes.length; i++) this.deliver(pipes[i] as ChannelPipe);
        pipes.length = 0;
      }
    }
    this.arm();
  }

  /** Stops the timer and any queued pass; used when the owner discards the session. */
  dispose(): void {
    clearImmediate(this.queued);
    this.queued = undefined;
    this.stopTimer();
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Queues one service pass for the end of this turn, after the event loop has read every socket. */
  private serviceSoon(): void {
    this.queued ??= setImmediate(this.onQueued);
  }

  private readonly onQueued = (): void => {
    this.queued = undefined;
    this.service();
  };

  private handle(event: SessionEvent): void {
    switch (event.type) {
      case "data": {
        const pipe = this.channels.get(event.channel);
        if (!pipe) {
          this.session.consume(event.channel, event.bytes.length);
          break;
        }
        if (pipe.socket.destroyed || !pipe.socket.writable) {
          // The application is gone and the peer is still sending: abort, as TCP answers with RST.
          this.session.consume(event.channel, event.bytes.length);
          this.channels.delete(event.channel);
          this.session.reset(event.channel, "CHANNEL_ABORTED");
          break;
        }
        if (pipe.delivered.length === 0) (this.delivering ??= []).push(pipe);
        pipe.delivered.push(event.bytes);
        break;
      }
      case "eof": {
        const pipe = this.channels.get(event.channel);
        if (pipe) {
          this.deliver(pipe);
          pipe.socket.end();
        }
        break;
      }
      case "writable": {
        const pipe = this.channels.get(event.channel);
        if (pipe && pipe.pending.length > 0) this.offer(event.channel, pipe);
        break;
      }
      case "channel-reset": {
        const pipe = this.channels.get(event.channel);
        this.channels.delete(event.channel);
        if (pipe) {
          // What arrived before the reset goes first, as it would on a direct connection.
          this.deliver(pipe);
          abort(pipe.socket);
        }
        break;
      }
      case "channel-closed":
        this.channels.delete(event.channel);
        break;
      case "close-link": {
        const socket = this.links.get(event.link);
        this.links.delete(event.link);
        if (this.link?.id === event.link) this.link = undefined;
        if (socket && event.farewell) {
          for (const chunk of event.farewell) socket.write(chunk);
          endThenDestroy(socket);
        } else {
          socket?.destroy();
        }
        break;
      }
      case "closed": {
        this.transmit();
        const link = this.link;
        this.link = undefined;
        if (link) endThenDestroy(link.socket);
        for (const pipe of this.channels.values()) abort(pipe.socket);
        this.channels.clear();
        this.dispose();
        break;
      }
      default:
        break;
    }
    this.stats.observe(event);
    this.hooks.onEvent(event);
  }

  /**
   * Writes what this pass delivered to `pipe` as one write (several corked), with one completion:
   * the bytes are consumed, opening the peer's window, only once the socket has flushed them.
   */
  private deliver(pipe: ChannelPipe): void {
    const chunks = pipe.delivered;
    if (chunks.length === 0) return;
    pipe.delivered = [];
    const { socket, channel } = pipe;
    // Reset or closed in this same pass: the application is gone, and so is what it was owed.
    if (socket.destroyed) return;
    let n = 0;
    for (const chunk of chunks) n += chunk.length;
    this.stats.unflushed += n;
    const flushed = (err?: Error | null): void => {
      this.stats.unflushed -= n;
      if (err) return;
      // A destroyed stream reports success for what it dropped: count only what was really flushed.
      if (!socket.destroyed) this.stats.outOfTunnel += n;
      this.session.consume(channel, n);
      this.service();
    };
    const last = chunks.length - 1;
    if (last === 0) {
      socket.write(chunks[0], flushed);
      return;
    }
    socket.cork();
    for (let i = 0; i < last; i++) socket.write(chunks[i]);
    socket.write(chunks[last], flushed);
    socket.uncork();
  }

  /** Hands the pending bytes to the session in order; pauses the socket while the budget is full. */
  private offer(channel: number, pipe: ChannelPipe): void {
    if (!this.session.isChannelOpen(channel)) return;
    while (pipe.pending.length > 0) {
      const head = pipe.pending[0] as Uint8Array;
      const took = this.session.write(channel, head);
      this.stats.intoTunnel += took;
      if (took < head.length) {
        pipe.pending[0] = head.subarray(took);
        if (!pipe.blocked) this.hooks.onBackpressure?.(channel, true);
        pipe.blocked = true;
        pipe.socket.pause();
        return;
      }
      pipe.pending.shift();
    }
    if (pipe.blocked) {
      pipe.blocked = false;
      this.hooks.onBackpressure?.(channel, false);
      if (!pipe.ended) pipe.socket.resume();
    }
    if (pipe.ended) this.endChannel(channel);
  }

  private endChannel(channel: number): void {
    if (this.session.isChannelOpen(channel)) this.session.end(channel);
  }

  private transmit(): void {
    const link = this.link;
    if (!link) return;
    while (!link.blocked) {
      const chunks = this.session.pollTransmit();
      if (chunks.length === 0) return;
      if (!writeAll(link.socket, chunks)) link.blocked = true;
    }
  }

  private arm(): void {
    const at = this.session.nextDeadline();
    if (at === undefined) {
      this.stopTimer();
      return;
    }
    // Node runs longer timeouts after 1 ms: a deadline beyond the maximum is re-armed when this fires.
    const now = nodeEnv.now();
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - now));
    if (this.timer && (delay === this.timerDelay || (this.timerAt !== Infinity && this.timerDelay < delay))) {
      // The usual case: a frame just arrived and moved the dead-link deadline on, or a delivery owes
      // another delayed ACK. The timer is moved on by its own delay, which is due no later than the
      // deadline. Reusing it spares a Timeout per frame, which would live long enough to reach the
      // old generation, where thousands of idle sessions pile up garbage. And a server hearing a PING
      // every 3 s moves its one timer on each time rather than letting it fire early (its first delay
      // was a few milliseconds short of the dead-link delay) and making another, every 5 s.
      this.timerAt = now + this.timerDelay;
      this.timer.refresh();
      return;
    }
    // A timer due sooner stays: when it fires early, the pass it runs arms the timer again. So a
    // delayed ACK sent before its deadline costs nothing, rather than two new timers per round trip.
    if (at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timerDelay = delay;
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timerAt = Infinity;
    // Judge the deadline after this turn of the event loop has read its sockets: a process that fell
    // behind (a reconnect storm keeps one busy for seconds) would otherwise find a link silent whose
    // frames are waiting unread, declare it dead and make the storm worse with another resume.
    setImmediate(this.onDue);
  };

  private readonly onDue = (): void => {
    this.session.tick();
    this.service();
  };
}
