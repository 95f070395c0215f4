/**
 * Structured JSON logs on stderr, one object per line, each with a stable `event` code from the
 * catalogue in docs/EVENTS.md. Admins read these the way the seed's admin reads the event viewer.
 */
import { pino, type Logger } from "pino";

/** Every log event code, each documented in docs/EVENTS.md (a test checks). */
export const EVENT_CODES = [
  "listening",
  "admin.listening",
  "startup.failed",
  "config.invalid",
  "config.reloaded",
  "certificate.created",
  "tokens.created",
  "session.created",
  "session.interrupted",
  "session.resumed",
  "session.expired",
  "session.closed",
  "resume.refused",
  "auth.failed",
  "handshake.failed",
  "channel.opened",
  "channel.closed",
  "channel.refused",
  "target.unreachable",
  "buffer.full",
  "buffer.released",
  "link.connecting",
  "link.connected",
  "link.failed",
  "link.lost",
  "fallback.used",
  "fallback.failed",
  "security.failed",
  "server.draining",
  "server.stopped",
  "terminal.created",
  "terminal.attached",
  "terminal.detached",
  "terminal.exited",
  "terminal.expired",
  "terminal.refused",
] as const;

export type EventCode = (typeof EVENT_CODES)[number];

export type Level = "debug" | "info" | "warn" | "error";

/** A level to log at, or "silent". */
export type LogLevel = Level | "silent";

export type EventFields = Record<string, unknown>;

/** Sees every event, whatever the log level: the metrics count events the log may not print. */
export type EventObserver = (event: EventCode, fields: EventFields, msg: string) => void;

export class EventLog {
  private readonly logger: Logger;
  private readonly observers: EventObserver[] = [];

  constructor(role: string, level: LogLevel = "info", destination: NodeJS.WritableStream = process.stderr) {
    // If whoever reads the log goes away (EPIPE), the service carries on without its log.
    destination.on("error", () => undefined);
    this.logger = pino({ level, base: { role }, messageKey: "msg" }, destination as pino.DestinationStream);
  }

  observe(observer: EventObserver): void {
    this.observers.push(observer);
  }

  debug(event: EventCode, msg: string, fields: EventFields = {}): void {
    this.emit("debug", event, msg, fields);
  }

  info(event: EventCode, msg: string, fields: EventFields = {}): void {
    this.emit("info", event, msg, fields);
  }

  warn(event: EventCode, msg: string, fields: EventFields = {}): void {
    this.emit("warn", event, msg, fields);
  }

  error(event: EventCode, msg: string, fields: EventFields = {}): void {
    this.emit("error", event, msg, fields);
  }

  private emit(level: Level, event: EventCode, msg: string, fields: EventFields): void {
    for (const observer of this.observers) observer(event, fields, msg);
    this.logger[level]({ event, ...fields }, msg);
  }
}
