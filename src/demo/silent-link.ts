/**
 * The demo's fault switch: a loopback relay between `attach` and `serve` that can go silent for a
 * while, like Wi-Fi between two wards: nothing is closed, bytes just stop arriving (in both
 * directions, on existing and new connections). Then it comes back, and whatever went silent is
 * dropped so the client's fresh connections carry on.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export class SilentLink {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private silentUntil = 0;
  private restoreTimer: NodeJS.Timeout | undefined;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.relay(client));
  }

  get silent(): boolean {
    return Date.now() < this.silentUntil;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Goes silent for `ms`; `onRestore` runs when the link is usable again. */
  drop(ms: number, onRestore?: () => void): void {
    this.silentUntil = Date.now() + ms;
    clearTimeout(this.restoreTimer);
    this.restoreTimer = setTimeout(() => {
      // Connections that went silent are dead to both ends by now: close them, as a real network would.
      for (const [client, upstream] of this.pairs) {
        client.destroy();
        upstream.destroy();
      }
      this.pairs.clear();
      onRestore?.();
    }, ms);
  }

  close(): void {
    clearTimeout(this.restoreTimer);
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.server.close();
  }

  private relay(client: Socket): void {
    const upstream = connect(this.targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (!this.silent) to.write(chunk);
    };
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  }
}
