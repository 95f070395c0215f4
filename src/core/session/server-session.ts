/**
 * The server end of a session: born from an accepted HELLO, continued by RESUME on new links.
 * It never opens channels; it answers OPEN requests once the I/O layer has connected (or failed to
 * connect) the named target. Authentication and target lookup are the I/O layer's decisions.
 */
import { constantTimeEqual } from "../bytes.js";
import { MAX_TRACKED_CHANNELS, RESUME_SECRET_SIZE, SESSION_ID_SIZE } from "../constants.js";
import { isLifelineError, LifelineError, WIRE_CODES, type ErrorCode } from "../errors.js";
import type { FrameDecoder } from "../frame/decode.js";
import type { Frame, HelloFrame, ResumeFrame } from "../frame/types.js";
import { Channel } from "../reliable/channel.js";
import type { SharedBudget } from "../reliable/shared-budget.js";
import type { SessionEnv } from "./env.js";
import { resolveLimits, resolveServerParams, type ServerParams, type SessionLimits } from "./options.js";
import { Session } from "./session.js";
import { SessionState } from "./state.js";

export interface ServerSessionOptions {
  params?: Partial<ServerParams>;
  limits?: Partial<SessionLimits>;
  /** The server's global buffer budget, shared by all its sessions. */
  sharedBudget?: SharedBudget;
}

export class ServerSession extends Session {
  readonly sessionId: Uint8Array;
  private secret: Uint8Array;
  /** The secret before the last rotation, valid until the client shows it has the new one. */
  private previousSecret: Uint8Array | undefined;
  private draining = false;

  /** Creates the session for an authenticated HELLO; its WELCOME is queued on `decoder`'s link. */
  constructor(hello: HelloFrame, decoder: FrameDecoder, options: ServerSessionOptions, env: SessionEnv) {
    super("server", resolveLimits(options.limits), env, SessionState.Established, options.sharedBudget);
    const params = resolveServerParams(options.params);
    this.params = params;
    this.peerReceiveWindow = hello.receiveWindow;
    // One allocation for both: a server holds them for every session, idle or not.
    const random = env.randomBytes(SESSION_ID_SIZE + RESUME_SECRET_SIZE);
    this.sessionId = random.subarray(0, SESSION_ID_SIZE);
    this.secret = random.subarray(SESSION_ID_SIZE);
    this.attachLink(decoder);
    this.control.push({
      kind: "welcome",
      sessionId: this.sessionId,
      resumeSecret: this.secret,
      ...params,
      receiveWindow: this.limits.receiveWindow,
    });
    this.emit({ type: "established", sessionId: this.sessionId });
  }

  /** Whether `frame` may resume this session; checked before anything about the session changes. */
  checkResume(frame: ResumeFrame): ErrorCode | undefined {
    if (this.isClosed()) return "SESSION_EXPIRED";
    return this.presentedSecret(frame) ? undefined : "BAD_SECRET";
  }

  /**
   * Moves the session onto a new link after `checkResume` passed. A link still attached is
   * replaced (the client saw it die first). Returns the new link's number.
   */
  resume(frame: ResumeFrame, decoder: FrameDecoder): number {
    const presented = this.presentedSecret(frame);
    if (!presented || this.isClosed())
      throw new LifelineError(this.checkResume(frame) ?? "BAD_SECRET", "resume refused");
    if (this.link) this.dropLink("replaced");
    const outageMs = this.env.now() - this.suspendedAt;
    const link = this.attachLink(decoder);
    // The secret the client holds stays valid until it proves it received the new one; if this
    // RESUMED is lost too, the client comes back with the same secret and is still let in.
    this.previousSecret = presented;
    this.secret = this.env.randomBytes(RESUME_SECRET_SIZE);
    this.transition(SessionState.Established);
    this.control.push({ kind: "resumed", resumeSecret: this.secret, ...this.channelTable() });
    if (this.draining) this.control.push({ kind: "goaway", code: WIRE_CODES.GOING_AWAY });
    try {
      const replayedBytes = this.reconcile(frame);
      this.emit({ type: "resumed", outageMs, replayedBytes });
    } catch (err) {
      // The secret was right but the table contradicts what we sent: a broken client.
      if (!isLifelineError(err)) throw err;
      this.fail(err);
    }
    return link;
  }

  /** The target for `channel` is connected: tell the client. */
  acceptChannel(channel: number): void {
    const ch = this.channels.get(channel);
    if (!ch || ch.isReset || ch.opened) return;
    ch.opened = true;
    if (this.canSendChannelFrames()) this.control.push({ kind: "opened", channel });
  }

  /** Stops accepting channels (shutdown); existing channels continue until closed. */
  goAway(): void {
    if (this.draining || this.isClosed()) return;
    this.draining = true;
    if (this.canSendChannelFrames()) this.control.push({ kind: "goaway", code: WIRE_CODES.GOING_AWAY });
  }

  protected isHandshaking(): boolean {
    return false;
  }

  /** The valid secret `frame` carries (current, or the one before it while unconfirmed), compared in constant time. */
  private presentedSecret(frame: ResumeFrame): Uint8Array | undefined {
    if (constantTimeEqual(frame.resumeSecret, this.secret)) return this.secret;
    const previous = this.previousSecret;
    if (previous && constantTimeEqual(frame.resumeSecret, previous)) return previous;
    return undefined;
  }

  protected onHandshakeFrame(frame: Frame): void {
    throw new LifelineError("INTERNAL_ERROR", `${frame.kind} arrived on a suspended server session`);
  }

  protected override onEstablishedFrame(): void {
    this.previousSecret = undefined;
  }

  protected onOpen(channel: number, target: string): void {
    if (channel <= this.highestChannel) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `OPEN for channel ${channel}, but ids must increase (last was ${this.highestChannel})`,
      );
    }
    if (this.channels.size >= MAX_TRACKED_CHANNELS) {
      throw new LifelineError(
        "PROTOCOL_ERROR",
        `${MAX_TRACKED_CHANNELS} channels tracked: the client does not confirm RESETs`,
      );
    }
    this.highestChannel = channel;
    const ch = new Channel(channel, target, this.limits.receiveWindow, this.peerReceiveWindow);
    this.addChannel(ch);
    const params = this.params as ServerParams;
    if (this.draining) this.reset(channel, "GOING_AWAY");
    else if (this.liveChannelCount() > params.maxChannels) this.reset(channel, "CHANNEL_LIMIT");
    else this.emit({ type: "open-request", channel, target });
  }

  protected onOpened(): void {
    throw new LifelineError("PROTOCOL_ERROR", "a client may not send OPENED");
  }

  protected onGoAway(): void {
    throw new LifelineError("PROTOCOL_ERROR", "a client may not send GOAWAY");
  }
}
