/**
 * Network probes for `lifeline doctor`: what a client's connection would meet, measured and
 * classified, and nothing changed on the way. No known-hosts entry is written, no token is sent to
 * a server that failed verification, and no channel is opened, so no target connection is made.
 */
import { connect } from "node:net";
import type { TLSSocket } from "node:tls";
import {
  AuthMethod,
  codeFromWire,
  concatBytes,
  DEFAULT_LIMITS,
  encodeFrameBytes,
  encodePreamble,
  FrameDecoder,
  MAGIC,
  PREAMBLE_SIZE,
  PROTOCOL_VERSION,
  readU16,
  WIRE_CODES,
  type ErrorCode,
  type ServerParams,
} from "../core/index.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { fingerprintOfDer } from "../ops/fingerprint.js";
import { openTls, UnreachableError } from "./dialer.js";
import { checkPeer, SecurityError, type Verification } from "./verify.js";

/** A TCP port: reachable with the median connect time of the attempts, or the code that stopped it. */
export type TcpProbe =
  { reachable: true; rttMs: number; samplesMs: number[] } | { reachable: false; code: string };

/**
 * Times `attempts` TCP connects (SYN to SYN/ACK, name lookup excluded) one after the other. The
 * first connect that fails makes the port unreachable; `code` is its errno, or TIMEOUT.
 */
export async function probeTcp(server: HostPort, timeoutMs: number, attempts = 3): Promise<TcpProbe> {
  const samplesMs: number[] = [];
  for (let i = 0; i < attempts; i++) {
    try {
      samplesMs.push(await connectTime(server, timeoutMs));
    } catch (err) {
      return { reachable: false, code: (err as UnreachableError).code };
    }
  }
  return { reachable: true, rttMs: median(samplesMs), samplesMs };
}

function connectTime(server: HostPort, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let started = performance.now();
    // Each address tried (after the name lookup) restarts the clock: only the last SYN counts.
    socket.on("connectionAttempt", () => (started = performance.now()));
    const finish = (err?: Error): void => {
      const elapsed = performance.now() - started;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(elapsed);
    };
    const timer = setTimeout(
      () => finish(new UnreachableError(`${formatHostPort(server)}: no answer`, "TIMEOUT")),
      timeoutMs,
    );
    socket.once("connect", () => finish());
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish(new UnreachableError(`${formatHostPort(server)}: ${err.message}`, errnoOf(err))),
    );
  });
}

