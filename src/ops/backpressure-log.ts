/**
 * The log lines of backpressure (`buffer.full`, `buffer.released`). A buffer that fills while the
 * link is down means input has stopped until the session resumes: admins want that at info. While
 * the link is up it is ordinary flow control, which in a bulk transfer flips many times a second
 * (thousands of lines per GiB), so it goes to debug; the metrics count every flip either way.
 */
import type { EventFields, EventLog } from "./log.js";

export interface BackpressureMessages {
  full: string;
  released: string;
}

export class BackpressureLog {
  /** Channels whose `buffer.full` went out at info: their `buffer.released` does too. Made on first use (one per session). */
  private loud: Set<number> | undefined;

  constructor(
    private readonly log: EventLog,
    private readonly messages: BackpressureMessages,
  ) {}

  changed(channel: number, paused: boolean, linkUp: boolean, fields: EventFields): void {
    if (paused) {
      if (linkUp) {
        this.log.debug("buffer.full", this.messages.full, fields);
      } else {
        (this.loud ??= new Set()).add(channel);
        this.log.info("buffer.full", this.messages.full, fields);
      }
    } else if (this.loud?.delete(channel)) {
      this.log.info("buffer.released", this.messages.released, fields);
    } else {
      this.log.debug("buffer.released", this.messages.released, fields);
    }
  }
}
