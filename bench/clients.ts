/**
 * A light client that holds many sessions in one process (child role "clients", driven over IPC):
 * lifeline sessions built on the client's own session runner (the core ClientSession over
 * node:tls, with the real reconnect policy of `lifeline connect`), or plain TLS connections for the
 * tunnels it is compared with. A session may carry one channel streaming to the target's echo
 * mode; every byte sent and echoed back is counted and hashed, so that a lost, doubled or
 * reordered byte shows.
 */
import { createHash, type Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Duplex } from "node:stream";
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { backoffDelay } from "../src/client/backoff.js";
import { ClientRunner } from "../src/client/runner.js";
import { SessionState } from "../src/core/index.js";
import type { Verification } from "../src/client/verify.js";
import { EventLog } from "../src/ops/log.js";
import { countOf, sleep } from "./stats.js";
import { header } from "./target.js";

/** Channels that queue their burst in one turn of the event loop. */
const SEND_SLICE = 250;

/** Where the streamed bytes come from: one random block, read at a different place by each session. */
const BLOCK = createHash("sha512")
  .update("lifeline-bench")
  .digest()
  .toString("hex")
  .repeat(512)
  .slice(0, 64 * 1024);
const SOURCE = Buffer.from(BLOCK.repeat(2), "latin1");

/** An in-process application socket: what it is given is sent on the channel; what arrives is hashed. */
class Stream extends Duplex {
  sent = 0;
  received = 0;
  private readonly sentHash: Hash = createHash("sha256");
  private readonly receivedHash: Hash = createHash("sha256");
  onProgress: (() => void) | undefined;

  constructor(private readonly seed: number) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.receivedHash.update(chunk);
    this.received += chunk.length;
    this.onProgress?.();
    done();
  }

  send(bytes: number): void {
    for (let left = bytes; left > 0;) {
      const at = (this.seed * 7919 + this.sent) % BLOCK.length;
      const n = Math.min(left, BLOCK.length);
      const chunk = SOURCE.subarray(at, at + n);
      this.sentHash.update(chunk);
      this.sent += n;
      left -= n;
      this.push(chunk);
    }
  }

  /** Hashes of both directions: equal when every byte came back once, in order. */
  digests(): { sent: string; received: string } {
    return { sent: this.sentHash.copy().digest("hex"), received: this.receivedHash.copy().digest("hex") };
  }
}

interface Held {
  runner?: ClientRunner;
  tls?: TLSSocket;
  stream?: Stream;
  /** Date.now() of the last resume. */
  resumedAt: number;
  resumes: number;
  closedWith?: string;
}

export interface OpenCommand {
  kind: "lifeline" | "tls";
  ports: number[];
  count: number;
  concurrency: number;
  /** The first `channels` sessions carry a channel to the target's echo mode (lifeline only). */
  channels: number;
  pin?: string;
  tokenFile?: string;
  caFile?: string;
  /**
   * tls only: a lost connection is dialled again at once, then with `lifeline connect`'s backoff
   * while dials fail; a new TLS handshake counts as the connection's resume.
   */
  reconnect?: boolean;
}

