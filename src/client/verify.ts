/**
 * How the client decides it is talking to the right server, before it sends its token:
 * - `ca`: a CA bundle (or the server's own self-signed certificate) with normal name checks;
 * - `pin`: the SHA-256 fingerprints of the certificates the server may present (several during a
 *   certificate rotation: the old one and the new one);
 * - `tofu`: trust on first use, remembered in a known-hosts file, as ssh does. A changed
 *   certificate is a hard error.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkServerIdentity, type TLSSocket } from "node:tls";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { fingerprintOfDer } from "../ops/fingerprint.js";
import { readSetting } from "../ops/read-setting.js";

export type Verification =
  | { mode: "ca"; ca: string }
  | { mode: "pin"; pins: readonly string[] }
  | { mode: "tofu"; knownHosts: string };

/** A failure that must never lead to fallback: someone may be impersonating the server. */
export class SecurityError extends Error {
  override readonly name = "SecurityError";
}

/** The trust flags a client command takes; `ca` or pins, not both, else trust on first use. */
export interface TrustFlags {
  ca?: string;
  pin?: readonly string[];
  knownHosts?: string;
  stateDir: string;
}

/** Turns the trust flags into a Verification (reads the CA file); throws on bad input. */
export function chooseVerification(flags: TrustFlags): Verification {
  const pins = flags.pin ?? [];
  if (flags.ca && pins.length > 0) throw new Error("give --ca or --pin, not both");
  if (flags.ca) return { mode: "ca", ca: readSetting("ca", flags.ca) };
  if (pins.length > 0) return { mode: "pin", pins };
  return { mode: "tofu", knownHosts: flags.knownHosts ?? join(flags.stateDir, "known_hosts") };
}

export interface PeerCheck {
  /** The SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
  /** Trust on first use only: the server is not in the known-hosts file yet. */
  firstUse: boolean;
}

/**
 * Checks the peer of a connected TLS socket (opened with the CA of a `ca` verification) against
 * `verification`, and writes nothing. Throws SecurityError when the server must not be trusted.
 */
export function checkPeer(socket: TLSSocket, server: HostPort, verification: Verification): PeerCheck {
  // Not getPeerCertificate(): it decodes every field and computes three fingerprints, a few percent
  // of a client's CPU when thousands of sessions resume at once; a pin needs only the DER bytes.
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new SecurityError("the server presented no certificate");
  const fingerprint = fingerprintOfDer(cert.raw);
  if (verification.mode === "ca") {
    if (!socket.authorized)
      throw new SecurityError(`server certificate not trusted: ${String(socket.authorizationError)}`);
    const identity = checkServerIdentity(server.host, cert.toLegacyObject());
    if (identity)
      throw new SecurityError(`server certificate does not match ${server.host}: ${identity.message}`);
    return { fingerprint, firstUse: false };
  }
  if (verification.mode === "pin") {
    if (!verification.pins.includes(fingerprint)) {
      throw new SecurityError(
        `certificate fingerprint mismatch for ${formatHostPort(server)}: expected ${verification.pins.join(" or ")}, got ${fingerprint}. Refusing to connect.`,
      );
    }
    return { fingerprint, firstUse: false };
  }
  const key = formatHostPort(server);
  const known = readKnownHosts(verification.knownHosts).get(key);
  if (known !== undefined && known !== fingerprint) {
    throw new SecurityError(
      `the certificate of ${key} CHANGED: ${verification.knownHosts} has ${known}, the server now presents ${fingerprint}. ` +
        `This could be an attack. If the change is expected, remove the line for ${key} from ${verification.knownHosts}.`,
    );
  }
  return { fingerprint, firstUse: known === undefined };
}

/** Checks the peer like checkPeer, and remembers a host trusted on first use; returns a note when it did. */
export function verifyPeer(
  socket: TLSSocket,
  server: HostPort,
  verification: Verification,
): string | undefined {
  const { fingerprint, firstUse } = checkPeer(socket, server, verification);
  if (!firstUse || verification.mode !== "tofu") return undefined;
  const key = formatHostPort(server);
  mkdirSync(dirname(verification.knownHosts), { recursive: true, mode: 0o700 });
  appendFileSync(verification.knownHosts, `${key} ${fingerprint}\n`, { mode: 0o600 });
  return `trusting ${key} on first use: ${fingerprint} (stored in ${verification.knownHosts})`;
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
