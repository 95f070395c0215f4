/**
 * Entry point of the bench's own child processes: `node child.js ROLE ARGS...`. Each role starts,
 * prints its "listening" line on stderr when it has a port, and answers commands over IPC
 * ({ id, cmd, ... } → { id, ok, value | error }). A child exits when its parent goes away.
 */
import { clientsChild } from "./clients.js";
import { pipeClientChild, pipeServerChild } from "./pipe-relay.js";
import { proxyChild } from "./proxy.js";
import { targetChild } from "./target.js";

type Handlers = Record<string, (command: never) => unknown>;

const roles: Record<string, (args: string[]) => Promise<Handlers>> = {
  target: targetChild,
  proxy: proxyChild,
  clients: clientsChild,
  "pipe-server": pipeServerChild,
  "pipe-client": pipeClientChild,
};

const [role = "", ...args] = process.argv.slice(2);
const start = roles[role];
if (!start) {
  process.stderr.write(`unknown role ${JSON.stringify(role)}; one of ${Object.keys(roles).join(", ")}\n`);
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));
process.once("SIGTERM", () => process.exit(0));
const handlers = await start(args);
process.on("message", (message: { id: number; cmd: string }) => {
  const reply = (body: object): void => void process.send?.({ id: message.id, ...body });
  const handler = handlers[message.cmd];
  if (!handler) return reply({ ok: false, error: `${role} has no command ${message.cmd}` });
  Promise.resolve()
    .then(() => handler(message as never))
    .then(
      (value) => reply({ ok: true, value }),
      (err: Error) => reply({ ok: false, error: err.stack ?? String(err) }),
    );
});
