/**
 * What both ends of a session share: channels, the reliable data path, acknowledgement, keepalive,
 * expiry and resume reconciliation. Sans-I/O: the I/O layer feeds bytes and time in, and takes
 * bytes to transmit (`pollTransmit`), events (`takeEvents`) and the next deadline out.
 */
import { encodeFrame } from "../frame/encode.js";
import { assertNever } from "../frame/encode.js";
import type { FrameDecoder } from "../frame/decode.js";
import type { ChannelTable, Frame } from "../frame/types.js";
import { codeFromWire, isLifelineError, LifelineError, WIRE_CODES, type ErrorCode } from "../errors.js";
import { Channel } from "../reliable/channel.js";
import type { BudgetWaiter, SharedBudget } from "../reliable/shared-budget.js";
import { ChannelQueue } from "./channel-queue.js";
import type { SessionEnv } from "./env.js";
import type { LinkDownReason, SessionEvent, SuspendReason } from "./events.js";
import type { ServerParams, SessionLimits } from "./options.js";
import { assertTransition, SessionState } from "./state.js";

/** The bit of each of the session's scheduling queues in `Channel.queued`. */
const READY = 1;
const BLOCKED = 2;
const ACK_NOW = 4;
const ACK_LATER = 8;

/** How far past the peer's window a channel may buffer: a little read-ahead, so sends start at once when the window opens. */
const WINDOW_SLACK = 64 * 1024;

/** Most control frames queued for the link; a peer that makes us owe more is not reading what we send. */
const MAX_QUEUED_CONTROL = 16_384;

/**
 * The server PINGs once per this many keepalive intervals, only to measure the round trip: the
 * client's PINGs, each answered, already prove the link alive in both directions.
 */
const SERVER_PING_INTERVALS = 10;

/** Bytes of frames `pollTransmit` returns per call by default: enough for throughput, small enough to interleave. */
export const DEFAULT_TRANSMIT_QUANTUM = 256 * 1024;

interface Link {
  id: number;
  decoder: FrameDecoder;
  upAt: number;
  lastReceivedAt: number;
  lastPingAt: number;
}

export abstract class Session implements BudgetWaiter {
  /**
   * Called when another session freed room in the shared budget this one was waiting for: the I/O
   * layer should service this session (its "writable" events are queued).
   */
  onWake: (() => void) | undefined;

  protected readonly channels = new Map<number, Channel>();
  /** Client: highest channel id allocated. Server: highest channel id OPEN was received for. */
  protected highestChannel = 0;
  /** Set once known (server: from the start; client: from WELCOME). */
  protected params: ServerParams | undefined;
  /** The peer's initial per-channel receive window. */
  protected peerReceiveWindow = 0;
  protected link: Link | undefined;
  /** Raw bytes (preambles) and frames for the current link, sent before any channel data. */
  protected raw: Uint8Array[] = [];
  protected control: Frame[] = [];
  protected suspendedAt = 0;

  private current: SessionState;
  private events: SessionEvent[] = [];
  private linkSeq = 0;
  private bufferedBytes = 0;
  private pendingPong: number | undefined;
  // Channel scheduling, each queue created when first needed: most idle sessions never need them, and
  // a server holds thousands of idle sessions.
  /** Channels with frames to send, in round-robin order. */
  private ready: ChannelQueue<Channel> | undefined;
  /** Channels whose writer was refused budget and waits for "writable". */
  private blocked: ChannelQueue<Channel> | undefined;
  /** Channels that owe the peer an ACK at the next transmit, or at `ackDeadline`. */
  private ackNow: ChannelQueue<Channel> | undefined;
  private ackLater: ChannelQueue<Channel> | undefined;
  private ackDeadline = Infinity;

  protected constructor(
    protected readonly role: "client" | "server",
    protected readonly limits: SessionLimits,
    protected readonly env: SessionEnv,
    initial: SessionState,
    /** A budget shared with other sessions (the server's global buffer budget), if any. */
    protected readonly shared?: SharedBudget,
  ) {
    this.current = initial;
  }

