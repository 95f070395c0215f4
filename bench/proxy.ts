/**
 * A TCP proxy that breaks links the ways networks do: `cut` resets every connection (both ends see
 * the link die), `down` refuses new ones (an outage), `blackhole` stops forwarding on the open ones
 * without closing anything (a silently dead link: only a keepalive can tell). Upstream connections
 * can be spread over many loopback source addresses, so that a server's per-address limits see many
 * clients, as they would in the field.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { announce } from "./target.js";

interface Pair {
  client: Socket;
  upstream: Socket;
  blackholed: boolean;
}

export class CutProxy {
  readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private next = 0;
  /** While true, new connections are closed at once. */
  down = false;

  constructor(
    private readonly targetPort: number,
    private readonly sources: readonly string[] = [],
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  listen(host = "127.0.0.1"): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen({ port: 0, host, backlog: 4096 }, () =>
        resolve((this.server.address() as AddressInfo).port),
      ),
    );
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Resets every open connection, both sides; returns how many there were. */
  cut(): number {
    const n = this.pairs.size;
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.pairs.clear();
    return n;
  }

  /** From now on the open connections forward nothing and close nothing; new ones work normally. */
  blackhole(): number {
    for (const pair of this.pairs) pair.blackholed = true;
    return this.pairs.size;
  }

  close(): void {
    this.cut();
    this.server.close();
  }

  private accept(client: Socket): void {
    if (this.down) {
      client.resetAndDestroy();
      return;
    }
    const localAddress =
      this.sources.length > 0 ? this.sources[this.next++ % this.sources.length] : undefined;
    const upstream = connect({
      port: this.targetPort,
      host: "127.0.0.1",
      ...(localAddress ? { localAddress } : {}),
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream, blackholed: false };
    this.pairs.add(pair);
    forward(pair, client, upstream);
    forward(pair, upstream, client);
    const drop = (): void => {
      // A dead link closes nothing: each endpoint must find out by itself.
      if (pair.blackholed) {
        if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
        return;
      }
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  }
}

function forward(pair: Pair, from: Socket, to: Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (pair.blackholed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
}

/**
 * As a child process (child.ts): `proxy TARGET_PORT FIRST_SOURCE COUNT` forwards to
 * 127.0.0.1:TARGET_PORT from COUNT source addresses starting at FIRST_SOURCE (e.g. 127.1.0.1).
 */
export async function proxyChild(args: string[]): Promise<Record<string, () => unknown>> {
  const [targetPort, first, count] = args;
  const proxy = new CutProxy(Number(targetPort), loopbackRange(first ?? "127.1.0.1", Number(count ?? 0)));
  announce(await proxy.listen());
  return {
    cut: () => ({ cut: proxy.cut(), at: Date.now() }),
    open: () => proxy.open,
  };
}

/** `count` consecutive IPv4 loopback addresses from `first` (skipping .0 and .255 in the last byte). */
export function loopbackRange(first: string, count: number): string[] {
  const out: string[] = [];
  let n = first.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
  while (out.length < count) {
    const last = n & 255;
    if (last !== 0 && last !== 255) out.push([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, last].join("."));
    n++;
  }
  return out;
}
