/**
 * Opens one TLS link to the server and verifies the server's identity before anything is sent.
 * Failures are classified: `UnreachableError` (refused, unreachable, timed out: fallback is
 * allowed) or `SecurityError` (wrong certificate: never fall back, or an attacker who blocks the
 * reliability port could downgrade everyone).
 */
import { isIP } from "node:net";
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { addressWatch, type AddressWatch } from "./address-watch.js";
import { verifyPeer, type Verification } from "./verify.js";

/**
 * One TLS context per trust configuration, reused by every dial: building one (and loading the CA
 * bundle) on each reconnect costs a client more than the handshake itself in a reconnect storm.
 */
const contexts = new WeakMap<Verification, SecureContext>();

function contextFor(verification: Verification): SecureContext {
  let context = contexts.get(verification);
  if (!context) {
    context = createSecureContext({
      minVersion: "TLSv1.3",
      ...(verification.mode === "ca" ? { ca: verification.ca } : {}),
    });
    contexts.set(verification, context);
  }
  return context;
}

/**
 * Once TCP is up, the TLS handshake may take this many times the dial timeout: a server in a
 * reconnect storm holds new connections until their turn rather than refusing them.
 */
export const TLS_WAIT_FACTOR = 3;

/**
 * How long a dial that resumes a session waits for TLS once TCP is up (at least): as long as `serve`
 * may keep a connection waiting for its turn (60 s). A resuming client that gave up sooner only
 * started again at the back of the queue, and each new attempt cost both sides a connection and a
 * TLS start: 5,600 abandoned dials in a 10,000-session storm at three times the dial timeout (15 s).
 * Starting another attempt beside the waiting one instead made that storm take 57 s instead of 37:
 * in a storm every client waits. The price: a connection lost between TCP and TLS (the client moved
 * to another address in between) holds the resume up to this long. A first connection keeps the
 * shorter wait, so that a port that accepts TCP but never speaks TLS leads to the fallback soon.
 */
export const RESUME_TLS_WAIT_MS = 60_000;

/** What stopped a connection: `code` is the errno (ECONNREFUSED, ...), a TLS error code, or TIMEOUT. */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
  constructor(
    message: string,
    readonly code = "UNREACHABLE",
  ) {
    super(message);
  }
}

export interface DialResult {
  socket: TLSSocket;
  /** Set when a host was trusted on first use. */
  note: string | undefined;
}

export interface TlsLink {
  /** Connected, TLS done, the server's certificate not yet checked. */
  socket: TLSSocket;
  /** Milliseconds from the TCP connection being up to the TLS handshake being done. */
  handshakeMs: number;
}

/**
 * Connects TCP within `timeoutMs`, then TLS within `tlsWaitMs` (TLS_WAIT_FACTOR times `timeoutMs`
 * unless given), without judging the server's certificate: that is for checkPeer or verifyPeer, so
 * that their failures are told apart from network ones. Once TCP is up, the attempt is given up
 * within a second if its local address leaves the machine (`watch`).
 */
export function openTls(
  server: HostPort,
  verification: Verification,
  timeoutMs: number,
  tlsWaitMs = TLS_WAIT_FACTOR * timeoutMs,
  watch: AddressWatch = addressWatch,
): Promise<TlsLink> {
  return new Promise((resolve, reject) => {
    const servername = isIP(server.host) ? undefined : server.host;
    const socket = connect({
      host: server.host,
      port: server.port,
      ...(servername ? { servername } : {}),
      secureContext: contextFor(verification),
      rejectUnauthorized: false,
    });
    let connectedAt = performance.now();
    /** Counts the steps done (TCP, TLS): a timeout stands only if no step was done since it was set. */
    let step = 0;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    // Node runs due timers before it reads the sockets: after a busy stretch (a process with many
    // sessions in a reconnect storm), a connection that came up in time would be judged late. So
    // the verdict waits until this turn of the event loop has read them (setImmediate).
    const giveUp = (ms: number, what: string): NodeJS.Timeout => {
      const at = step;
      return setTimeout(
        () =>
          setImmediate(() => {
            if (step !== at) return;
            fail(new UnreachableError(`${formatHostPort(server)}: ${what} within ${ms} ms`, "TIMEOUT"));
          }),
        ms,
      );
    };
    let timer = giveUp(timeoutMs, "no TCP connection");
    let unwatch = (): void => undefined;
    socket.once("connect", () => {
      step++;
      connectedAt = performance.now();
      clearTimeout(timer);
      timer = giveUp(tlsWaitMs, "connected, but no TLS handshake");
      // A resume may wait long for TLS (a server in a storm keeps it queued); a move to another
      // network during that wait must not hold it there.
      unwatch = watch.watch(socket, () =>
        fail(
          new UnreachableError(
            `${formatHostPort(server)}: the local address ${socket.localAddress} left this machine before TLS completed`,
            "ADDRESS_GONE",
          ),
        ),
      );
    });
    socket.once("close", () => unwatch());
    socket.once("error", (err: NodeJS.ErrnoException) =>
      fail(new UnreachableError(`${formatHostPort(server)}: ${err.code ?? err.message}`, err.code)),
    );
    socket.once("secureConnect", () => {
      step++;
      unwatch();
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve({ socket, handshakeMs: performance.now() - connectedAt });
    });
  });
}

/** Connects like openTls and verifies the server. */
export async function dial(
  server: HostPort,
  verification: Verification,
  timeoutMs: number,
  tlsWaitMs?: number,
): Promise<DialResult> {
  const { socket } = await openTls(server, verification, timeoutMs, tlsWaitMs);
  try {
    const note = verifyPeer(socket, server, verification);
    socket.setNoDelay(true);
    return { socket, note };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
