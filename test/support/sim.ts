/**
 * A simulated network between a real ClientSession and the real server-side core (ServerLink +
 * ServerSession): bytes in flight can be delivered in arbitrary pieces, or lost when the link is
 * cut (mid-frame included). Applications on both ends write planned streams, honour short writes
 * and "writable", consume what they receive, and record it for comparison.
 */
import {
  ClientSession,
  concatBytes,
  ServerLink,
  ServerSession,
  AuthMethod,
  type Session,
  type SessionEvent,
  type SessionLimits,
  type ServerParams,
  type SharedBudget,
} from "../../src/core/index.js";
import { FakeEnv } from "./fake-env.js";

export const TOKEN = new TextEncoder().encode("sim-token");

/** Deterministic content: byte `i` of the stream `side`/`channel`. */
export function streamByte(side: "c" | "s", channel: number, i: number): number {
  return (i * 31 + channel * 7 + (side === "c" ? 3 : 11) + (i >>> 8)) & 0xff;
}

export interface Plan {
  /** Bytes the application will write. */
  length: number;
  /** Whether it ends its direction after writing them. */
  end: boolean;
}

/** One end's application: writes its plans, records what it receives. */
export class App {
  readonly received = new Map<number, number[]>();
  readonly eofs = new Set<number>();
  /** Bytes received on a channel when its EOF arrived: the half-close position. */
  readonly eofAt = new Map<number, number>();
  readonly closedChannels = new Set<number>();
  readonly resets = new Map<number, string>();
  readonly writtenCount = new Map<number, number>();
  readonly plans = new Map<number, Plan>();
  readonly unconsumed = new Map<number, number>();
  readonly events: SessionEvent[] = [];
  /** Channels this end may write: opened (client) or requested by the peer (server). */
  readonly active = new Set<number>();
  readonly endedChannels = new Set<number>();
  maxBuffered = 0;
  maxChannelBuffered = 0;

  constructor(readonly side: "c" | "s") {}

  plan(channel: number, plan: Plan): void {
    this.plans.set(channel, plan);
    this.writtenCount.set(channel, 0);
  }

  /** Writes up to `max` more planned bytes on every channel (or on `only`). */
  write(session: Session, max: number, only?: number): void {
    if (session.isClosed()) return;
    for (const [channel, plan] of this.plans) {
      if ((only !== undefined && channel !== only) || !this.active.has(channel)) continue;
      if (this.resets.has(channel) || this.closedChannels.has(channel)) continue;
      const done = this.writtenCount.get(channel) ?? 0;
      const n = Math.min(max, plan.length - done);
      if (n > 0) {
        const bytes = new Uint8Array(n);
        for (let i = 0; i < n; i++) bytes[i] = streamByte(this.side, channel, done + i);
        const took = session.write(channel, bytes);
        this.writtenCount.set(channel, done + took);
      }
      if (plan.end && this.writtenCount.get(channel) === plan.length && !this.endedChannels.has(channel)) {
        this.endedChannels.add(channel);
        session.end(channel);
      }
      this.maxChannelBuffered = Math.max(this.maxChannelBuffered, session.channelBuffered(channel));
    }
    this.maxBuffered = Math.max(this.maxBuffered, session.bufferedTotal);
  }

  /** Consumes up to `max` received bytes per channel (all when undefined). */
  consume(session: Session, max = Infinity): void {
    for (const [channel, pending] of this.unconsumed) {
      const n = Math.min(pending, max);
      if (n > 0) {
        session.consume(channel, n);
        this.unconsumed.set(channel, pending - n);
      }
    }
  }

  handle(events: readonly SessionEvent[]): void {
    for (const e of events) {
      this.events.push(e);
      switch (e.type) {
        case "data": {
          let list = this.received.get(e.channel);
          if (!list) this.received.set(e.channel, (list = []));
          for (const b of e.bytes) list.push(b);
          this.unconsumed.set(e.channel, (this.unconsumed.get(e.channel) ?? 0) + e.bytes.length);
          break;
        }
        case "eof":
          if (this.eofs.has(e.channel)) throw new Error(`${this.side}: EOF twice on channel ${e.channel}`);
          this.eofs.add(e.channel);
          this.eofAt.set(e.channel, this.received.get(e.channel)?.length ?? 0);
          break;
        case "open-request":
          this.active.add(e.channel);
          break;
        case "channel-closed":
          this.closedChannels.add(e.channel);
          break;
        case "channel-reset":
          this.resets.set(e.channel, e.code);
          break;
        default:
          break;
      }
    }
  }
}

export interface SimOptions {
  limits: Partial<SessionLimits>;
  sharedBudget?: SharedBudget;
  params?: Partial<ServerParams>;
  seed?: number;
}

/** The two ends and the wire between them. */
export class Sim {
  readonly env: FakeEnv;
  readonly client: ClientSession;
  readonly clientApp = new App("c");
  readonly serverApp = new App("s");
  server: ServerSession | undefined;
  /** Every server session ever created (a HELLO after a failed first handshake makes another). */
  readonly servers: ServerSession[] = [];
  private serverLink: ServerLink | undefined;
  private serverLinkId: number | undefined;
  private clientLinkId: number | undefined;
  private c2s: Uint8Array[] = [];
  private s2c: Uint8Array[] = [];

  constructor(readonly options: SimOptions) {
    this.env = new FakeEnv(options.seed ?? 7);
    this.client = new ClientSession(
      { authMethod: AuthMethod.BearerToken, authData: TOKEN, limits: options.limits },
      this.env,
    );
  }

  get linked(): boolean {
    return this.clientLinkId !== undefined;
  }

