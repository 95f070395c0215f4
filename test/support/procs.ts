/**
 * Real lifeline processes for integration tests: spawned from bin/lifeline.js, their JSON log lines
 * parsed as they arrive, and ended by PID when the test ends, pass or fail.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { lifelineArgs } from "../../src/cli/command.js";

export interface LogRecord {
  event?: string;
  level: number;
  msg: string;
  [key: string]: unknown;
}

export class LifelineProcess {
  readonly records: LogRecord[] = [];
  readonly stderrText: string[] = [];
  private waiters: { match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    if (child.stderr) eachLine(child.stderr, (line) => this.line(line));
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  private line(line: string): void {
    if (!line.trim()) return;
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      this.stderrText.push(line);
      return;
    }
    this.records.push(record);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(record)) return true;
      w.resolve(record);
      return false;
    });
  }

  /** Resolves with the first record (past or future) with `event` for which `where` holds. */
  waitFor(
    event: string,
    where: (r: LogRecord) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<LogRecord> {
    const match = (r: LogRecord): boolean => r.event === event && where(r);
    const seen = this.records.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out waiting for "${event}"; log so far:\n${this.records.map((r) => JSON.stringify(r)).join("\n")}\n${this.stderrText.join("\n")}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }

  events(event: string): LogRecord[] {
    return this.records.filter((r) => r.event === event);
  }

  async port(): Promise<number> {
    return (await this.waitFor("listening")).port as number;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Calls `fn` with each complete line of text from `stream`. */
export function eachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (text: string) => {
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) fn(line);
  });
}

/** The lifeline processes each test started (see `lifeline`). */
const startedBy = new WeakMap<TestContext, LifelineProcess[]>();

async function stopAll(procs: readonly LifelineProcess[]): Promise<void> {
  for (const proc of procs) proc.kill();
  await Promise.all(procs.map((proc) => proc.exited));
}

/** A temporary state directory, removed when the test ends, after the test's lifeline processes. */
export function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-test-"));
  t.after(async () => {
    // Hooks run in the order they were added, so this one usually comes before the processes' own.
    // A process still starting would make its admin directory again inside a removed one.
    await stopAll(startedBy.get(t) ?? []);
    // Retried: what a stopped process leaves running may still write here for a moment (a host's
    // shells, hung up as it exits, write their history into the home it gave them).
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  return dir;
}

/** Spawns `lifeline <args>`; the process is killed by PID when the test ends. */
export function lifeline(
  t: TestContext,
  args: string[],
  /** `stdio`: what the process gets as stdout (a descriptor: its own copy of it). */
  options: { env?: NodeJS.ProcessEnv; stdio?: "pipe" | "ignore" | number; command?: string[] } = {},
): LifelineProcess {
  const [cmd, ...prefix] = options.command ?? [process.execPath];
  const child = spawn(cmd as string, [...prefix, ...lifelineArgs(args)], {
    env: { ...process.env, ...options.env },
    stdio: ["pipe", options.stdio ?? "pipe", "pipe"],
  });
  const proc = new LifelineProcess(child);
  const started = startedBy.get(t);
  if (started) started.push(proc);
  else startedBy.set(t, [proc]);
  t.after(() => stopAll([proc]));
  return proc;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  /** Everything on stderr: plain lines, then the JSON log records. */
  stderr: string;
  proc: LifelineProcess;
}

/** Runs `lifeline <args>` to its end: its exit code, all it wrote on stdout and stderr, and the process. */
export async function runLifeline(
  t: TestContext,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const proc = lifeline(t, args, options);
  proc.child.stdin?.end();
  // A command expected to finish must never hang the suite: kill it and let the assertions fail.
  const deadline = setTimeout(() => proc.kill(), 30_000);
  let stdout = "";
  proc.child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  // "close", not "exit": by then stdout and stderr have been read to their end.
  await new Promise((resolve) => proc.child.once("close", resolve));
  clearTimeout(deadline);
  const stderr = [...proc.stderrText, ...proc.records.map((r) => JSON.stringify(r))].join("\n");
  return { code: proc.child.exitCode, stdout, stderr, proc };
}
