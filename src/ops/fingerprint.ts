/**
 * Certificate fingerprints: SHA-256 of the certificate's DER encoding. Written as
 * `sha256:<base64>`; the colon-separated hex that `openssl x509 -fingerprint -sha256` prints is
 * accepted as input too.
 */
import { createHash, X509Certificate } from "node:crypto";

export function fingerprintOfDer(der: Uint8Array): string {
  return `sha256:${createHash("sha256").update(der).digest("base64")}`;
}

export function fingerprintOfPem(pem: string | Buffer): string {
  return fingerprintOfDer(new X509Certificate(pem).raw);
}

/** Normalises a pin given as `sha256:<base64>` or as (colon-separated) hex; throws on anything else. */
export function parsePin(text: string): string {
  const trimmed = text.trim();
  const b64 = /^sha256:([A-Za-z0-9+/]{43}=)$/.exec(trimmed);
  if (b64) return `sha256:${b64[1]}`;
  const hex = trimmed.replace(/^sha256[:=]/i, "").replace(/:/g, "");
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return `sha256:${Buffer.from(hex, "hex").toString("base64")}`;
  throw new Error(
    `not a SHA-256 pin: ${JSON.stringify(text)} (expected sha256:<base64> or the hex that openssl x509 -fingerprint -sha256 prints)`,
  );
}
