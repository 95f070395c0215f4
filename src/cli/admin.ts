/** The admin flags both long-running roles share, and the endpoints they start. */
import { join } from "node:path";
import type { Command } from "commander";
import { AdminServer } from "../ops/admin-server.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import type { EventLog } from "../ops/log.js";
import { LifelineMetrics, type RoleGauges } from "../ops/metrics.js";
import type { SessionTable } from "../ops/session-table.js";
import type { Health, StatusReport } from "../ops/status-report.js";
import { VERSION } from "../ops/version.js";
import { computedDefaultOption, hostPort } from "./options.js";

export interface AdminFlags {
  metrics?: HostPort;
  /** A path, false for --no-admin-socket, undefined for the default path. */
  adminSocket?: string | false;
  stateDir: string;
}

export function addAdminOptions(command: Command): Command {
  return command
    .option(
      "--metrics <host:port>",
      "serve Prometheus /metrics and a /healthz probe here (e.g. 127.0.0.1:9259); off by default",
      hostPort(),
    )
    .addOption(
      computedDefaultOption(
        "--admin-socket <path>",
        "Unix socket for `lifeline status` (mode 0600)",
        `<state-dir>/admin/${command.name()}-<pid>.sock`,
      ),
    )
    .option("--no-admin-socket", "do not open the admin socket");
}

/** Where a role's admin socket is by default: `lifeline status` looks for every socket there. */
export function adminSocketDir(stateDir: string): string {
  return join(stateDir, "admin");
}

export interface RoleView extends RoleGauges {
  role: "serve" | "connect";
  table: SessionTable;
  health(): Health;
  listening(): string | undefined;
  server?: string;
}

/** Starts the metrics endpoint and the admin socket the flags ask for. */
export async function startAdmin(flags: AdminFlags, view: RoleView, log: EventLog): Promise<AdminServer> {
  const metrics = new LifelineMetrics(view.role, VERSION, view.table, log, view);
  const status = (): StatusReport => ({
    role: view.role,
    pid: process.pid,
    version: VERSION,
    uptimeSeconds: Math.round(process.uptime()),
    listening: view.listening(),
    ...(view.server ? { server: view.server } : {}),
    health: view.health(),
    sessions: view.table.sessions(),
    recentlyEnded: view.table.recentlyEnded(),
  });
  const admin = new AdminServer({ metrics, health: () => view.health(), status });
  try {
    if (flags.metrics) {
      const bound = await admin.listenHttp(flags.metrics);
      const where = formatHostPort({ host: bound.address, port: bound.port });
      log.info("admin.listening", `metrics on http://${where}/metrics, health on /healthz`, {
        endpoint: "metrics",
        address: bound.address,
        port: bound.port,
      });
    }
    if (flags.adminSocket !== false) {
      const path =
        flags.adminSocket ?? join(adminSocketDir(flags.stateDir), `${view.role}-${process.pid}.sock`);
      await admin.listenSocket(path);
      log.info("admin.listening", `admin socket ${path} (lifeline status)`, { endpoint: "socket", path });
    }
  } catch (err) {
    admin.close();
    throw err;
  }
  return admin;
}
