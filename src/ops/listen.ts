/** Starting a listener: the one way every role (and the admin endpoints) binds and says so. */
import type { AddressInfo, Server } from "node:net";
import { formatHostPort, type HostPort } from "./address.js";
import type { EventFields, EventLog } from "./log.js";

/**
 * Listens on `at` and logs `listening` with the bound address and `fields`; resolves with the
 * bound address (port 0 picks a free port), rejects on a bind error such as a port in use.
 */
export async function listenOn(
  server: Server,
  at: HostPort,
  log: EventLog,
  fields: EventFields,
  doing = "listening on",
): Promise<AddressInfo> {
  await bind(server, () => server.listen(at.port, at.host), formatHostPort(at));
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
