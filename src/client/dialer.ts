/**
 * Opens one TLS link to the server and verifies the server's identity before anything is sent.
 * Failures are classified: `UnreachableError` (refused, unreachable, timed out: fallback is
 * allowed) or `SecurityError` (wrong certificate: never fall back, or an attacker who blocks the
 * reliability port could downgrade everyone).
 */
import { isIP } from "node:net";
import { checkServerIdentity, connect, type TLSSocket } from "node:tls";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { SecurityError, verifyPeer, type Verification } from "./verify.js";

export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

export interface DialResult {
  socket: TLSSocket;
  /** Set when a host was trusted on first use. */
  note: string | undefined;
}

/** Connects within `timeoutMs` (TCP and TLS together). */
export function dial(server: HostPort, verification: Verification, timeoutMs: number): Promise<DialResult> {
  return new Promise((resolve, reject) => {
    const servername = isIP(server.host) ? undefined : server.host;
    const socket = connect({
      host: server.host,
      port: server.port,
      ...(servername ? { servername } : {}),
      ...(verification.mode === "ca" ? { ca: verification.ca } : {}),
      minVersion: "TLSv1.3",
      // Verification is done below, for every mode, so that its failures are told apart from network ones.
      rejectUnauthorized: false,
    });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new UnreachableError(`${formatHostPort(server)}: no TLS connection within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("error", (err: NodeJS.ErrnoException) =>
      fail(new UnreachableError(`${formatHostPort(server)}: ${err.code ?? err.message}`)),
    );
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      try {
        if (verification.mode === "ca") {
          if (!socket.authorized)
            throw new SecurityError(`server certificate not trusted: ${String(socket.authorizationError)}`);
          const identity = checkServerIdentity(servername ?? server.host, socket.getPeerCertificate());
          if (identity)
            throw new SecurityError(`server certificate does not match ${server.host}: ${identity.message}`);
        }
        const note = verifyPeer(socket, server, verification);
        socket.removeAllListeners("error");
        socket.setNoDelay(true);
        resolve({ socket, note });
      } catch (err) {
        fail(err as Error);
      }
    });
  });
}
