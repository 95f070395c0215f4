/**
 * `lifeline host`: serves interactive terminal sessions over TCP (docs/TERMINAL.md). It checks
 * every client's token, then routes its messages: LIST, NEW and ATTACH before a session, INPUT
 * and RESIZE after. Sessions outlive connections; a malformed connection is refused alone.
 */
import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { homedir } from "node:os";
import type { HostPort } from "../ops/address.js";
import { listenOn } from "../ops/listen.js";
import type { EventLog } from "../ops/log.js";
import { tokenNameField, type TokenSet } from "../server/tokens.js";
import { HostConnection } from "./host-connection.js";
import { HostSession } from "./host-session.js";
import { TERMINAL_PROTOCOL_VERSION, type TerminalMessage } from "./messages.js";

export interface TerminalHostConfig {
  listen: HostPort;
  tokens: TokenSet;
  /** The shell: run as a login shell (`-l`), or with `-c command` when a command is configured. */
  shell: string;
  command: string | undefined;
  /** How long a session lives without a client; 0 for ever. */
  idleLimitMs: number;
  scrollback: number;
  maxSessions: number;
  /** A connection must send HELLO within this time. */
  helloTimeoutMs: number;
}

/** Connections that have not yet attached a session, beyond one a session. */
const MAX_UNATTACHED = 64;
/**
 * Connections still waiting for their HELLO at once. A new one beyond it pushes out the oldest, so
 * that connections which never say HELLO (a scanner, a flood) cannot keep real clients out: a real
 * client says HELLO within milliseconds of connecting.
 */
const MAX_WAITING_HELLO = 32;
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const ID_LENGTH = 8;

/** An 8-character session id, 40 random bits in base32: easy to type, never reused while it lives. */
export function newSessionId(): string {
  // 256 is a multiple of 32: each byte's low five bits are uniform.
  return [...randomBytes(ID_LENGTH)].map((b) => ID_ALPHABET[b & 31]).join("");
}

/** What the host knows about a connection beyond the connection itself: how far it got, and its session. */
interface ConnectionState {
  stage: "hello" | "ready" | "attached";
  session?: HostSession;
}

