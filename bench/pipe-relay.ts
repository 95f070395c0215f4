/**
 * The bare Node TLS pipe: plain → TLS → plain with nothing but stream pipes, in two small
 * processes. The floor of what a Node relay can do: no framing, no buffering for replay, no resume.
 *   pipe-server CERT KEY TARGET_PORT   TLS 1.3 in, TCP to 127.0.0.1:TARGET_PORT out
 *   pipe-client CA SERVER_PORT         TCP in, TLS 1.3 to 127.0.0.1:SERVER_PORT out (verified against CA)
 */
import { readFileSync } from "node:fs";
import {
  connect as tcpConnect,
  createServer as tcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from "node:net";
import { connect as tlsConnect, createSecureContext, createServer as tlsServer } from "node:tls";
import { announce } from "./target.js";

/** Pipes `a` and `b` into each other; either one failing or closing ends both. */
function join(a: Socket, b: Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b);
  b.pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", end).on("close", end);
  b.on("error", end).on("close", end);
}

/** The listen queue lifeline serve asks for too (the kernel caps it at net.core.somaxconn): a reconnect storm must not measure a short queue. */
function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen({ port: 0, host: "127.0.0.1", backlog: 65_535 }, () =>
      resolve((server.address() as AddressInfo).port),
    ),
  );
}

export async function pipeServerChild(args: string[]): Promise<Record<string, () => unknown>> {
  const [certFile, keyFile, targetPort] = args as [string, string, string];
  const server = tlsServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: "TLSv1.3" },
    (tls) => join(tls, tcpConnect(Number(targetPort), "127.0.0.1")),
  );
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  announce(await listen(server));
  return {};
}

export async function pipeClientChild(args: string[]): Promise<Record<string, () => unknown>> {
  const [caFile, serverPort] = args as [string, string];
  // One context for every connection, as lifeline connect keeps: building one per dial costs about 0.3 ms.
  const secureContext = createSecureContext({ ca: readFileSync(caFile), minVersion: "TLSv1.3" });
  const server = tcpServer((local) =>
    join(local, tlsConnect({ port: Number(serverPort), host: "127.0.0.1", secureContext })),
  );
  announce(await listen(server));
  return {};
}
