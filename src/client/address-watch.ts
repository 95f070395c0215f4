/**
 * Notices when a link's local address leaves this machine: roaming (a laptop or a ward's tablet
 * moving to another network) takes the old address away, and a TCP connection from it can never
 * carry another byte. Without this, only the keepalive would find out, `dead-after` (5 s) later; with
 * it, the client resumes from its new address within a second.
 *
 * Node has no notice of address changes, so the interfaces are read once per interval, for every
 * watched socket of the process at once (the bench's light client holds 10,000 sessions). Node lists
 * only the addresses of interfaces that are up and running, so an interface that goes down (Wi-Fi
 * lost) counts as its address leaving. An address must be missing from two readings in a row: a
 * moment without carrier (a switch between access points that keeps the address) is not a move.
 */
import { networkInterfaces } from "node:os";

/** How often the interfaces are read while any socket is watched, in milliseconds. */
export const ADDRESS_CHECK_MS = 500;

/** What the watch needs of a socket: its local address once connected. */
export interface LocallyBound {
  readonly localAddress?: string | undefined;
}

/** The addresses of this machine's interfaces. */
export type InterfaceLister = () => ReturnType<typeof networkInterfaces>;

/** "::ffff:10.0.0.2" → "10.0.0.2"; "fe80::1%eth0" → "fe80::1": how sockets and interfaces differ in spelling. */
export function canonicalAddress(address: string): string {
  const bare = address.split("%")[0] as string;
  return bare.toLowerCase().startsWith("::ffff:") && bare.includes(".") ? bare.slice(7) : bare.toLowerCase();
}

interface Watched {
  onGone: () => void;
  /** The socket's local address as interfaces spell it, once connected (it never changes after). */
  address: string | undefined;
  /** The address was found on an interface: only then does its absence mean it left. */
  seen: boolean;
  /** Readings in a row that did not find it. */
  missed: number;
}

/** Readings in a row an address must be missing from before it counts as gone. */
const MISSES = 2;

export class AddressWatch {
  private readonly watched = new Map<LocallyBound, Watched>();
  private timer: NodeJS.Timeout | undefined;
  /** The addresses of the last reading, while the timer runs (a link dialled after it starts is judged by it). */
  private lastReading: Set<string> | undefined;

  constructor(
    private readonly listInterfaces: InterfaceLister = networkInterfaces,
    private readonly intervalMs = ADDRESS_CHECK_MS,
  ) {}

  /** Sockets watched now. */
  get size(): number {
    return this.watched.size;
  }

  /** Calls `onGone` once if `socket`'s local address leaves this machine; returns a function that stops watching. */
  watch(socket: LocallyBound, onGone: () => void): () => void {
    const local = socket.localAddress;
    const address = local === undefined ? undefined : canonicalAddress(local);
    const entry: Watched = {
      onGone,
      address,
      seen: address !== undefined && (this.lastReading?.has(address) ?? false),
      missed: 0,
    };
    this.watched.set(socket, entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
    // Only this registration: the dialer's watch of a socket must not end the runner's that follows it.
    return () => {
      if (this.watched.get(socket) === entry) this.forget(socket);
    };
  }

  /** Reads the interfaces once and reports every watched socket whose address is gone. */
  check(): void {
    let present: Set<string>;
    try {
      present = new Set(
        Object.values(this.listInterfaces())
          .flat()
          .map((entry) => canonicalAddress(entry?.address ?? "")),
      );
    } catch {
      return; // cannot tell: judge nothing
    }
    this.lastReading = present;
    // Deleting the entry being visited is safe in a Map; one added by a callback is judged by this reading.
    for (const [socket, watched] of this.watched) {
      if (watched.address === undefined) {
        const local = socket.localAddress;
        if (local === undefined) continue;
        watched.address = canonicalAddress(local);
      }
      if (present.has(watched.address)) {
        watched.seen = true;
        watched.missed = 0;
      } else if (watched.seen && ++watched.missed >= MISSES) {
        // Where the interfaces cannot be listed (some sandboxes), an address is never seen, so never judged gone.
        this.forget(socket);
        watched.onGone();
      }
    }
  }

  private forget(socket: LocallyBound): void {
    this.watched.delete(socket);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.lastReading = undefined;
    }
  }
}

/** The process's one watch: one reading of the interfaces per interval, however many links. */
export const addressWatch = new AddressWatch();
