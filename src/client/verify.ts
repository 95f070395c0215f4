/**
 * How the client decides it is talking to the right server, before it sends its token:
 * - `ca`: a CA bundle (or the server's own self-signed certificate) with normal name checks;
 * - `pin`: the SHA-256 fingerprint of the server certificate;
 * - `tofu`: trust on first use, remembered in a known-hosts file, as ssh does. A changed
 *   certificate is a hard error.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { TLSSocket } from "node:tls";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { fingerprintOfDer } from "../ops/fingerprint.js";

export type Verification =
  { mode: "ca"; ca: string } | { mode: "pin"; pin: string } | { mode: "tofu"; knownHosts: string };

/** A failure that must never lead to fallback: someone may be impersonating the server. */
export class SecurityError extends Error {
  override readonly name = "SecurityError";
}

/** Checks the peer of a connected TLS socket; returns a note when a new host was trusted. */
export function verifyPeer(
  socket: TLSSocket,
  server: HostPort,
  verification: Verification,
): string | undefined {
  if (verification.mode === "ca") return undefined; // checked by TLS itself (rejectUnauthorized)
  const cert = socket.getPeerCertificate();
  if (!cert.raw) throw new SecurityError("the server presented no certificate");
  const seen = fingerprintOfDer(cert.raw);
  if (verification.mode === "pin") {
    if (seen !== verification.pin) {
      throw new SecurityError(
        `certificate fingerprint mismatch for ${formatHostPort(server)}: expected ${verification.pin}, got ${seen}. Refusing to connect.`,
      );
    }
    return undefined;
  }
  const key = formatHostPort(server);
  const known = readKnownHosts(verification.knownHosts).get(key);
  if (known === undefined) {
    mkdirSync(dirname(verification.knownHosts), { recursive: true, mode: 0o700 });
    appendFileSync(verification.knownHosts, `${key} ${seen}\n`, { mode: 0o600 });
    return `trusting ${key} on first use: ${seen} (stored in ${verification.knownHosts})`;
  }
  if (known !== seen) {
    throw new SecurityError(
      `the certificate of ${key} CHANGED: ${verification.knownHosts} has ${known}, the server now presents ${seen}. ` +
        `This could be an attack. If the change is expected, remove the line for ${key} from ${verification.knownHosts}.`,
    );
  }
  return undefined;
}

function readKnownHosts(path: string): Map<string, string> {
  const entries = new Map<string, string>();
  if (!existsSync(path)) return entries;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const [host, fingerprint] = line.trim().split(/\s+/);
    if (host && fingerprint && !host.startsWith("#")) entries.set(host, fingerprint);
  }
  return entries;
}