export async function clientsChild(): Promise<Record<string, (command: never) => unknown>> {
  const held: Held[] = [];
  const byId = new Map<string, Held>();
  const log = new EventLog("connect", "silent");
  /** Since the last `mark`: failed reconnect attempts (dials that did not get a link up), links lost. */
  let failedDials = 0;
  let linksLost = 0;
  let lastLossAt = 0;
  log.observe((event, fields) => {
    if (event === "link.failed") failedDials++;
    if (event === "link.lost") {
      linksLost++;
      lastLossAt = Date.now();
    }
    if (event !== "session.resumed") return;
    const h = byId.get(fields.session as string);
    if (!h) return;
    h.resumedAt = Date.now();
    h.resumes++;
  });

  /** Set by `close`: connections closed from now on are not dialled again. */
  let closing = false;
  /** One TLS context per CA file, as `lifeline connect` keeps one per trust configuration: building one per dial costs about 0.3 ms. */
  const contexts = new Map<string, SecureContext>();
  /**
   * Dials a plain TLS connection for `h` (`opened` once its handshake is done, or its error). With
   * `reconnect`, every loss dials again at once, then with `lifeline connect`'s backoff while dials
   * fail; each later handshake counts as the connection's resume.
   */
  const dialTls = (
    h: Held,
    port: number,
    caFile: string,
    reconnect: boolean,
    opened?: (err?: Error) => void,
    failures = 0,
  ): void => {
    let secureContext = contexts.get(caFile);
    if (!secureContext) {
      secureContext = createSecureContext({ ca: readFileSync(caFile), minVersion: "TLSv1.3" });
      contexts.set(caFile, secureContext);
    }
    const socket = tlsConnect({ port, host: "127.0.0.1", secureContext });
    h.tls = socket;
    let connected = false;
    socket.once("secureConnect", () => {
      connected = true;
      if (opened) return opened();
      h.resumedAt = Date.now();
      h.resumes++;
    });
    socket.on("error", (err) => {
      if (!connected) opened?.(err);
      socket.destroy();
    });
    socket.once("close", () => {
      if (closing || !reconnect || (opened && !connected)) return;
      if (connected) {
        linksLost++;
        lastLossAt = Date.now();
      } else failedDials++;
      const attempt = connected ? 0 : failures + 1;
      const again = (): void => dialTls(h, port, caFile, reconnect, undefined, attempt);
      setTimeout(again, backoffDelay(attempt, Math.random));
    });
  };

  const tokens = new Map<string, Uint8Array>();
  // One trust configuration for all sessions, as `lifeline connect` has: the dialer keeps one TLS
  // context per Verification object, so a new object per session would build 10,000 of them.
  const verifications = new Map<string, Verification>();
  const openOne = async (command: OpenCommand, i: number): Promise<void> => {
    const port = command.ports[i % command.ports.length] as number;
    if (command.kind === "tls") {
      const h: Held = { resumedAt: 0, resumes: 0 };
      await new Promise<void>((resolve, reject) =>
        dialTls(h, port, command.caFile as string, command.reconnect === true, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      held.push(h);
      return;
    }
    const tokenFile = command.tokenFile as string;
    let token = tokens.get(tokenFile);
    if (!token) {
      const line = readFileSync(tokenFile, "utf8")
        .split("\n")
        .find((l) => l && !l.startsWith("#")) as string;
      token = new TextEncoder().encode(line);
      tokens.set(tokenFile, token);
    }
    const pin = command.pin as string;
    let verification = verifications.get(pin);
    if (!verification) {
      verification = { mode: "pin", pins: [pin] };
      verifications.set(pin, verification);
    }
    const h: Held = { resumedAt: 0, resumes: 0 };
    const runner = new ClientRunner(
      {
        server: { host: "127.0.0.1", port },
        target: "default",
        verification,
        token,
        limits: {},
        dialTimeoutMs: 5000,
      },
      log,
      (_runner, code) => (h.closedWith = code),
    );
    h.runner = runner;
    await runner.start();
    byId.set(runner.id, h);
    if (i < command.channels) {
      const stream = new Stream(i);
      runner.openChannel(stream);
      stream.push(header("E"));
      h.stream = stream;
    }
    held.push(h);
  };

  const streams = (): Stream[] => held.flatMap((h) => (h.stream ? [h.stream] : []));

  return {
    /** Opens `count` sessions, `concurrency` at a time; resolves with the time it took. */
    open: async (command: OpenCommand) => {
      const start = performance.now();
      let next = 0;
      const errors: string[] = [];
      const worker = async (): Promise<void> => {
        while (next < command.count) {
          const i = next++;
          await openOne(command, i).catch((err: Error) => errors.push(err.message));
        }
      };
      await Promise.all(Array.from({ length: Math.min(command.concurrency, command.count) }, worker));
      return {
        ms: performance.now() - start,
        opened: held.length,
        failed: errors.length,
        firstError: errors[0],
      };
    },

    /**
     * Every channel sends `bytes` more bytes, a slice of channels per turn of the event loop: done at
     * once, queueing 10,000 writes kept this process from its sockets for seconds, and the links
     * it had not served for that long were found dead before the storm even began.
     */
    send: async (command: { bytes: number }) => {
      const all = streams();
      for (let at = 0; at < all.length; at += SEND_SLICE) {
        for (const stream of all.slice(at, at + SEND_SLICE)) stream.send(command.bytes);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { at: Date.now() };
    },

    /** Resolves once every session is established and no link was lost for `quietMs`, or at the timeout. */
    settled: async (command: { quietMs: number; timeoutMs: number }) => {
      const sessions = held.filter((h) => h.runner);
      const start = Date.now();
      const calm = (): boolean =>
        Date.now() - lastLossAt >= command.quietMs &&
        sessions.every((h) => h.runner!.session.state === SessionState.Established);
      while (!calm() && Date.now() - start < command.timeoutMs) await sleep(50);
      return { calm: calm() };
    },

    /**
     * Counts resumes, failed dials and link losses from zero, from now on (right before a cut: what a
     * storm does, apart from what came before); answers the counts so far.
     */
    mark: () => {
      const before = { linksLost, failedDials };
      linksLost = 0;
      failedDials = 0;
      for (const h of held) h.resumes = 0;
      return before;
    },

    /**
     * Resolves once every channel has received back all it sent (or at the timeout), and compares.
     * With `since`, the channels of sessions that have not resumed since then are counted apart.
     */
    echoed: async (command: { timeoutMs: number; since?: number }) => {
      const since = command.since ?? -Infinity;
      const all = held.filter((h) => h.stream);
      const start = performance.now();
      const complete = (): boolean =>
        all.every((h) => h.stream!.received >= h.stream!.sent || h.resumedAt < since);
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (complete() || performance.now() - start > command.timeoutMs) {
            clearInterval(timer);
            resolve();
          }
        };
        const timer = setInterval(check, 10);
        check();
      });
      const out = {
        ms: performance.now() - start,
        channels: 0,
        sent: 0,
        received: 0,
        mismatched: 0,
        incomplete: 0,
        notResumed: 0,
      };
      for (const h of all) {
        const s = h.stream!;
        if (h.resumedAt < since) {
          out.notResumed++;
          continue;
        }
        out.channels++;
        out.sent += s.sent;
        out.received += s.received;
        if (s.received < s.sent) out.incomplete++;
        else {
          const d = s.digests();
          if (d.sent !== d.received) out.mismatched++;
        }
      }
      return out;
    },

    /** Resolves once every session (or reconnecting TLS connection) resumed after `since` (Date.now()), or at the timeout. */
    resumed: async (command: { since: number; timeoutMs: number }) => {
      const sessions = held;
      // A session once resumed (or closed) stays so: each check goes on from the first one that was not,
      // rather than scanning 10,000 sessions every 5 ms in the process whose CPU the storm measures.
      let checked = 0;
      const done = (): boolean => {
        while (checked < sessions.length) {
          const h = sessions[checked] as Held;
          if (h.resumedAt < command.since && !h.closedWith) return false;
          checked++;
        }
        return true;
      };
      const start = Date.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (done() || Date.now() - start > command.timeoutMs) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      });
      const times = sessions
        .filter((h) => h.resumedAt >= command.since)
        .map((h) => h.resumedAt - command.since)
        .sort((a, b) => a - b);
      return {
        sessions: sessions.length,
        resumed: times.length,
        closed: sessions.filter((h) => h.closedWith).length,
        closeCodes: [...new Set(sessions.flatMap((h) => (h.closedWith ? [h.closedWith] : [])))],
        resumes: sessions.reduce((n, h) => n + h.resumes, 0),
        /** States of the sessions that did not resume, to tell stuck from late. */
        notResumed: countOf(
          sessions
            .filter((h) => h.resumedAt < command.since)
            .map((h) => (h.runner ? h.runner.session.state : "tls-dialling")),
        ),
        failedDials,
        linksLost,
        times,
      };
    },

    close: () => {
      closing = true;
      for (const h of held) {
        h.runner?.close();
        h.tls?.destroy();
      }
      held.length = 0;
      return true;
    },
  };
}
