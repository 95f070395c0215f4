/**
 * Accepted client tokens: one per line in a file, blank lines and `#` comments ignored. Tokens
 * are compared as SHA-256 digests with a constant-time compare against every entry, so neither
 * the content nor the length of a guess leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readSetting } from "../ops/read-setting.js";

export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new Error("the token list is empty: no client could ever connect");
    this.digests = tokens.map(digest);
  }

  static fromFile(path: string): TokenSet {
    const tokens = readSetting("tokens", path)
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    try {
      return new TokenSet(tokens);
    } catch (err) {
      throw new Error(`tokens (${path}): ${(err as Error).message}`, { cause: err });
    }
  }

  accepts(token: Uint8Array): boolean {
    return this.match(token) !== undefined;
  }

  /**
   * The digest this set holds for `token`, or undefined if it is not accepted. Sessions keep it (see
   * `digest`); handing out this set's own copy lets all the sessions of one token share it.
   */
  match(token: Uint8Array): Buffer | undefined {
    const d = digest(token);
    let found: Buffer | undefined;
    for (const known of this.digests) if (timingSafeEqual(known, d)) found = known;
    return found;
  }

  /** The SHA-256 digest of a token, kept by a session so that a revoked token can end it. */
  static digest(token: Uint8Array): Buffer {
    return digest(token);
  }

  acceptsDigest(d: Buffer): boolean {
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(known, d) || ok;
    return ok;
  }
}

function digest(token: string | Uint8Array): Buffer {
  return createHash("sha256").update(token).digest();
}
