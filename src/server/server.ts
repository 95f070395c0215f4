/**
 * `lifeline serve`: the session reliability service. Accepts TLS links, authenticates new
 * sessions, resumes existing ones on new links, and connects channels to configured targets only.
 */
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import {
  AuthMethod,
  LifelineError,
  ServerLink,
  ServerSession,
  SharedBudget,
  toHex,
  type ErrorCode,
  type HelloFrame,
  type ResumeFrame,
  type ServerParams,
  type SessionLimits,
} from "../core/index.js";
import { formatHostPort, type HostPort } from "../ops/address.js";
import { listenOn } from "../ops/listen.js";
import type { EventLog } from "../ops/log.js";
import { SessionTable } from "../ops/session-table.js";
import type { Health } from "../ops/status-report.js";
import { nodeEnv } from "../transport/node-env.js";
import { Admission } from "./admission.js";
import { FailureLimiter } from "./rate-limit.js";
import { ServedSession } from "./served-session.js";
import type { Targets } from "./targets.js";
import { tokenNameField, TokenSet } from "./tokens.js";

export interface ServerConfig {
  listen: HostPort;
  targets: Targets;
  tokens: TokenSet;
  cert: string;
  key: string;
  params: ServerParams;
  limits: Partial<SessionLimits>;
  /** Most sessions at once; HELLO beyond it is refused with SERVER_BUSY. */
  maxSessions: number;
  /** Bytes all sessions together may hold for replay (each also has its own budget). */
  globalBuffer: number;
  /** A link that has not sent HELLO or RESUME after this many milliseconds is dropped. */
  handshakeTimeoutMs: number;
  /** Failed authentications or resumes allowed per source address per minute. */
  maxFailuresPerMinute: number;
  /**
   * Connections one source address may have accepted but not yet in a session (waiting for their
   * handshake or in it); beyond it, further ones are dropped at once. Undefined: half of all the
   * places for such connections, so that users behind one NAT address can reconnect together
   * while one address still cannot take every place.
   */
  maxUnauthenticatedPerAddress: number | undefined;
}

/** How many expired session ids are remembered, to answer SESSION_EXPIRED rather than UNKNOWN_SESSION. */
const EXPIRED_MEMORY = 65536;

/**
 * Connections not yet in a session in all: beyond this, new ones are dropped at once. At least as
 * many as there are sessions, since after an outage every session's client comes back at once.
 * (Per source address: ServerConfig.maxUnauthenticatedPerAddress.)
 */
const MIN_UNAUTHENTICATED = 4096;

/**
 * Connections the kernel may hold until they are accepted. After an outage every client dials at
 * once: with Node's default of 511, the kernel dropped the rest (60,000 listen overflows in a
 * 10,000-session storm), and each such client waited for a SYN retransmission (1 s, then 3 s, ...)
 * before it was even queued. The kernel caps this at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 65_535;

/** TLS handshakes (up to HELLO or RESUME) in progress at once; further connections wait their turn. */
const HANDSHAKES_AT_ONCE = 128;
/**
 * Of those, from one source address: connections that never complete their handshake then hold
 * at most half of the places until their deadline, and other addresses' connections go ahead.
 */
const HANDSHAKES_AT_ONCE_PER_ADDRESS = HANDSHAKES_AT_ONCE / 2;

/**
 * A connection that waited longer than this for its turn is closed when the turn comes. A client
 * that gives up closes its connection and leaves the queue by itself, so this is well beyond any
 * client's patience (connect waits 3 × its 5 s dial timeout): it only drops connections whose
 * client vanished without closing. Dropping earlier made clients that still waited dial again at
 * the back of the queue (4,752 wasted dials in a 10,000-session storm against 1,296).
 */
const MAX_QUEUE_WAIT_MS = 60_000;

