/** Where a client finds its token: --token-file, else LIFELINE_TOKEN, else the token a local server generated. */
import { existsSync, readFileSync } from "node:fs";
import { stateFiles } from "../server/credentials.js";
import { tokenLines } from "../server/tokens.js";

/** The token of the first line of `path` that is neither blank nor a comment (without its name). */
function firstToken(path: string): string | undefined {
  return tokenLines(readFileSync(path, "utf8"))[0]?.token;
}

/** The client token, or undefined when none is configured anywhere. */
export function findToken(tokenFile: string | undefined, stateDir: string): string | undefined {
  if (tokenFile) {
    const token = firstToken(tokenFile);
    if (!token) throw new Error(`${tokenFile} holds no token`);
    return token;
  }
  if (process.env.LIFELINE_TOKEN) return process.env.LIFELINE_TOKEN;
  const local = stateFiles(stateDir).tokens;
  return existsSync(local) ? firstToken(local) : undefined;
}
