/**
 * First start without a certificate or a token file: create them in the state directory, keep
 * them, and say where they are. The service therefore runs with one command, and never
 * unauthenticated.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { hostname, homedir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { generate } from "selfsigned";
import { fingerprintOfDer } from "../ops/fingerprint.js";
import { readSetting } from "../ops/read-setting.js";

export interface Certificate {
  cert: string;
  key: string;
  fingerprint: string;
  /** The end of its validity (of the first certificate in the file: the server's own). */
  validTo: Date;
  certPath: string;
  created: boolean;
}

/** `$LIFELINE_STATE_DIR`, else `$XDG_STATE_HOME/lifeline`, else `~/.local/state/lifeline`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIFELINE_STATE_DIR) return env.LIFELINE_STATE_DIR;
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "lifeline");
}

/** Where the state directory keeps the generated certificate, its key and the token file. */
export function stateFiles(stateDir: string): { cert: string; key: string; tokens: string } {
  return {
    cert: join(stateDir, "server.crt"),
    key: join(stateDir, "server.key"),
    tokens: join(stateDir, "tokens"),
  };
}

/** Reads a certificate and its key, and checks that they are PEM and belong together. */
export function loadCertificate(certPath: string, keyPath: string): Certificate {
  const cert = readSetting("cert", certPath);
  const key = readSetting("key", keyPath);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(
      `cert (${certPath}) and key (${keyPath}) are not a usable pair: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { cert, key, ...describe(cert), certPath, created: false };
}

/** The state directory's certificate, created (self-signed, EC P-256, 10 years) if missing. */
export async function ensureCertificate(
  stateDir: string,
  extraNames: readonly string[] = [],
): Promise<Certificate> {
  const { cert: certPath, key: keyPath } = stateFiles(stateDir);
  if (existsSync(certPath) && existsSync(keyPath)) return loadCertificate(certPath, keyPath);
  prepareDir(stateDir);
  const names = [...new Set(["localhost", hostname(), ...extraNames])];
  const notAfterDate = new Date();
  notAfterDate.setFullYear(notAfterDate.getFullYear() + 10);
  const pems = await generate([{ name: "commonName", value: hostname() }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          { type: 7 as const, ip: "127.0.0.1" },
          { type: 7 as const, ip: "::1" },
        ],
      },
    ],
  });
  writePrivate(keyPath, pems.private);
  writePrivate(certPath, pems.cert, 0o644);
  return {
    cert: pems.cert,
    key: pems.private,
    ...describe(pems.cert),
    certPath,
    created: true,
  };
}

function describe(pem: string): { fingerprint: string; validTo: Date } {
  const x509 = new X509Certificate(pem);
  return { fingerprint: fingerprintOfDer(x509.raw), validTo: new Date(x509.validTo) };
}

/** The state directory's token file, created with one random token (mode 0600) if missing. */
export function ensureTokenFile(stateDir: string): { path: string; created: boolean } {
  const path = stateFiles(stateDir).tokens;
  if (existsSync(path)) return { path, created: false };
  prepareDir(stateDir);
  const token = randomBytes(32).toString("base64url");
  writePrivate(
    path,
    `# lifeline client tokens, one per line, each optionally followed by " # its name".\n# Give a client its token with --token-file.\n${token}\n`,
  );
  return { path, created: true };
}

function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Writes atomically (temporary file, then rename) so a crash or a full disk never leaves half a key. */
function writePrivate(path: string, content: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
