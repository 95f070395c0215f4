/** `lifeline attach [SESSION]`: a terminal session of `lifeline host`, through session reliability. */
import { Command } from "commander";
import { LifelineAgent } from "../client/agent.js";
import { EventLog } from "../ops/log.js";
import { TerminalAttach } from "../terminal/attach.js";
import { addSessionOptions, buildConfig, readToken, type SessionFlags } from "./connect.js";

interface AttachFlags extends SessionFlags {
  term: string;
  list?: boolean;
}

export function attachCommand(): Command {
  const command = new Command("attach")
    .exitOverride()
    .description(
      "open (or, with SESSION, reattach to) a terminal session of lifeline host, in this terminal; Ctrl-] d detaches",
    )
    .argument("[session]", "the id of a running host session to reattach to")
    .option("--term <name>", "TERM for the remote program", process.env.TERM ?? "xterm-256color")
    .option("--list", "list the host's sessions (id, state, size, age, command) and quit");
  addSessionOptions(command);
  return command.action(async (session: string | undefined, flags: AttachFlags) => {
    const err = (text: string): void => void process.stderr.write(`lifeline attach: ${text}\n`);
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      err("needs a terminal on stdin and stdout");
      process.exitCode = 2;
      return;
    }
    let agent: LifelineAgent;
    let token: string;
    // The terminal is the user's: lifeline's events feed the status line, not JSON lines on stderr.
    const log = new EventLog("attach", "silent");
    try {
      agent = new LifelineAgent(buildConfig(flags), log);
      token = readToken(flags);
    } catch (e) {
      err(`cannot start: ${(e as Error).message}`);
      process.exitCode = 2;
      return;
    }
    const attach = new TerminalAttach({
      carrier: agent,
      log,
      token,
      ...(session ? { sessionId: session } : {}),
      ...(flags.list ? { list: true } : {}),
      term: flags.term,
      input: process.stdin,
      output: process.stdout,
    });
    // Every way out restores the terminal (run() does, and so does this last resort).
    process.once("exit", () => process.stdin.isTTY && process.stdin.setRawMode(false));
    for (const signal of ["SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(1));
    const code = await attach.run();
    await agent.stop();
    process.exit(code);
  });
}
