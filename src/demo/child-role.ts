/** A lifeline role (host, serve) run by the demo as a child process, its log kept in a file. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { lifelineArgs } from "../cli/command.js";

export interface ChildRole {
  child: ChildProcess;
  port: number;
  /** The fields of every JSON log line, as they came. */
  events: Record<string, unknown>[];
}

/** Starts `lifeline <args>`; resolves with the port from its `listening` event. */
export function startRole(args: string[], logPath: string): Promise<ChildRole> {
  const child = spawn(process.execPath, lifelineArgs(args), { stdio: ["ignore", "ignore", "pipe"] });
  const logFile = createWriteStream(logPath, { flags: "a" });
  const events: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      logFile.write(`${line}\n`);
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        events.push(record);
        if (record.event === "listening") resolve({ child, port: Number(record.port), events });
      } catch {
        // a plain line (an argument error): it is in the log file
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`lifeline ${args[0]} exited with ${code} (see ${logPath})`)),
    );
  });
}

/** Ends a role by its PID, gracefully. */
export function stopRole(role: ChildRole | undefined): void {
  if (role && role.child.exitCode === null) role.child.kill("SIGTERM");
}