export class LifelineServer {
  private readonly sessions = new Map<string, ServedSession>();
  private readonly expired = new Set<string>();
  private readonly failures: FailureLimiter;
  private readonly budget: SharedBudget;
  private readonly handshakes = new Set<TLSSocket>();
  /** Connections accepted but not yet in a session, by "address:port", and their count per address. */
  private readonly unauthenticated = new Map<string, string>();
  private readonly unauthenticatedPerAddress = new Map<string, number>();
  private readonly maxUnauthenticated: number;
  private readonly maxUnauthenticatedPerAddress: number;
  private readonly admission: Admission<Socket>;
  /** Connections waiting for their turn, each with what restores it for the TLS handshake. */
  private readonly waiting = new Map<Socket, () => void>();
  /** Connections ("address:port") whose handshake holds a place in the admission, and their address. */
  private readonly admitted = new Map<string, string>();
  /** Accepts TCP connections and hands them to the TLS server when admitted. */
  private listener: NetServer | undefined;
  private server: Server | undefined;
  private draining = false;
  private tokens: TokenSet;
  /** The allow-list of targets; a reload may replace it (channels already open keep theirs). */
  private targets: Targets;
  /** What `status` and the metrics see of the sessions. */
  readonly table = new SessionTable(nodeEnv.now);

