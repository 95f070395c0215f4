/** What `lifeline status` receives from a running `serve` or `connect` over its admin socket. */
import type { SessionStatus } from "./session-table.js";

export interface Health {
  healthy: boolean;
  /** "ok", or why not: "draining", "session-limit", "buffer-exhausted", "stopping". */
  status: string;
  /** connect: local connections carried directly to the fallback address now, and where. */
  directConnections?: number;
  fallback?: string;
  [detail: string]: unknown;
}

export interface StatusReport {
  role: "serve" | "connect";
  pid: number;
  version: string;
  uptimeSeconds: number;
  /** Where the role accepts connections (serve: clients; connect: local applications). */
  listening: string | undefined;
  /** connect: the reliability server it talks to. */
  server?: string;
  health: Health;
  sessions: SessionStatus[];
  recentlyEnded: SessionStatus[];
}