export class TerminalHost {
  private server: Server | undefined;
  private tokens: TokenSet;
  private readonly sessions = new Map<string, HostSession>();
  private readonly connections = new Map<HostConnection, ConnectionState>();
  /** Connections that have not sent HELLO yet, oldest first. */
  private readonly waitingHello = new Set<HostConnection>();
  private stopping = false;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly config: TerminalHostConfig,
    private readonly log: EventLog,
  ) {
    this.tokens = config.tokens;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  start(): Promise<AddressInfo> {
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    // Room above the limit of waiting connections, so that a new one can always push out the oldest.
    server.maxConnections = this.config.maxSessions + MAX_UNATTACHED + MAX_WAITING_HELLO;
    return listenOn(server, this.config.listen, this.log, { command: this.label() });
  }

  /**
   * SIGHUP: a new token file. Connections opened with a token no longer in it are closed with
   * AUTH_FAILED; their sessions carry on, detached, for whoever holds a valid token.
   */
  reload(tokens: TokenSet): { revoked: number } {
    this.tokens = tokens;
    let revoked = 0;
    for (const [connection, state] of this.connections) {
      if (!connection.token) continue;
      const kept = tokens.entryOf(connection.token.digest);
      if (kept) {
        connection.token = kept; // its name may have changed
        continue;
      }
      revoked++;
      this.log.warn("auth.failed", "connection closed: its token was revoked", {
        client: connection.client,
        ...tokenNameField(connection.tokenName),
        ...(state.session ? { session: state.session.id } : {}),
      });
      connection.fail("AUTH_FAILED", "the token of this connection was revoked");
    }
    return { revoked };
  }

  /** SIGTERM: stop listening, hang up every session (attached clients get EXIT), and wait for them. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.server?.close();
    for (const [connection, state] of this.connections)
      if (state.stage !== "attached") connection.fail("GOING_AWAY", "the host is shutting down");
    await Promise.all([...this.sessions.values()].map((session) => session.hangUp()));
    this.log.info("server.stopped", "stopped: every session has ended");
  }

  private onConnection(socket: Socket): void {
    const state: ConnectionState = { stage: "hello" };
    const connection: HostConnection = new HostConnection(socket, {
      message: (message) => {
        try {
          this.route(connection, state, message);
        } catch (err) {
          // A fault of the host's own must not take the other sessions down with the process.
          this.log.error("terminal.refused", `internal error: ${(err as Error).message}`, {
            client: connection.client,
            code: "INTERNAL",
          });
          connection.fail("INTERNAL", "the host failed to handle this message");
        }
      },
      malformed: (err) =>
        this.log.warn("terminal.refused", `malformed message from ${connection.client}: ${err.message}`, {
          client: connection.client,
          code: "PROTOCOL",
          ...(state.session ? { session: state.session.id } : {}),
        }),
      closed: () => {
        clearTimeout(deadline);
        this.waitingHello.delete(connection);
        this.connections.delete(connection);
        state.session?.detach(connection);
      },
    });
    this.connections.set(connection, state);
    if (this.waitingHello.size >= MAX_WAITING_HELLO) {
      const oldest = this.waitingHello.values().next().value as HostConnection;
      this.waitingHello.delete(oldest);
      this.log.debug("terminal.refused", "no HELLO yet, and newer connections are waiting", {
        client: oldest.client,
        code: "SERVER_BUSY",
      });
      // At once, without the usual wait for the peer to take the last bytes: the point is to free its place.
      oldest.send({
        type: "error",
        code: "SERVER_BUSY",
        message: `more than ${MAX_WAITING_HELLO} connections are waiting to say HELLO`,
      });
      oldest.destroy();
    }
    this.waitingHello.add(connection);
    const deadline = setTimeout(() => {
      if (state.stage === "hello")
        this.refuse(connection, "HANDSHAKE_TIMEOUT", `no HELLO within ${this.config.helloTimeoutMs} ms`);
    }, this.config.helloTimeoutMs);
    if (this.stopping) connection.fail("GOING_AWAY", "the host is shutting down");
  }

  /** Each message, in the order docs/TERMINAL.md gives; anything else is a protocol error. */
  private route(connection: HostConnection, state: ConnectionState, message: TerminalMessage): void {
    const unexpected = (wanted: string): void =>
      this.refuse(connection, "PROTOCOL", `expected ${wanted}, got ${message.type.toUpperCase()}`);
    switch (state.stage) {
      case "hello":
        if (message.type !== "hello") return unexpected("HELLO");
        return this.hello(connection, state, message.version, message.token);
      case "ready":
        if (message.type === "list")
          return connection.send({
            type: "sessions",
            sessions: [...this.sessions.values()].filter((s) => !s.ending).map((s) => s.summary()),
          });
        if (message.type === "new") return this.create(connection, state, message);
        if (message.type === "attach") return this.attach(connection, state, message);
        return unexpected("NEW, ATTACH or LIST");
      case "attached":
        if (message.type === "input") return state.session?.input(message.bytes);
        if (message.type === "resize") return state.session?.resize(message.size);
        return unexpected("INPUT or RESIZE");
    }
  }

  private hello(connection: HostConnection, state: ConnectionState, version: number, token?: string): void {
    if (version !== TERMINAL_PROTOCOL_VERSION)
      return this.refuse(
        connection,
        "VERSION_UNSUPPORTED",
        `this host speaks version ${TERMINAL_PROTOCOL_VERSION} of the terminal protocol, not ${version}`,
      );
    const entry = token === undefined ? undefined : this.tokens.match(this.encoder.encode(token));
    if (!entry) {
      this.log.warn("auth.failed", "authentication failed: token not accepted", {
        client: connection.client,
      });
      return connection.fail("AUTH_FAILED", "token not accepted");
    }
    state.stage = "ready";
    connection.token = entry;
    this.waitingHello.delete(connection);
    connection.send({ type: "ready", version: TERMINAL_PROTOCOL_VERSION });
  }

  private create(
    connection: HostConnection,
    state: ConnectionState,
    message: Extract<TerminalMessage, { type: "new" }>,
  ): void {
    if (this.stopping) return this.refuse(connection, "GOING_AWAY", "the host is shutting down");
    if (this.sessions.size >= this.config.maxSessions)
      return this.refuse(
        connection,
        "SERVER_BUSY",
        `the host holds its maximum of ${this.config.maxSessions} sessions`,
      );
    let id = newSessionId();
    while (this.sessions.has(id)) id = newSessionId();
    let session: HostSession;
    try {
      session = new HostSession(
        {
          id,
          file: this.config.shell,
          args: this.config.command === undefined ? ["-l"] : ["-c", this.config.command],
          label: this.label(),
          size: message.size,
          term: message.term,
          env: sessionEnv(message.term, id),
          cwd: homedir(),
          scrollback: this.config.scrollback,
          idleLimitMs: this.config.idleLimitMs,
        },
        { ended: (ended) => this.sessions.delete(ended.id) },
        this.log,
        connection,
      );
    } catch (err) {
      return this.refuse(
        connection,
        "SPAWN_FAILED",
        `cannot start ${this.label()}: ${(err as Error).message}`,
      );
    }
    this.sessions.set(id, session);
    state.stage = "attached";
    state.session = session;
    session.attach(connection, message.size, true);
  }

  private attach(
    connection: HostConnection,
    state: ConnectionState,
    message: Extract<TerminalMessage, { type: "attach" }>,
  ): void {
    const session = this.sessions.get(message.id);
    // A session hung up (expired, or the host stopping) is ending: it is no longer there to attach.
    if (!session || session.ending)
      return this.refuse(connection, "NO_SUCH_SESSION", `no session ${message.id} on this host`);
    state.stage = "attached";
    state.session = session;
    session.attach(connection, message.size, false);
  }

  /** Answers ERROR `code` and closes the connection; other connections and sessions carry on. */
  private refuse(connection: HostConnection, code: string, message: string): void {
    const fields = { client: connection.client, code };
    if (code === "PROTOCOL" || code === "SPAWN_FAILED") this.log.warn("terminal.refused", message, fields);
    else this.log.info("terminal.refused", message, fields);
    connection.fail(code, message);
  }

  private label(): string {
    return this.config.command ?? this.config.shell;
  }
}

/**
 * The environment of a session's program: the host's own, without its `LIFELINE_HOST_*` settings,
 * with the client's TERM and the session id in LIFELINE_SESSION.
 */
function sessionEnv(term: string, id: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && !key.startsWith("LIFELINE_HOST_")) env[key] = value;
  return { ...env, TERM: term, LIFELINE_SESSION: id };
}