  constructor(
    private readonly config: ServerConfig,
    private readonly log: EventLog,
  ) {
    this.budget = new SharedBudget(config.globalBuffer);
    this.tokens = config.tokens;
    this.targets = config.targets;
    this.failures = new FailureLimiter(
      { maxFailures: config.maxFailuresPerMinute, windowMs: 60_000, maxTracked: 100_000 },
      nodeEnv.now,
    );
    this.maxUnauthenticated = Math.max(MIN_UNAUTHENTICATED, config.maxSessions);
    this.maxUnauthenticatedPerAddress =
      config.maxUnauthenticatedPerAddress ?? Math.floor(this.maxUnauthenticated / 2);
    this.admission = new Admission(
      {
        concurrent: HANDSHAKES_AT_ONCE,
        concurrentPerSource: HANDSHAKES_AT_ONCE_PER_ADDRESS,
        maxWaitMs: MAX_QUEUE_WAIT_MS,
      },
      nodeEnv.now,
    );
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The global replay budget: bytes held by all sessions, and the limit. */
  get globalBuffer(): { used: number; limit: number } {
    return { used: this.budget.used, limit: this.budget.limit };
  }

  /** Unhealthy while draining or at a limit, so that a load balancer sends new users elsewhere. */
  health(): Health {
    const detail = {
      sessions: this.sessions.size,
      maxSessions: this.config.maxSessions,
      bufferUsed: this.budget.used,
      bufferLimit: this.budget.limit,
    };
    const status = this.draining
      ? "draining"
      : this.sessions.size >= this.config.maxSessions
        ? "session-limit"
        : this.budget.available === 0
          ? "buffer-exhausted"
          : "ok";
    return { healthy: status === "ok", status, ...detail };
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  start(): Promise<AddressInfo> {
    const server = createServer(
      {
        cert: this.config.cert,
        key: this.config.key,
        minVersion: "TLSv1.3",
        // The TLS handshake counts against the same deadline as ours: silent clients are dropped.
        handshakeTimeout: this.config.handshakeTimeoutMs,
      },
      (socket) => this.onLink(socket),
    );
    this.server = server;
    const listener = createNetServer((raw) => this.onAccepted(raw));
    this.listener = listener;
    // Before TLS even starts: every unauthenticated connection holds a descriptor, so they are capped.
    listener.maxConnections = this.config.maxSessions + this.maxUnauthenticated;
    server.on("tlsClientError", (err, socket) => {
      // With a listener attached, Node leaves the socket open: close it, or silent clients pile up.
      socket.destroy();
      this.log.debug("handshake.failed", "TLS handshake failed", {
        client: peer(socket),
        error: err.message,
      });
    });
    return listenOn(
      listener,
      this.config.listen,
      this.log,
      {
        targets: describeTargets(this.targets),
      },
      { backlog: LISTEN_BACKLOG },
    );
  }

  private readonly targetNamed = (name: string): HostPort | undefined => this.targets.get(name);

  /**
   * SIGHUP: new tokens (and, when given, a new certificate and targets) without a restart. Sessions
   * whose token was revoked are closed with AUTH_FAILED; every other session carries on, and the
   * channels it opens from now on reach the new targets.
   */
  reload(
    tokens: TokenSet,
    certificate?: { cert: string; key: string },
    targets?: Targets,
  ): { revoked: number } {
    // First what can fail, so that a refused certificate leaves the tokens and targets as they were.
    if (certificate) this.server?.setSecureContext({ ...certificate, minVersion: "TLSv1.3" });
    this.tokens = tokens;
    if (targets) this.targets = targets;
    let revoked = 0;
    for (const served of [...this.sessions.values()]) {
      const kept = tokens.entryOf(served.token.digest);
      if (kept) {
        served.token = kept; // its name may have changed
        continue;
      }
      revoked++;
      this.log.warn("auth.failed", "session closed: its token was revoked", {
        session: served.id,
        client: served.client,
        ...tokenNameField(served.tokenName),
      });
      served.session.close("AUTH_FAILED", "the token of this session was revoked");
      served.pump.service();
    }
    return { revoked };
  }

  /**
   * Graceful stop (SIGTERM): stop accepting, tell every client the server is going away, and close
   * every target connection fully.
   */
  async stop(drainDelayMs = 0): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info("server.draining", "stopping: closing sessions", {
      sessions: this.sessions.size,
      drainDelayMs,
    });
    // Health already says "draining" and new sessions are refused; resumes are still served meanwhile.
    if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    const closed = new Promise<void>((resolve) =>
      this.listener ? this.listener.close(() => resolve()) : resolve(),
    );
    for (const raw of this.admission.clear()) raw.destroy();
    for (const socket of this.handshakes) socket.destroy();
    for (const served of [...this.sessions.values()]) {
      served.session.close("GOING_AWAY", "the server is shutting down");
      served.pump.service();
    }
    // Links whose peers have gone silent are destroyed by then; do not wait on them forever.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    this.log.info("server.stopped", "stopped");
  }

  private onAccepted(raw: Socket): void {
    const address = raw.remoteAddress ?? "?";
    const key = peer(raw); // the same key the TLS socket of this connection will give
    const count = this.unauthenticatedPerAddress.get(address) ?? 0;
    const full = this.unauthenticated.size >= this.maxUnauthenticated;
    if (count >= this.maxUnauthenticatedPerAddress || full) {
      this.log.debug("handshake.failed", "too many unauthenticated connections: dropped", {
        client: key,
        code: full ? "SERVER_BUSY" : "RATE_LIMITED",
      });
      raw.destroy();
      return;
    }
    this.unauthenticated.set(key, address);
    this.unauthenticatedPerAddress.set(address, count + 1);
    // on(), not once(): "close" comes once anyway, and once()'s wrapper would stay for the session's life.
    raw.on("close", () => {
      this.authenticated(key);
      if (this.waiting.delete(raw)) this.admission.leave(raw);
      this.handshakeEnded(key);
    });
    if (this.admission.arrive(raw, address)) return this.startHandshake(raw);
    // While it waits, read what the client sends (its TLS hello), to see the close of a client that
    // gave up, and give it back to the socket for the TLS handshake.
    const early: Buffer[] = [];
    const keep = (chunk: Buffer): void => void early.push(chunk);
    const drop = (): void => void raw.destroy();
    raw.on("data", keep).on("error", drop);
    this.waiting.set(raw, () => {
      raw.off("data", keep).off("error", drop);
      raw.pause();
      if (early.length > 0) raw.unshift(Buffer.concat(early));
    });
  }

  private startHandshake(raw: Socket): void {
    this.waiting.get(raw)?.();
    this.waiting.delete(raw);
    this.admitted.set(peer(raw), raw.remoteAddress ?? "?");
    this.server?.emit("connection", raw);
  }

  /** The handshake of connection `key` got its HELLO or RESUME, or failed: the next may start. */
  private handshakeEnded(key: string): void {
    const address = this.admitted.get(key);
    if (address === undefined) return;
    this.admitted.delete(key);
    const { next, expired } = this.admission.finish(address);
    for (const raw of expired) {
      this.waiting.delete(raw);
      this.log.debug("handshake.failed", "waited too long for a handshake: dropped", {
        client: peer(raw),
        code: "HANDSHAKE_TIMEOUT",
      });
      raw.destroy();
    }
    if (next) this.startHandshake(next);
  }

  /** The connection `key` ("address:port") joined a session or closed: it no longer counts. */
  private authenticated(key: string): void {
    const address = this.unauthenticated.get(key);
    if (address === undefined) return;
    this.unauthenticated.delete(key);
    const left = (this.unauthenticatedPerAddress.get(address) ?? 1) - 1;
    if (left > 0) this.unauthenticatedPerAddress.set(address, left);
    else this.unauthenticatedPerAddress.delete(address);
  }

  private onLink(socket: TLSSocket): void {
    const acceptedAt = nodeEnv.now();
    const client = peer(socket);
    socket.setNoDelay(true);
    const link = new ServerLink(nodeEnv.now() + this.config.handshakeTimeoutMs);
    this.handshakes.add(socket);
    const done = (): void => {
      clearTimeout(deadline);
      this.handshakes.delete(socket);
      this.handshakeEnded(client);
    };
    const refuse = (): void => {
      done();
      socket.off("data", onData);
      const failure = link.failure as LifelineError;
      this.log.info("handshake.failed", `link refused: ${failure.message}`, { client, code: failure.code });
      finish(socket, link.takeOutput());
    };
    const onData = (chunk: Buffer): void => {
      // The preamble and the session's first frames (WELCOME or RESUMED, and any replay) leave in one
      // TLS record and one write: a reconnect storm pays for every record and system call.
      socket.cork();
      try {
        handshake(chunk);
      } finally {
        socket.uncork();
      }
    };
    const handshake = (chunk: Buffer): void => {
      const request = link.receive(chunk);
      for (const part of link.takeOutput()) socket.write(part);
      if (link.failure) return refuse();
      if (!request) return;
      done();
      // Synchronous hand-over: the next "data" event already goes to the session's pump.
      if (request.kind === "hello") this.onHello(socket, link, request, client);
      else this.onResume(socket, link, request, client, acceptedAt);
      // Let go of the handshake (its closures hold the link, the HELLO and a timer) for as long as the
      // session lives. After the pump has added its own listeners: removing an event's last listener
      // would turn the socket's listener table into a slow dictionary.
      socket.off("data", onData).off("close", done);
    };
    // Timers may fire a little before the monotonic clock agrees; re-arm until the deadline has passed.
    const check = (): void => {
      link.tick(nodeEnv.now());
      if (link.failure) refuse();
      else deadline = setTimeout(check, Math.max(1, link.deadline - nodeEnv.now()));
    };
    let deadline = setTimeout(check, this.config.handshakeTimeoutMs);
    socket.on("data", onData);
    socket.on("error", destroySocket);
    socket.once("close", done);
  }

  private onHello(socket: TLSSocket, link: ServerLink, hello: HelloFrame, client: string): void {
    const address = socket.remoteAddress ?? "?";
    if (this.failures.blocked(address))
      return this.refuse(socket, link, "RATE_LIMITED", "too many failed attempts");
    if (hello.authMethod !== AuthMethod.BearerToken) {
      return this.refuse(
        socket,
        link,
        "AUTH_METHOD_UNSUPPORTED",
        `authentication method ${hello.authMethod} is not supported`,
      );
    }
    const token = this.tokens.match(hello.authData);
    if (!token) {
      this.failures.recordFailure(address);
      this.log.warn("auth.failed", "authentication failed: token not accepted", { client });
      return this.refuse(socket, link, "AUTH_FAILED", "token not accepted", true);
    }
    if (this.draining) return this.refuse(socket, link, "GOING_AWAY", "the server is shutting down");
    if (this.sessions.size >= this.config.maxSessions) {
      return this.refuse(
        socket,
        link,
        "SERVER_BUSY",
        `the server holds its maximum of ${this.config.maxSessions} sessions`,
      );
    }
    const session = new ServerSession(
      hello,
      link.decoder,
      { params: this.config.params, limits: this.config.limits, sharedBudget: this.budget },
      nodeEnv,
    );
    const served = new ServedSession(session, this.targetNamed, this.log, client, token, this.forget);
    this.sessions.set(served.id, served);
    this.table.add(served);
    this.authenticated(peer(socket));
    served.pump.attachLink(session.currentLink as number, socket);
  }

  private onResume(
    socket: TLSSocket,
    link: ServerLink,
    resume: ResumeFrame,
    client: string,
    acceptedAt: number,
  ): void {
    const address = socket.remoteAddress ?? "?";
    const id = toHex(resume.sessionId);
    const served = this.sessions.get(id);
    const refusal: ErrorCode | undefined = served
      ? served.session.checkResume(resume)
      : this.expired.has(id)
        ? "SESSION_EXPIRED"
        : "UNKNOWN_SESSION";
    if (refusal && this.failures.blocked(address)) {
      // A resume with the right secret passes even so: others' failures behind the same NAT must not cut
      // a user's session off, and the secret (128 bits) cannot be guessed in the attempts allowed.
      return this.refuse(socket, link, "RATE_LIMITED", "too many failed attempts");
    }
    if (refusal || !served) {
      // Only a wrong secret is a guess; unknown sessions are what every client sees after a restart.
      if (refusal === "BAD_SECRET") this.failures.recordFailure(address);
      const why = refusal ?? "UNKNOWN_SESSION";
      this.log.warn("resume.refused", `resume refused: ${why}`, { client, session: id, reason: why });
      return this.refuse(socket, link, why, "resume refused", true);
    }
    served.client = client;
    served.linkAcceptedAt = acceptedAt;
    this.authenticated(client);
    served.pump.attachLink(served.session.resume(resume, link.decoder), socket);
  }

  /** Answers CLOSE `code` and closes; logs `handshake.failed` unless the caller logged a more specific event. */
  private refuse(socket: TLSSocket, link: ServerLink, code: ErrorCode, reason: string, logged = false): void {
    if (!logged)
      this.log.info("handshake.failed", `link refused: ${code} (${reason})`, { client: peer(socket), code });
    link.refuse(new LifelineError(code, reason));
    finish(socket, link.takeOutput());
  }

  /** A session closed. One function for all of them, not a closure each. */
  private readonly forget = (served: ServedSession, code: string): void => {
    this.sessions.delete(served.id);
    this.table.remove(served, code);
    if (code !== "SESSION_EXPIRED") return;
    this.expired.add(served.id);
    if (this.expired.size > EXPIRED_MEMORY) {
      const oldest = this.expired.values().next().value;
      if (oldest !== undefined) this.expired.delete(oldest);
    }
  };
}

/** Targets as the log shows them: name → "host:port". */
export function describeTargets(targets: Targets): Record<string, string> {
  return Object.fromEntries([...targets].map(([name, hp]) => [name, formatHostPort(hp)]));
}

function peer(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return socket.remoteAddress
    ? formatHostPort({ host: socket.remoteAddress, port: socket.remotePort ?? 0 })
    : "unknown";
}

/** An "error" listener that holds nothing (a closure here would keep the handshake's state alive). */
function destroySocket(this: TLSSocket): void {
  this.destroy();
}

/** Writes the last bytes and closes; a peer that never reads is cut after a grace period. */
function finish(socket: TLSSocket, last: Uint8Array[]): void {
  for (const part of last) socket.write(part);
  socket.end();
  setTimeout(() => socket.destroy(), 2000).unref();
}
