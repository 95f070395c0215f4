/**
 * The admin endpoints of a running role, over HTTP:
 * - `--metrics HOST:PORT`: `/metrics` (Prometheus) and `/healthz` (for load balancers), safe to
 *   expose to a monitoring network: no session ids, no addresses;
 * - the admin socket, a Unix socket in a 0700 directory (mode 0600): the same, plus `/status`, the
 *   session list `lifeline status` prints. File permissions are its credential.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { dirname } from "node:path";
import { formatHostPort, type HostPort } from "./address.js";
import { bind } from "./listen.js";
import type { LifelineMetrics } from "./metrics.js";
import type { Health, StatusReport } from "./status-report.js";

export interface AdminSource {
  metrics: LifelineMetrics;
  health(): Health;
  status(): StatusReport;
}

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes, with the terminating NUL). */
const MAX_SOCKET_PATH = 107;

export class AdminServer {
  private readonly servers: Server[] = [];
  private socketPath: string | undefined;

  constructor(private readonly source: AdminSource) {}

  /** Serves /metrics and /healthz on a TCP address; resolves with the bound address. */
  async listenHttp(address: HostPort): Promise<AddressInfo> {
    const server = this.serve(false);
    await bind(
      server,
      () => server.listen(address.port, address.host),
      `${formatHostPort(address)} (--metrics)`,
    );
    return server.address() as AddressInfo;
  }

  /** Serves /status, /metrics and /healthz on a Unix socket only its owner can open. */
  async listenSocket(path: string): Promise<void> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH)
      throw new Error(`admin socket path is longer than ${MAX_SOCKET_PATH} bytes: ${path}`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700); // the directory is what keeps others from connecting
    const existing = lstatSync(path, { throwIfNoEntry: false });
    if (existing && !existing.isSocket())
      throw new Error(`admin socket path ${path} exists and is not a socket; not replacing it`);
    if (existing && (await answers(path)))
      throw new Error(`admin socket ${path} is in use by another running process`);
    if (existing) unlinkSync(path); // left behind by a process that did not exit cleanly
    const server = this.serve(true);
    await bind(server, () => server.listen(path), `${path} (--admin-socket)`);
    chmodSync(path, 0o600);
    this.socketPath = path;
  }

  close(): void {
    for (const server of this.servers) server.close();
    this.servers.length = 0;
    if (this.socketPath) {
      try {
        unlinkSync(this.socketPath);
      } catch {
        // already gone
      }
      this.socketPath = undefined;
    }
  }

  private serve(withStatus: boolean): Server {
    const server = createServer((request, response) => {
      this.route(request, response, withStatus).catch((err: Error) => reply(response, 500, err.message));
    });
    // Whoever can reach the metrics port must not be able to hold descriptors the service needs.
    server.maxConnections = 64;
    server.headersTimeout = 5000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5000;
    server.unref();
    this.servers.push(server);
    return server;
  }

  private async route(
    request: IncomingMessage,
    response: ServerResponse,
    withStatus: boolean,
  ): Promise<void> {
    if (request.method !== "GET" && request.method !== "HEAD") return reply(response, 405, "GET only\n");
    const path = new URL(request.url ?? "/", "http://admin").pathname;
    if (path === "/metrics") {
      const { contentType, body } = await this.source.metrics.render();
      return reply(response, 200, body, contentType);
    }
    if (path === "/healthz") {
      const health = this.source.health();
      return json(response, health.healthy ? 200 : 503, health);
    }
    if (path === "/status" && withStatus) return json(response, 200, this.source.status());
    reply(response, 404, `no such endpoint: ${path}\n`);
  }
}

function reply(
  response: ServerResponse,
  code: number,
  body: string,
  type = "text/plain; charset=utf-8",
): void {
  response.writeHead(code, { "content-type": type, "cache-control": "no-store" });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

function json(response: ServerResponse, code: number, value: unknown): void {
  reply(response, code, `${JSON.stringify(value)}\n`, "application/json");
}

/** True when something accepts connections on the Unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
