/** Starting a listener: the one way every role (and the admin endpoints) binds and says so. */
import type { AddressInfo, Server } from "node:net";
import { formatHostPort, type HostPort } from "./address.js";
import type { EventFields, EventLog } from "./log.js";

/**
 * Listens on `at` and logs `listening` with the bound address and `fields`; resolves with the
 * bound address (port 0 picks a free port), rejects on a bind error such as a port in use.
 * `backlog` bounds the connections the kernel holds until they are accepted (it caps the figure at
 * net.core.somaxconn); Node's default is 511.
 */
export async function listenOn(
  server: Server,
  at: HostPort,
  log: EventLog,
  fields: EventFields,
  options: { doing?: string; backlog?: number } = {},
): Promise<AddressInfo> {
  const { doing = "listening on", backlog } = options;
  await bind(server, () => server.listen({ port: at.port, host: at.host, backlog }), formatHostPort(at));
  const bound = server.address() as AddressInfo;
  log.info("listening", `${doing} ${formatHostPort({ host: bound.address, port: bound.port })}`, {
    address: bound.address,
    port: bound.port,
    ...fields,
  });
  return bound;
}

/** Runs `start` (a `listen` call) and resolves once bound; a bind error names `where` and its reason. */
export function bind(server: Server, start: () => void, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      const why = err.code === "EADDRINUSE" ? "address in use (EADDRINUSE)" : err.message;
      reject(new Error(`cannot listen on ${where}: ${why}`, { cause: err }));
    };
    server.once("error", failed);
    server.once("listening", () => {
      server.off("error", failed);
      resolve();
    });
    start();
  });
}