  /** Part of BudgetWaiter: room may be back in the shared budget. */
  wake(): void {
    if (this.isClosed() || !this.blocked?.size) return;
    this.releaseBlocked();
    if (this.blocked.size > 0) this.shared?.waitForRoom(this);
    this.onWake?.();
  }

  get state(): SessionState {
    return this.current;
  }

  /** Bytes held for replay across all channels. Never exceeds `limits.sendBudget`. */
  get bufferedTotal(): number {
    return this.bufferedBytes;
  }

  /** Number of the link currently attached, if any. */
  get currentLink(): number | undefined {
    return this.link?.id;
  }

  /** The session's timers and limits: the server's own, or as announced in WELCOME. */
  get sessionParams(): Readonly<ServerParams> | undefined {
    return this.params;
  }

  /** Milliseconds until a session without a link expires; undefined while a link is attached. */
  expiresIn(): number | undefined {
    if (!this.isWithoutLink() || !this.params) return undefined;
    return Math.max(0, this.suspendedAt + this.params.sessionTimeoutMs - this.env.now());
  }

  /** Suspended, or trying to resume: the outage clock is running. */
  protected isWithoutLink(): boolean {
    return this.current === SessionState.Suspended || this.current === SessionState.Resuming;
  }

  isClosed(): boolean {
    return this.current === SessionState.Closed;
  }

  /** True while `channel` can be written and ended (opened, not reset, not retired). */
  isChannelOpen(channel: number): boolean {
    const ch = this.channels.get(channel);
    return ch !== undefined && !ch.isReset && !this.isClosed();
  }

  channelIds(): number[] {
    return [...this.channels.keys()];
  }

  /** Bytes buffered for replay on one channel. */
  channelBuffered(channel: number): number {
    return this.channels.get(channel)?.out.buffered ?? 0;
  }

  // ---------------------------------------------------------------- inputs

  /** Bytes arrived on link `link`. Bytes from any link but the current one are ignored. */
  receive(link: number, bytes: Uint8Array): void {
    const current = this.link;
    if (!current || current.id !== link || this.current === SessionState.Closed) return;
    current.lastReceivedAt = this.env.now();
    try {
      for (const frame of current.decoder.push(bytes)) {
        this.handleFrame(frame);
        if (this.link !== current || this.isClosed()) return;
        if (this.control.length > MAX_QUEUED_CONTROL) {
          throw new LifelineError(
            "PROTOCOL_ERROR",
            "the peer makes us queue replies faster than it reads them",
          );
        }
      }
      if (current.decoder.failure) throw current.decoder.failure;
    } catch (err) {
      if (!isLifelineError(err)) throw err;
      this.fail(err);
    }
  }

  /** The transport of link `link` closed or failed, or (`address-gone`) can no longer carry a byte. */
  linkDown(link: number, reason: LinkDownReason = "link-lost"): void {
    if (this.link?.id === link && this.current !== SessionState.Closed) this.dropLink(reason);
  }

  /**
   * Accepts up to the free budget of `bytes` for `channel`; returns how many were taken. A short
   * count means the budget is full: stop reading the source until a "writable" event.
   */
  write(channel: number, bytes: Uint8Array): number {
    const ch = this.liveChannel(channel);
    if (ch.ended) throw new LifelineError("INVALID_STATE", `channel ${channel} was already ended`);
    const n = Math.max(0, Math.min(bytes.length, this.room(ch)));
    if (n > 0) {
      ch.out.append(n === bytes.length ? bytes : bytes.subarray(0, n));
      this.hold(n);
      this.markReady(ch);
    }
    if (n < bytes.length) {
      (this.blocked ??= new ChannelQueue(BLOCKED)).add(ch);
      this.shared?.waitForRoom(this);
    }
    return n;
  }

  /** Ends the application's direction of `channel` (TCP half-close). */
  end(channel: number): void {
    const ch = this.liveChannel(channel);
    if (ch.ended) return;
    ch.ended = true;
    this.markReady(ch);
  }

