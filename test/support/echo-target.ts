/** A test target: echoes every connection on 127.0.0.1:PORT (half-close respected). Prints "ready". */
import { createServer } from "node:net";

const server = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));
