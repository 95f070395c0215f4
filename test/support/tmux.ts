/**
 * A real terminal for tests: a private tmux server (its own socket in a temporary directory), one
 * window of a fixed size running a command; keys are sent and the screen is read back as text.
 * The server is killed when the test ends, pass or fail.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

export class TmuxTerminal {
  private constructor(private readonly socket: string) {}

  /** Starts `command` (argv) in a cols×rows terminal, with `env` added to the environment. */
  static start(
    t: TestContext,
    command: string[],
    size = { cols: 100, rows: 30 },
    env: Record<string, string> = {},
  ): TmuxTerminal {
    const dir = mkdtempSync(join(tmpdir(), "lifeline-tmux-"));
    const terminal = new TmuxTerminal(join(dir, "socket"));
    t.after(() => {
      terminal.tmux(["kill-server"], true);
      rmSync(dir, { recursive: true, force: true });
    });
    const exports = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    // Keep the pane (and its last screen) when the command exits, so a test can read why: set in the
    // server's configuration, before the command starts, since a quick command could beat a later set.
    const config = join(dir, "tmux.conf");
    writeFileSync(config, "set-option -g remain-on-exit on\n");
    terminal.tmux([
      "-f",
      config,
      "new-session",
      "-d",
      "-x",
      String(size.cols),
      "-y",
      String(size.rows),
      ...exports,
      ...command.map((a) => a),
    ]);
    return terminal;
  }

  /** Types `keys` literally (no key names), as a user would. */
  type(keys: string): void {
    this.tmux(["send-keys", "-l", keys]);
  }

  /** Presses named keys ("Enter", "C-c", "C-]"). */
  press(...keys: string[]): void {
    this.tmux(["send-keys", ...keys]);
  }

  /** The visible screen, one string per row. */
  screen(): string {
    return this.tmux(["capture-pane", "-p"]);
  }

  /** Resizes the terminal, as a user resizing the window. */
  resize(cols: number, rows: number): void {
    this.tmux(["resize-window", "-x", String(cols), "-y", String(rows)]);
  }

  /** Resolves when the screen matches `pattern`; rejects with the screen after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      if (pattern.test(screen)) return screen;
      if (Date.now() > until) throw new Error(`timed out waiting for ${String(pattern)}; screen:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private tmux(args: string[], ignoreErrors = false): string {
    try {
      return execFileSync("tmux", ["-S", this.socket, ...args], { encoding: "utf8" });
    } catch (err) {
      if (ignoreErrors) return "";
      throw err;
    }
  }
}