  /** Aborts `channel` in both directions and tells the peer why. */
  reset(channel: number, code: ErrorCode = "CHANNEL_ABORTED"): void {
    const ch = this.channels.get(channel);
    if (!ch || ch.isReset) return;
    ch.resetCode = WIRE_CODES[code];
    this.release(ch);
    this.emit({ type: "channel-reset", channel, code, remote: false });
    if (this.canSendChannelFrames()) this.control.push({ kind: "reset", channel, code: ch.resetCode });
  }

  /** The application took `n` delivered bytes of `channel`; this reopens the peer's window. */
  consume(channel: number, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new LifelineError("INVALID_ARGUMENT", `consume takes a byte count, not ${n}`);
    const ch = this.channels.get(channel);
    if (!ch || ch.isReset) return;
    ch.in.consume(n);
    const opened = ch.in.windowLimit - ch.advertisedLimit;
    if (opened >= this.limits.receiveWindow / 2) this.ackSoon(ch, true);
    else if (opened > 0) this.ackSoon(ch, false);
  }

  /** Closes the session for good and tells the peer. */
  close(code: ErrorCode = "NORMAL", reason = "closed by the application"): void {
    if (this.current === SessionState.Closed) return;
    if (this.link) this.control.push({ kind: "close", code: WIRE_CODES[code], reason });
    this.finish(code, WIRE_CODES[code], reason, false);
  }

  /** Runs whatever is due at the injected clock's current time. */
  tick(): void {
    if (this.current === SessionState.Closed) return;
    const now = this.env.now();
    const link = this.link;
    if (link && this.isHandshaking()) {
      if (now >= link.upAt + this.limits.handshakeTimeoutMs) this.dropLink("link-dead");
    } else if (link && this.params && this.current === SessionState.Established) {
      if (now >= link.lastReceivedAt + this.params.deadAfterMs) {
        this.dropLink("link-dead");
      } else if (now >= link.lastPingAt + this.pingIntervalMs(this.params)) {
        this.sendPing();
      }
    }
    if (this.ackDeadline <= now) this.ackDelayedNow();
    if (this.isWithoutLink() && this.params) {
      if (now >= this.suspendedAt + this.params.sessionTimeoutMs) {
        this.finish(
          "SESSION_EXPIRED",
          WIRE_CODES.SESSION_EXPIRED,
          "no resume within the session timeout",
          false,
        );
      }
    }
  }

  /** When `tick` must next run, on the injected clock; undefined when nothing is pending. */
  nextDeadline(): number | undefined {
    if (this.current === SessionState.Closed) return undefined;
    let at = this.ackDeadline;
    const link = this.link;
    if (link && this.isHandshaking()) {
      at = Math.min(at, link.upAt + this.limits.handshakeTimeoutMs);
    } else if (link && this.params && this.current === SessionState.Established) {
      at = Math.min(
        at,
        link.lastReceivedAt + this.params.deadAfterMs,
        link.lastPingAt + this.pingIntervalMs(this.params),
      );
    }
    if (this.isWithoutLink() && this.params) {
      at = Math.min(at, this.suspendedAt + this.params.sessionTimeoutMs);
    }
    return at === Infinity ? undefined : at;
  }

  // ---------------------------------------------------------------- outputs

