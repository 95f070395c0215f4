/**
 * The client end of a session: opens it with HELLO, resumes it with RESUME on every new link,
 * and opens channels. Channels may be opened and written while no link is up; they go out when the
 * session is established.
 */
import { MAX_CHANNELS_PER_SESSION, MAX_TRACKED_CHANNELS, PROTOCOL_VERSION } from "../constants.js";
import { codeFromWire, LifelineError } from "../errors.js";
import { FrameDecoder } from "../frame/decode.js";
import { encodePreamble } from "../frame/encode.js";
import { TARGET_NAME_PATTERN, type Frame, type ResumedFrame, type WelcomeFrame } from "../frame/types.js";
import { Channel } from "../reliable/channel.js";
import type { SessionEnv } from "./env.js";
import { resolveLimits, type SessionLimits } from "./options.js";
import { Session } from "./session.js";
import { SessionState } from "./state.js";

export interface ClientSessionOptions {
  /** AuthMethod value and its data (for a bearer token, the token's UTF-8 bytes). */
  authMethod: number;
  authData: Uint8Array;
  limits?: Partial<SessionLimits>;
}

export class ClientSession extends Session {
  private sessionId: Uint8Array | undefined;
  private resumeSecret: Uint8Array | undefined;
  private goawayCode: number | undefined;

  constructor(
    private readonly options: ClientSessionOptions,
    env: SessionEnv,
  ) {
    super("client", resolveLimits(options.limits), env, SessionState.Idle);
  }

  /** A new transport is connected: sends HELLO or RESUME on it. Returns the link's number. */
  linkUp(): number {
    if (this.isClosed()) throw new LifelineError("INVALID_STATE", "the session is closed");
    if (this.link)
      throw new LifelineError("INVALID_STATE", "a link is already attached; report linkDown first");
    const link = this.attachLink(new FrameDecoder({ expectPreamble: true }));
    this.raw.push(encodePreamble(PROTOCOL_VERSION));
    if (this.state === SessionState.Idle) {
      this.transition(SessionState.Connecting);
      this.control.push({
        kind: "hello",
        receiveWindow: this.limits.receiveWindow,
        authMethod: this.options.authMethod,
        authData: this.options.authData,
      });
    } else {
      this.transition(SessionState.Resuming);
      this.control.push({
        kind: "resume",
        sessionId: this.sessionId as Uint8Array,
        resumeSecret: this.resumeSecret as Uint8Array,
        ...this.channelTable(),
      });
    }
    return link;
  }

  /** False once `maxChannels` channels are live (or too many resets await confirmation). */
  hasRoomForChannel(): boolean {
    return this.liveChannelCount() < this.channelLimit && this.channels.size < MAX_TRACKED_CHANNELS;
  }

  private get channelLimit(): number {
    return this.params?.maxChannels ?? MAX_CHANNELS_PER_SESSION;
  }

  /** Opens a channel to the server-side target named `target`; returns its id. */
  openChannel(target: string): number {
    if (this.isClosed()) throw new LifelineError("INVALID_STATE", "the session is closed");
    if (!TARGET_NAME_PATTERN.test(target)) {
      throw new LifelineError(
        "INVALID_ARGUMENT",
        `target names use [A-Za-z0-9._-], 1-255 characters: ${JSON.stringify(target)}`,
      );
    }
    if (this.goawayCode !== undefined)
      throw new LifelineError("GOING_AWAY", "the server is shutting down this session");
    if (!this.hasRoomForChannel()) {
      throw new LifelineError(
        "CHANNEL_LIMIT",
        `at most ${this.channelLimit} channels per session are allowed`,
      );
    }
    const ch = new Channel(++this.highestChannel, target, this.limits.receiveWindow, this.peerReceiveWindow);
    this.addChannel(ch);
    if (this.canSendChannelFrames()) this.control.push({ kind: "open", channel: ch.id, target });
    return ch.id;
  }

  protected isHandshaking(): boolean {
    return this.state === SessionState.Connecting || this.state === SessionState.Resuming;
  }

  protected onHandshakeFrame(frame: Frame): void {
    if (frame.kind === "close") {
      this.finish(codeFromWire(frame.code, "PROTOCOL_ERROR"), frame.code, frame.reason, true);
    } else if (frame.kind === "welcome" && this.state === SessionState.Connecting) {
      this.onWelcome(frame);
    } else if (frame.kind === "resumed" && this.state === SessionState.Resuming) {
      this.onResumed(frame);
    } else {
      throw new LifelineError("PROTOCOL_ERROR", `unexpected ${frame.kind.toUpperCase()} while ${this.state}`);
    }
  }

  protected onOpen(): void {
    throw new LifelineError("PROTOCOL_ERROR", "the server may not open channels");
  }

  protected onOpened(channel: number): void {
    const ch = this.channelFor(channel);
    if (ch && !ch.opened) this.markOpened(ch);
  }

  protected onGoAway(code: number): void {
    this.goawayCode = code;
    this.emit({ type: "goaway", code: codeFromWire(code, "GOING_AWAY") });
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.sessionId = frame.sessionId;
    this.resumeSecret = frame.resumeSecret;
    this.params = {
      sessionTimeoutMs: frame.sessionTimeoutMs,
      keepaliveIntervalMs: frame.keepaliveIntervalMs,
      deadAfterMs: frame.deadAfterMs,
      maxChannels: frame.maxChannels,
    };
    this.peerReceiveWindow = frame.receiveWindow;
    this.transition(SessionState.Established);
    this.emit({ type: "established", sessionId: frame.sessionId });
    for (const ch of [...this.channels.values()]) {
      if (ch.isReset) {
        // Reset before the server ever heard of it: nothing to open, nothing to tell.
        this.retire(ch);
        continue;
      }
      ch.peerWindowLimit = Math.max(ch.peerWindowLimit, frame.receiveWindow);
      this.control.push({ kind: "open", channel: ch.id, target: ch.target });
      this.markReady(ch);
    }
    this.releaseBlocked();
  }

  private onResumed(frame: ResumedFrame): void {
    this.resumeSecret = frame.resumeSecret;
    this.transition(SessionState.Established);
    // The first frame on the new link proves to the server that the new secret arrived.
    this.sendPing();
    const replayedBytes = this.reconcile(frame);
    this.emit({ type: "resumed", outageMs: this.env.now() - this.suspendedAt, replayedBytes });
  }
}
