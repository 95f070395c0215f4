/**
 * `lifeline status`: asks every running `serve` and `connect` of this state directory (or the
 * one socket given) for its sessions, over their admin sockets.
 */
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Command } from "commander";
import { formatStatus } from "../ops/format-status.js";
import type { StatusReport } from "../ops/status-report.js";
import { defaultStateDir } from "../server/credentials.js";
import { adminSocketDir } from "./admin.js";

const STATUS_DEADLINE_MS = 5000;

interface StatusFlags {
  socket?: string;
  stateDir: string;
  json?: boolean;
}

export function statusCommand(): Command {
  return new Command("status")
    .exitOverride()
    .description("list the sessions of the running lifeline serve and connect processes")
    .option("--socket <path>", "ask this admin socket only")
    .option(
      "--state-dir <dir>",
      "find the admin sockets of processes using this state directory",
      defaultStateDir(),
    )
    .option("--json", "print the reports as JSON")
    .action(async (flags: StatusFlags) => {
      const sockets = flags.socket ? [flags.socket] : socketsIn(adminSocketDir(flags.stateDir));
      const reports: StatusReport[] = [];
      for (const path of sockets) {
        try {
          reports.push(await fetchStatus(path));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (!flags.socket && code === "ECONNREFUSED") removeStale(path);
          else process.stderr.write(`lifeline status: ${path}: ${(err as Error).message}\n`);
        }
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
      else process.stdout.write(reports.map(formatStatus).join("\n"));
      if (reports.length === 0) {
        process.stderr.write(
          `lifeline status: no running lifeline found (looked in ${flags.socket ?? adminSocketDir(flags.stateDir)}; use --state-dir or --socket)\n`,
        );
        process.exitCode = 1;
      }
    });
}

function socketsIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(".sock"))
      .sort()
      .map((name) => join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      process.stderr.write(`lifeline status: cannot read ${dir}: ${(err as Error).message}\n`);
    return [];
  }
}

/** Nothing listens on `path`: its process ended without cleaning up. */
function removeStale(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // someone else cleaned it up
  }
}

/** GET /status on `socketPath`, settled within STATUS_DEADLINE_MS whatever the other side does. */
function fetchStatus(socketPath: string): Promise<StatusReport> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/status" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("close", () => {
        try {
          if (!res.complete) throw new Error("the answer was cut off");
          if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${body.trim()}`);
          resolve(JSON.parse(body) as StatusReport);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    const deadline = setTimeout(
      () => req.destroy(new Error(`no complete answer within ${STATUS_DEADLINE_MS / 1000} s`)),
      STATUS_DEADLINE_MS,
    );
    req.on("close", () => clearTimeout(deadline));
    req.on("error", reject);
    req.end();
  });
}
