/**
 * Structured JSON logs on stderr, one object per line, each with a stable `event` code from the
 * catalogue in docs/EVENTS.md. Admins read these the way the seed's admin reads the event viewer.
 */
import { pino, type Logger } from "pino";
import pinoPretty from "pino-pretty";

/** Every log event code, each documented in docs/EVENTS.md (a test checks). */
export const EVENT_CODES = [
  "listening",
  "admin.listening",
  "startup.failed",
  "config.invalid",
  "config.reloaded",
  "certificate.created",
  "certificate.expiring",
  "certificate.expired",
  "tokens.created",
  "session.created",
  "session.full",
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

/** Where log lines go: a stream that takes whole lines and reports its errors. */
export type LogDestination = pino.DestinationStream & {
  on(event: "error", listener: (err: Error) => void): unknown;
};

/** Sees every event, whatever the log level: the metrics count events the log may not print. */
export type EventObserver = (event: EventCode, fields: EventFields, msg: string) => void;

/**
 * Bytes of log lines that may wait in memory for a slow reader of stderr (journald, a pipe). Beyond
 * this, lines are dropped and counted rather than held without bound.
 */
const PENDING_LOG_LIMIT = 16 * 2 ** 20;

/**
 * stderr as Node writes it (at once while its reader keeps up, so that no line is lost when the
 * process exits), with at most PENDING_LOG_LIMIT bytes queued for a reader that falls behind: Node
 * queues them without bound (64 MiB of lines for a stopped reader grew a process by 250 MiB), and
 * a service must neither wait for its log nor grow because of it.
 */
function boundedStderr(onDrop: () => void): LogDestination {
  const stderr = process.stderr;
  return {
    write(line: string): void {
      if (stderr.writableLength > PENDING_LOG_LIMIT) onDrop();
      else stderr.write(line);
    },
    on(event, listener) {
      stderr.on(event, listener);
    },
  };
}

/**
 * stderr for a person at a terminal: time, level, role, event code and message on one line, then
 * the other fields. Written at once, as the JSON is: a line must not wait, nor be lost at exit.
 */
function readableStderr(): LogDestination {
  return pinoPretty({
    destination: 2,
    sync: true,
    colorize: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,role,event",
    messageFormat: "{role} {event}: {msg}",
    // A terminal in raw mode (ssh's, around connect --stdio) moves to the next row only on \r\n.
    crlf: true,
    singleLine: true,
  });
}

export class EventLog {
  private readonly logger: Logger;
  private readonly observers: EventObserver[] = [];
  private dropped = 0;

  /**
   * Logs to `destination`. By default: stderr, as JSON lines with a bound on what waits for their
   * reader; or, when stderr is a terminal, as lines for a person to read.
   */
  constructor(role: string, level: LogLevel = "info", destination?: LogDestination) {
    const out =
      destination ?? (process.stderr.isTTY ? readableStderr() : boundedStderr(() => this.dropped++));
    // If whoever reads the log goes away (EPIPE), the service carries on without its log.
    out.on("error", () => undefined);
    this.logger = pino({ level, base: { role }, messageKey: "msg" }, out);
  }

  /** From now on, log at `level` (a reload may change it). */
  setLevel(level: LogLevel): void {
    this.logger.level = level;
  }

  /** Log lines dropped because the reader of stderr fell PENDING_LOG_LIMIT behind. */
  get droppedLines(): number {
    return this.dropped;
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