/** The errno of a failed connect; with several addresses tried, that of the first. */
function errnoOf(err: NodeJS.ErrnoException): string {
  if (err.code) return err.code;
  const first = (err as Partial<AggregateError>).errors?.[0] as NodeJS.ErrnoException | undefined;
  return first?.code ?? "ERROR";
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export interface CertificateFacts {
  fingerprint: string;
  /** The subject's common name, when it has one. */
  subject: string | undefined;
  validTo: Date;
}

export type TlsProbe =
  | { ok: false; code: string }
  | {
      ok: true;
      /** Still open: for probeHandshake, or to be closed with closeLink. */
      socket: TLSSocket;
      handshakeMs: number;
      protocol: string;
      certificate: CertificateFacts | undefined;
      /** What `lifeline connect` would make of the certificate; `reason` says why it must not be trusted. */
      trust: { ok: true; firstUse: boolean } | { ok: false; reason: string };
    };

/** Sets up TLS and judges the server's certificate as connect would, but never records trust. */
export async function probeTls(
  server: HostPort,
  verification: Verification,
  timeoutMs: number,
): Promise<TlsProbe> {
  let link;
  try {
    link = await openTls(server, verification, timeoutMs);
  } catch (err) {
    return { ok: false, code: (err as UnreachableError).code };
  }
  const { socket, handshakeMs } = link;
  const cert = socket.getPeerCertificate();
  const certificate: CertificateFacts | undefined = cert.raw
    ? {
        fingerprint: fingerprintOfDer(cert.raw),
        subject: typeof cert.subject?.CN === "string" ? cert.subject.CN : undefined,
        validTo: new Date(cert.valid_to),
      }
    : undefined;
  let trust: { ok: true; firstUse: boolean } | { ok: false; reason: string };
  try {
    trust = { ok: true, firstUse: checkPeer(socket, server, verification).firstUse };
  } catch (err) {
    if (!(err instanceof SecurityError)) {
      socket.destroy();
      throw err;
    }
    trust = { ok: false, reason: err.message };
  }
  return { ok: true, socket, handshakeMs, protocol: socket.getProtocol() ?? "unknown", certificate, trust };
}

export interface HandshakeProbe {
  /** The version in the server's preamble, once all of it arrived. */
  version: number | undefined;
  /** The server's first bytes are not the lifeline magic: something else listens on this port. */
  notLifeline: boolean;
  /** The server's answer to HELLO (only when a token was sent). */
  answer:
    | { kind: "welcome"; params: ServerParams }
    | { kind: "close"; code: ErrorCode; wireCode: number; reason: string }
    | undefined;
  /** Why the exchange stopped short: no answer in time, the connection closed, a bad frame. */
  failure: string | undefined;
}

/**
 * Sends the preamble, and HELLO with `token` when there is one; reads the server's preamble and
 * its answer (WELCOME or CLOSE). A session that was accepted is closed at once with CLOSE NORMAL,
 * so the server discards it; nothing else is ever sent. The socket is closed before this returns.
 */
export async function probeHandshake(
  socket: TLSSocket,
  token: string | undefined,
  timeoutMs: number,
): Promise<HandshakeProbe> {
  const result: HandshakeProbe = {
    version: undefined,
    notLifeline: false,
    answer: undefined,
    failure: undefined,
  };
  const decoder = new FrameDecoder({ expectPreamble: true });
  const head: number[] = [];
  await new Promise<void>((resolve) => {
    const stop = (failure?: string): void => {
      if (failure && !result.failure) result.failure = failure;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      resolve();
    };
    const onClose = (): void => stop("the server closed the connection without answering");
    const onData = (chunk: Buffer): void => {
      for (const byte of chunk.subarray(0, PREAMBLE_SIZE - head.length)) {
        if (head.length < MAGIC.length && byte !== MAGIC[head.length]) {
          result.notLifeline = true;
          return stop();
        }
        head.push(byte);
      }
      if (head.length === PREAMBLE_SIZE) {
        result.version = readU16(Uint8Array.from(head), MAGIC.length);
        if (result.version !== PROTOCOL_VERSION || !token) return stop();
      }
      try {
        // The decoder reads the preamble again (its magic and version are known good by now).
        const [frame] = decoder.push(chunk);
        if (!frame) return;
        if (frame.kind === "welcome") {
          const { sessionTimeoutMs, keepaliveIntervalMs, deadAfterMs, maxChannels } = frame;
          result.answer = {
            kind: "welcome",
            params: { sessionTimeoutMs, keepaliveIntervalMs, deadAfterMs, maxChannels },
          };
        } else if (frame.kind === "close") {
          const code = codeFromWire(frame.code, "PROTOCOL_ERROR");
          result.answer = { kind: "close", code, wireCode: frame.code, reason: frame.reason };
        } else {
          result.failure = `the server answered HELLO with ${frame.kind.toUpperCase()}`;
        }
      } catch (err) {
        result.failure = `the server's answer is not valid lifeline: ${(err as Error).message}`;
      }
      stop();
    };
    const timer = setTimeout(
      () => stop(`no ${token ? "answer to HELLO" : "lifeline greeting"} within ${timeoutMs} ms`),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", () => undefined); // the close that follows says it
    const hello = token
      ? [
          encodeFrameBytes({
            kind: "hello",
            receiveWindow: DEFAULT_LIMITS.receiveWindow,
            authMethod: AuthMethod.BearerToken,
            authData: new TextEncoder().encode(token),
          }),
        ]
      : [];
    socket.write(concatBytes([encodePreamble(PROTOCOL_VERSION), ...hello]));
  });
  const bye =
    result.answer?.kind === "welcome"
      ? encodeFrameBytes({ kind: "close", code: WIRE_CODES.NORMAL, reason: "lifeline doctor: check done" })
      : undefined;
  await closeLink(socket, bye);
  return result;
}

/** Ends a link (after writing `last`) and waits for it to close, for at most a second. */
export function closeLink(socket: TLSSocket, last?: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) return resolve();
    const timer = setTimeout(() => socket.destroy(), 1000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => socket.destroy());
    if (last) socket.end(last);
    else socket.end();
  });
}
