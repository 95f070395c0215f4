/** Starting a TCP listener: the one way every role binds its port and says so. */
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
  const bound = await new Promise<AddressInfo>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
  log.info("listening", `${doing} ${formatHostPort({ host: bound.address, port: bound.port })}`, {
    address: bound.address,
    port: bound.port,
    ...fields,
  });
  return bound;
}