  connect(): void {
    if (this.linked || this.client.isClosed()) return;
    this.clientLinkId = this.client.linkUp();
    this.serverLink = new ServerLink(this.env.now() + 10_000);
    this.serverLinkId = undefined;
    this.c2s = [];
    this.s2c = [];
    this.flush();
  }

  /**
   * Cuts the link: delivers the first `keepC2S`/`keepS2C` bytes in flight (mid-frame allowed),
   * loses the rest. When `serverNotices` is false the server is not told (a silent black-hole).
   */
  cut(keepC2S: number, keepS2C: number, serverNotices: boolean): void {
    if (!this.linked) return;
    this.deliverC2S(keepC2S);
    this.deliverS2C(keepS2C);
    const clientLink = this.clientLinkId as number;
    this.clientLinkId = undefined;
    this.c2s = [];
    this.s2c = [];
    this.client.linkDown(clientLink);
    if (serverNotices && this.server && this.serverLinkId !== undefined)
      this.server.linkDown(this.serverLinkId);
    this.serverLink = undefined;
    this.serverLinkId = undefined;
    this.drainEvents();
  }

  /** Moves up to `max` bytes each way; returns the number moved. */
  pump(max: number): number {
    if (!this.linked) return 0;
    this.flush();
    let moved = this.deliverC2S(max);
    this.flush();
    moved += this.deliverS2C(max);
    this.flush();
    return moved;
  }

  advance(ms: number): void {
    this.env.advance(ms);
    this.client.tick();
    for (const s of this.servers) s.tick();
    this.drainEvents();
    this.flush();
  }

  /** Runs until nothing moves: reconnecting, delivering, acknowledging and consuming. */
  settle(maxRounds = 100_000): void {
    let idle = 0;
    for (let round = 0; round < maxRounds; round++) {
      if (this.client.isClosed()) return;
      if (!this.linked) this.connect();
      this.clientApp.write(this.client, 1 << 20);
      if (this.server) this.serverApp.write(this.server, 1 << 20);
      this.clientApp.consume(this.client);
      if (this.server) this.serverApp.consume(this.server);
      const moved = this.pump(1 << 20);
      if (moved > 0) {
        idle = 0;
        continue;
      }
      this.advance(this.options.limits.ackDelayMs ?? 10);
      if (++idle > 5) return;
    }
    throw new Error("simulation did not settle");
  }

  private deliverC2S(max: number): number {
    const bytes = take(this.c2s, max);
    if (bytes.length === 0) return 0;
    if (this.server && this.serverLinkId !== undefined) {
      this.server.receive(this.serverLinkId, bytes);
    } else if (this.serverLink) {
      const request = this.serverLink.receive(bytes);
      if (request?.kind === "hello") {
        this.server = new ServerSession(
          request,
          this.serverLink.decoder,
          {
            params: this.options.params ?? {},
            limits: this.options.limits,
            ...(this.options.sharedBudget ? { sharedBudget: this.options.sharedBudget } : {}),
          },
          this.env,
        );
        this.servers.push(this.server);
        this.serverLinkId = this.server.currentLink;
      } else if (request?.kind === "resume") {
        const target = this.servers.find((s) => sameBytes(s.sessionId, request.sessionId));
        const refusal = target ? target.checkResume(request) : "UNKNOWN_SESSION";
        if (target && !refusal) {
          this.server = target;
          this.serverLinkId = target.resume(request, this.serverLink.decoder);
        } else {
          throw new Error(`simulated resume refused: ${refusal}`);
        }
      }
    }
    this.drainEvents();
    return bytes.length;
  }

  private deliverS2C(max: number): number {
    const bytes = take(this.s2c, max);
    if (bytes.length === 0 || this.clientLinkId === undefined) return 0;
    this.client.receive(this.clientLinkId, bytes);
    this.drainEvents();
    return bytes.length;
  }

  /** Collects what each side wants to transmit into the in-flight queues. */
  private flush(): void {
    if (!this.linked) return;
    for (const part of this.client.pollTransmit()) this.c2s.push(part);
    if (this.serverLink) for (const part of this.serverLink.takeOutput()) this.s2c.push(part);
    if (this.server && this.serverLinkId !== undefined && this.server.currentLink === this.serverLinkId) {
      for (const part of this.server.pollTransmit()) this.s2c.push(part);
    }
    this.drainEvents();
  }

  drainEvents(): void {
    const clientEvents = this.client.takeEvents();
    this.clientApp.handle(clientEvents);
    for (const e of clientEvents) {
      if (e.type === "close-link" && e.link === this.clientLinkId) this.cut(0, 0, false);
      if (e.type === "writable") this.clientApp.write(this.client, 1 << 20, e.channel);
    }
    for (const s of this.servers) {
      const events = s.takeEvents();
      if (s !== this.server) continue;
      this.serverApp.handle(events);
      for (const e of events) {
        if (e.type === "open-request") s.acceptChannel(e.channel);
        // The server closed the transport: what it sent still arrives, what was coming to it is lost.
        if (e.type === "close-link" && e.link === this.serverLinkId) this.cut(0, Infinity, false);
        if (e.type === "writable") this.serverApp.write(s, 1 << 20, e.channel);
      }
    }
  }
}

function take(queue: Uint8Array[], max: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let n = 0;
  while (queue.length > 0 && n < max) {
    const head = queue[0] as Uint8Array;
    const room = max - n;
    if (head.length <= room) {
      parts.push(head);
      n += head.length;
      queue.shift();
    } else {
      parts.push(head.subarray(0, room));
      queue[0] = head.subarray(room);
      n += room;
    }
  }
  return concatBytes(parts);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