  /** Bytes to write on the current link: control first, then channel data round-robin, about `maxBytes`. */
  pollTransmit(maxBytes = DEFAULT_TRANSMIT_QUANTUM): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.link) return out;
    let bytes = 0;
    const put = (frame: Frame): void => {
      for (const part of encodeFrame(frame)) {
        out.push(part);
        bytes += part.length;
      }
    };
    // Fresh arrays only when there was something: an idle session's transmit is all empties.
    if (this.raw.length > 0) {
      for (const chunk of this.raw) out.push(chunk);
      this.raw = [];
    }
    if (this.pendingPong !== undefined) {
      put({ kind: "pong", timestamp: this.pendingPong });
      this.pendingPong = undefined;
    }
    if (this.control.length > 0) {
      for (const frame of this.control) put(frame);
      this.control = [];
    }
    if (!this.canSendChannelFrames()) return out;
    // Delayed ACKs go along with whatever else the link carries now, rather than later in a record,
    // a write and a timer of their own: a request answered within the delay carries its ACK back.
    if (this.ackLater && this.ackLater.size > 0 && (out.length > 0 || (this.ready && this.ready.size > 0))) {
      this.ackDelayedNow();
    }
    const ackNow = this.ackNow;
    if (ackNow) for (let ch = ackNow.shift(); ch; ch = ackNow.shift()) put(this.ackFrame(ch));
    const ready = this.ready;
    while (ready && bytes < maxBytes) {
      const ch = ready.shift();
      if (!ch) break;
      const frame = ch.nextFrame();
      if (!frame) continue;
      put(frame);
      if (ch.hasSendable) ready.add(ch);
    }
    return out;
  }

  /** Events since the last call, in order. */
  takeEvents(): readonly SessionEvent[] {
    if (this.events.length === 0) return NO_EVENTS;
    const out = this.events;
    this.events = [];
    return out;
  }

  // ---------------------------------------------------------------- for the roles

  protected abstract isHandshaking(): boolean;
  /** A frame that arrived while not Established (client handshake replies). */
  protected abstract onHandshakeFrame(frame: Frame): void;
  protected abstract onOpen(channel: number, target: string): void;
  protected abstract onOpened(channel: number): void;
  protected abstract onGoAway(code: number): void;
  /** Any frame arrived on an Established link. */
  protected onEstablishedFrame(): void {}

  protected emit(event: SessionEvent): void {
    this.events.push(event);
  }

  protected transition(to: SessionState): void {
    const from = this.current;
    assertTransition(from, to);
    this.current = to;
    this.emit({ type: "state", from, to });
  }

  /** Time between this side's PINGs on an established link (docs/PROTOCOL.md, section 10). */
  private pingIntervalMs(params: ServerParams): number {
    return this.role === "client"
      ? params.keepaliveIntervalMs
      : params.keepaliveIntervalMs * SERVER_PING_INTERVALS;
  }

  protected sendPing(): void {
    if (!this.link) return;
    const now = this.env.now();
    this.control.push({ kind: "ping", timestamp: now });
    this.link.lastPingAt = now;
  }

  protected attachLink(decoder: FrameDecoder): number {
    const now = this.env.now();
    this.link = { id: ++this.linkSeq, decoder, upAt: now, lastReceivedAt: now, lastPingAt: now };
    return this.link.id;
  }

  protected dropLink(reason: SuspendReason): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    this.raw = [];
    this.control = [];
    this.pendingPong = undefined;
    this.ready?.clear();
    this.ackNow?.clear();
    this.ackLater?.clear();
    this.ackDeadline = Infinity;
    if (reason === "replaced") {
      // Tell whoever still holds the old link (a stale copy of the client) why it is being cut.
      const farewell = encodeFrame({
        kind: "close",
        code: WIRE_CODES.REPLACED,
        reason: "the session was resumed on another link",
      });
      this.emit({ type: "close-link", link: link.id, farewell });
    } else {
      this.emit({ type: "close-link", link: link.id });
    }
    if (this.current === SessionState.Connecting) {
      this.transition(SessionState.Idle);
    } else if (this.current === SessionState.Resuming) {
      this.transition(SessionState.Suspended);
      this.emit({ type: "suspended", reason });
    } else if (this.current === SessionState.Established) {
      this.suspendedAt = this.env.now();
      this.transition(SessionState.Suspended);
      this.emit({ type: "suspended", reason });
    }
  }

  protected canSendChannelFrames(): boolean {
    return this.link !== undefined && this.current === SessionState.Established;
  }

  protected markReady(ch: Channel): void {
    if (this.canSendChannelFrames() && ch.hasSendable) (this.ready ??= new ChannelQueue(READY)).add(ch);
  }

  protected addChannel(ch: Channel): void {
    this.channels.set(ch.id, ch);
  }

  protected liveChannelCount(): number {
    let n = 0;
    for (const ch of this.channels.values()) if (!ch.isReset) n++;
    return n;
  }

  /** This side's resume table. */
  protected channelTable(): ChannelTable {
    const channels = [];
    for (const ch of this.channels.values()) {
      channels.push({
        channel: ch.id,
        received: ch.in.received,
        windowLimit: ch.in.windowLimit,
        opened: ch.opened,
      });
    }
    channels.sort((a, b) => a.channel - b.channel);
    return { highestChannel: this.highestChannel, channels };
  }

  /**
   * Brings both sides' channels into agreement after a resume (docs/PROTOCOL.md, "Resume"): trims
   * what the peer has, rewinds transmission to it, re-sends lost OPEN, OPENED and RESET frames, and
   * retires channels the peer has already finished. Returns the bytes that will be sent again.
   */
  protected reconcile(peer: ChannelTable): number {
    const rows = new Map(peer.channels.map((row) => [row.channel, row]));
    let replayed = 0;
    for (const ch of [...this.channels.values()].sort((a, b) => a.id - b.id)) {
      const row = rows.get(ch.id);
      if (row && ch.isReset) {
        // Its buffers were dropped locally when it was reset; only the RESET itself is owed.
        this.control.push({ kind: "reset", channel: ch.id, code: ch.resetCode as number });
        continue;
      }
      if (row) {
        this.free(ch.acknowledge(row.received, row.windowLimit));
        ch.rewindTo(row.received);
        if (this.role === "server" && ch.opened && !row.opened)
          this.control.push({ kind: "opened", channel: ch.id });
        if (this.role === "client" && row.opened && !ch.opened) this.markOpened(ch);
        if (ch.in.received > ch.ackedReceived || ch.in.windowLimit > ch.advertisedLimit)
          this.ackSoon(ch, true);
        if (ch.finished) {
          this.retireIfFinished(ch);
          continue;
        }
      } else if (this.role === "client" && ch.id > peer.highestChannel) {
        // The OPEN never arrived: send it again, then the whole stream from offset 0.
        if (ch.isReset) {
          this.retire(ch);
          continue;
        }
        this.control.push({ kind: "open", channel: ch.id, target: ch.target });
        ch.rewindTo(0);
      } else {
        // The peer retired the channel, which it does only once both directions are complete or reset.
        if (!ch.isReset && !(ch.ended && ch.in.eofReceived)) {
          this.emit({ type: "channel-reset", channel: ch.id, code: "CHANNEL_ABORTED", remote: true });
        } else if (!ch.isReset) {
          this.emit({ type: "channel-closed", channel: ch.id });
        }
        this.retire(ch);
        continue;
      }
      replayed += ch.out.written - Math.min(ch.sentOffset, ch.out.written);
      this.markReady(ch);
    }
    this.releaseBlocked();
    return replayed;
  }

  protected markOpened(ch: Channel): void {
    ch.opened = true;
    this.emit({ type: "channel-opened", channel: ch.id });
  }

  /** Looks up a channel for an incoming frame; undefined for a retired or reset channel. */
  protected channelFor(id: number): Channel | undefined {
    const ch = this.channels.get(id);
    if (ch) return ch.isReset ? undefined : ch;
    if (id > this.highestChannel) {
      throw new LifelineError("PROTOCOL_ERROR", `frame for channel ${id}, which was never opened`);
    }
    return undefined;
  }

  protected fail(err: LifelineError): void {
    if (this.current === SessionState.Closed) return;
    if (this.link) this.control.push({ kind: "close", code: err.wireCode, reason: err.message });
    this.finish(err.code, err.wireCode, err.message, false);
  }

  protected finish(code: ErrorCode, wireCode: number, reason: string, remote: boolean): void {
    if (remote) {
      // The peer has closed: it reads nothing more, so nothing more is owed to it.
      this.raw = [];
      this.control = [];
      this.pendingPong = undefined;
    }
    for (const ch of this.channels.values()) {
      if (!ch.isReset) this.emit({ type: "channel-reset", channel: ch.id, code, remote });
    }
    this.channels.clear();
    this.ready?.clear();
    this.blocked?.clear();
    this.ackNow?.clear();
    this.ackLater?.clear();
    this.ackDeadline = Infinity;
    this.free(this.bufferedBytes);
    this.shared?.forget(this);
    this.transition(SessionState.Closed);
    this.emit({ type: "closed", code, wireCode, reason, remote });
  }

  // ---------------------------------------------------------------- frame handling

  private handleFrame(frame: Frame): void {
    if (this.current !== SessionState.Established) {
      this.onHandshakeFrame(frame);
      return;
    }
    this.onEstablishedFrame();
    switch (frame.kind) {
      case "data": {
        const ch = this.channelFor(frame.channel);
        if (!ch) return;
        const fresh = ch.in.acceptData(ch.id, frame.offset, frame.data);
        if (fresh.length === 0) return;
        this.emit({ type: "data", channel: ch.id, bytes: fresh });
        this.ackSoon(ch, ch.in.received - ch.ackedReceived >= this.limits.ackBytes);
        return;
      }
      case "eof": {
        const ch = this.channelFor(frame.channel);
        if (!ch || !ch.in.acceptEof(ch.id, frame.offset)) return;
        this.emit({ type: "eof", channel: ch.id });
        this.ackSoon(ch, true);
        this.retireIfFinished(ch);
        return;
      }
      case "ack": {
        const tombstone = this.channels.get(frame.channel);
        if (tombstone?.isReset) {
          // The peer finished the channel normally just before our RESET reached it; it will ignore
          // the RESET, so this final ACK is all the confirmation that will ever come.
          if (tombstone.ended && tombstone.in.eofReceived && frame.received === tombstone.out.written + 1) {
            this.retire(tombstone);
          }
          return;
        }
        const ch = this.channelFor(frame.channel);
        if (!ch) return;
        this.free(ch.acknowledge(frame.received, frame.windowLimit));
        this.markReady(ch);
        this.releaseBlocked();
        this.retireIfFinished(ch);
        return;
      }
      case "reset": {
        const ch = this.channels.get(frame.channel);
        if (!ch) {
          if (frame.channel > this.highestChannel) {
            throw new LifelineError(
              "PROTOCOL_ERROR",
              `RESET for channel ${frame.channel}, which was never opened`,
            );
          }
          return;
        }
        if (!ch.isReset) {
          // Confirm, so the peer can retire its side too.
          this.control.push({ kind: "reset", channel: ch.id, code: frame.code });
          this.emit({
            type: "channel-reset",
            channel: ch.id,
            code: codeFromWire(frame.code, "CHANNEL_ABORTED"),
            remote: true,
          });
        }
        this.retire(ch);
        return;
      }
      case "open":
        this.onOpen(frame.channel, frame.target);
        return;
      case "opened":
        this.onOpened(frame.channel);
        return;
      case "ping":
        this.pendingPong = frame.timestamp;
        return;
      case "pong":
        this.emit({ type: "rtt", ms: Math.max(0, this.env.now() - frame.timestamp) });
        return;
      case "goaway":
        this.onGoAway(frame.code);
        return;
      case "close":
        this.finish(codeFromWire(frame.code, "PROTOCOL_ERROR"), frame.code, frame.reason, true);
        return;
      case "hello":
      case "welcome":
      case "resume":
      case "resumed":
        throw new LifelineError("PROTOCOL_ERROR", `${frame.kind.toUpperCase()} on an established session`);
      default:
        assertNever(frame);
    }
  }

  private liveChannel(channel: number): Channel {
    if (this.current === SessionState.Closed)
      throw new LifelineError("INVALID_STATE", "the session is closed");
    const ch = this.channels.get(channel);
    if (!ch || ch.isReset) throw new LifelineError("INVALID_STATE", `channel ${channel} is not open`);
    return ch;
  }

  /** The delayed ACKs are owed at the next transmit. */
  private ackDelayedNow(): void {
    const later = this.ackLater;
    if (later && later.size > 0) {
      const ackNow = (this.ackNow ??= new ChannelQueue(ACK_NOW));
      for (let ch = later.shift(); ch; ch = later.shift()) ackNow.add(ch);
    }
    this.ackDeadline = Infinity;
  }

  private ackSoon(ch: Channel, now: boolean): void {
    if (now) {
      this.ackLater?.delete(ch);
      (this.ackNow ??= new ChannelQueue(ACK_NOW)).add(ch);
    } else if (!this.ackNow?.has(ch)) {
      (this.ackLater ??= new ChannelQueue(ACK_LATER)).add(ch);
      this.ackDeadline = Math.min(this.ackDeadline, this.env.now() + this.limits.ackDelayMs);
    }
  }

  private ackFrame(ch: Channel): Frame {
    ch.ackedReceived = ch.in.received;
    ch.advertisedLimit = ch.in.windowLimit;
    return { kind: "ack", channel: ch.id, received: ch.ackedReceived, windowLimit: ch.advertisedLimit };
  }

  private retireIfFinished(ch: Channel): void {
    if (!ch.finished) return;
    this.retire(ch);
    this.emit({ type: "channel-closed", channel: ch.id });
  }

  /** Forgets a channel; an ACK it still owes the peer is sent first. */
  protected retire(ch: Channel): void {
    if ((this.ackNow?.has(ch) || this.ackLater?.has(ch)) && this.canSendChannelFrames()) {
      this.control.push(this.ackFrame(ch));
    }
    this.release(ch);
    this.channels.delete(ch.id);
  }

  /** Drops a channel's buffers and scheduling, returning its budget to the others. */
  private release(ch: Channel): void {
    const freed = ch.out.buffered;
    this.free(freed);
    ch.out.ack(ch.out.written);
    this.ready?.delete(ch);
    this.blocked?.delete(ch);
    this.ackNow?.delete(ch);
    this.ackLater?.delete(ch);
    if (freed > 0) this.releaseBlocked();
  }

  /**
   * Bytes `ch` may accept now: within its own budget, the session's, and no further than a little
   * (WINDOW_SLACK, or an eighth of the budget if smaller) past what the peer lets it send, so that a channel whose reader has stalled holds
   * at most a window's worth of the shared budget and the other channels keep flowing.
   */
  private room(ch: Channel): number {
    return Math.min(
      this.limits.channelSendBudget - ch.out.buffered,
      this.limits.sendBudget - this.bufferedBytes,
      this.shared ? this.shared.available : Infinity,
      ch.peerWindowLimit + Math.min(WINDOW_SLACK, this.limits.sendBudget / 8) - ch.out.written,
    );
  }

  private hold(bytes: number): void {
    this.bufferedBytes += bytes;
    this.shared?.take(bytes);
  }

  private free(bytes: number): void {
    if (bytes <= 0) return;
    this.bufferedBytes -= bytes;
    this.shared?.give(bytes);
  }

  protected releaseBlocked(): void {
    if (this.bufferedBytes >= this.limits.sendBudget) return;
    const blocked = this.blocked;
    if (!blocked) return;
    // Each waiting channel is taken once; one still without room goes back, behind the others.
    for (let n = blocked.size; n > 0; n--) {
      const ch = blocked.shift() as Channel;
      if (this.room(ch) > 0) this.emit({ type: "writable", channel: ch.id });
      else blocked.add(ch);
    }
  }
}

/** What `takeEvents` returns when nothing happened (most calls): one frozen array, not a new one each time. */
const NO_EVENTS: readonly SessionEvent[] = Object.freeze([]);
