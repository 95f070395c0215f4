/** Session options: one type, units in the names and docs, one defaults object, one validation step. */
import { MAX_CHANNELS_PER_SESSION } from "../constants.js";
import { LifelineError } from "../errors.js";

/** Buffering and acknowledgement settings; each side chooses its own. */
export interface SessionLimits {
  /** Bytes held for replay across all channels of a session (written, not yet acknowledged). */
  sendBudget: number;
  /** Bytes held for replay on one channel, so that one busy channel cannot take the whole budget. */
  channelSendBudget: number;
  /** Per-channel receive window: bytes the peer may send beyond what the application consumed. */
  receiveWindow: number;
  /** Send an ACK once this many bytes arrived since the last one... */
  ackBytes: number;
  /** ...or this many milliseconds after the first unacknowledged byte, whichever comes first. */
  ackDelayMs: number;
  /** A link whose handshake has not completed after this many milliseconds is dropped. */
  handshakeTimeoutMs: number;
}

/** Parameters the server fixes for a session and announces in WELCOME. */
export interface ServerParams {
  /** How long a session outlives its link, in milliseconds (Citrix's default is 180 s). */
  sessionTimeoutMs: number;
  /** The client's PING interval, in milliseconds; the server answers, and PINGs only every tenth interval. */
  keepaliveIntervalMs: number;
  /** A link on which nothing arrived for this long is dead, in milliseconds. */
  deadAfterMs: number;
  /** Most channels open at once. */
  maxChannels: number;
}

export const DEFAULT_LIMITS: Readonly<SessionLimits> = {
  sendBudget: 4 * 1024 * 1024,
  channelSendBudget: 2 * 1024 * 1024,
  receiveWindow: 1024 * 1024,
  ackBytes: 128 * 1024,
  ackDelayMs: 10,
  handshakeTimeoutMs: 10_000,
};

export const DEFAULT_SERVER_PARAMS: Readonly<ServerParams> = {
  sessionTimeoutMs: 180_000,
  keepaliveIntervalMs: 3_000,
  deadAfterMs: 5_000,
  maxChannels: 256,
};

const U32_MAX = 0xffff_ffff;

export function resolveLimits(overrides: Partial<SessionLimits> = {}): SessionLimits {
  const limits = { ...DEFAULT_LIMITS, ...withoutUndefined(overrides) };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof SessionLimits)[]) {
    requireInteger(key, limits[key], 1, key === "receiveWindow" ? U32_MAX : Number.MAX_SAFE_INTEGER);
  }
  if (limits.channelSendBudget > limits.sendBudget) {
    throw new LifelineError(
      "INVALID_ARGUMENT",
      `channelSendBudget (${limits.channelSendBudget}) must not exceed sendBudget (${limits.sendBudget})`,
    );
  }
  return limits;
}

export function resolveServerParams(overrides: Partial<ServerParams> = {}): ServerParams {
  const params = { ...DEFAULT_SERVER_PARAMS, ...withoutUndefined(overrides) };
  requireInteger("sessionTimeoutMs", params.sessionTimeoutMs, 1, U32_MAX);
  requireInteger("keepaliveIntervalMs", params.keepaliveIntervalMs, 1, U32_MAX);
  requireInteger("deadAfterMs", params.deadAfterMs, 1, U32_MAX);
  requireInteger("maxChannels", params.maxChannels, 1, MAX_CHANNELS_PER_SESSION);
  if (params.deadAfterMs <= params.keepaliveIntervalMs) {
    throw new LifelineError(
      "INVALID_ARGUMENT",
      `deadAfterMs (${params.deadAfterMs}) must exceed keepaliveIntervalMs (${params.keepaliveIntervalMs}), or every quiet link looks dead`,
    );
  }
  return params;
}

function requireInteger(key: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new LifelineError(
      "INVALID_ARGUMENT",
      `${key} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
}

function withoutUndefined<T extends object>(value: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
