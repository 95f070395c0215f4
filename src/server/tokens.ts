/**
 * Accepted client tokens: one per line in a file, blank lines and `#` comments ignored. A token may
 * be followed by a name after ` #` (`TOKEN # alice's laptop`), which the log gives for the
 * sessions opened with it. Tokens are compared as SHA-256 digests with a constant-time compare
 * against every entry, so neither the content nor the length of a guess leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readSetting } from "../ops/read-setting.js";

export interface TokenLine {
  token: string;
  /** What follows ` #` on the token's line, if anything. */
  name?: string;
}

/** An accepted token as a session keeps it: its digest (never the token) and its name. */
export interface TokenEntry {
  digest: Buffer;
  name?: string;
}

/** The log field that names a token, when the token file gives it a name (never the token). */
export function tokenNameField(name: string | undefined): { tokenName?: string } {
  return name === undefined ? {} : { tokenName: name };
}

/**
 * The tokens of a token file's text, in order. A name may follow only a token without spaces: a
 * line of several words, which earlier versions took whole as the token, keeps that meaning even
 * when a word starts with `#` (taking its first words alone would weaken it, and log the rest).
 */
export function tokenLines(text: string): TokenLine[] {
  const out: TokenLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const named = /^(\S+)\s+#\s*(.*)$/.exec(line);
    const name = named?.[2];
    out.push(named ? { token: named[1] as string, ...(name ? { name } : {}) } : { token: line });
  }
  return out;
}

export class TokenSet {
  private readonly entries: TokenEntry[];

  constructor(tokens: readonly TokenLine[]) {
    if (tokens.length === 0) throw new Error("the token list is empty: no client could ever connect");
    this.entries = tokens.map(({ token, name }) => ({
      digest: digest(token),
      ...(name === undefined ? {} : { name }),
    }));
  }

  static fromFile(path: string): TokenSet {
    const text = readSetting("tokens", path); // its errors name the setting and the file already
    try {
      return new TokenSet(tokenLines(text));
    } catch (err) {
      throw new Error(`tokens (${path}): ${(err as Error).message}`, { cause: err });
    }
  }

  accepts(token: Uint8Array): boolean {
    return this.match(token) !== undefined;
  }

  /**
   * The entry this set holds for `token`, or undefined if it is not accepted. Sessions keep it (see
   * `digest`); handing out this set's own entry lets all the sessions of one token share it.
   */
  match(token: Uint8Array): TokenEntry | undefined {
    return this.entryOf(digest(token));
  }

  /** The SHA-256 digest of a token, kept by a session so that a revoked token can end it. */
  static digest(token: Uint8Array): Buffer {
    return digest(token);
  }

  acceptsDigest(d: Buffer): boolean {
    return this.entryOf(d) !== undefined;
  }

  /** The entry for a token's digest (with the name this set gives it), or undefined. */
  entryOf(d: Buffer): TokenEntry | undefined {
    let found: TokenEntry | undefined;
    for (const known of this.entries) if (timingSafeEqual(known.digest, d)) found = known;
    return found;
  }
}

function digest(token: string | Uint8Array): Buffer {
  return createHash("sha256").update(token).digest();
}
