/**
 * `lifeline attach` against a scripted host, without a network: what it sends around the
 * handshake, and how it ends when the host goes away or the session expires with input stopped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { PassThrough, type Duplex } from "node:stream";
import type { ChannelOutcome } from "../../src/client/runner.js";
import { EventLog } from "../../src/ops/log.js";
import { TerminalAttach } from "../../src/terminal/attach.js";
import {
  encodeMessage,
  MessageDecoder,
  TERMINAL_PROTOCOL_VERSION,
  type TerminalMessage,
} from "../../src/terminal/messages.js";

/** The host's end of attach's channel: what attach sent, and a way to answer. */
class ScriptedHost {
  channel!: Duplex;
  received: { message: TerminalMessage; afterAttached: boolean }[] = [];
  private attachedSent = false;
  private end!: (outcome: ChannelOutcome) => void;

  carry(local: Duplex): Promise<ChannelOutcome> {
    this.channel = local;
    const decoder = new MessageDecoder();
    local.on("data", (chunk: Buffer) => {
      for (const message of decoder.push(chunk))
        this.received.push({ message, afterAttached: this.attachedSent });
    });
    return new Promise((resolve) => (this.end = resolve));
  }

  answer(message: TerminalMessage): void {
    if (message.type === "attached") this.attachedSent = true;
    this.channel.write(encodeMessage(message));
  }

  close(outcome: ChannelOutcome): void {
    this.end(outcome);
  }

  types(): string[] {
    return this.received.map((r) => r.message.type);
  }
}

class FakeScreen extends EventEmitter {
  columns = 80;
  rows = 24;
  text = "";
  write(data: string | Uint8Array, done?: () => void): boolean {
    this.text += typeof data === "string" ? data : Buffer.from(data).toString();
    done?.();
    return true;
  }
}

const READY: TerminalMessage = { type: "ready", version: TERMINAL_PROTOCOL_VERSION };
const ATTACHED: TerminalMessage = { type: "attached", id: "a1", created: true };

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function start(host: ScriptedHost, log = new EventLog("attach", "silent")) {
  const input = new PassThrough();
  const screen = new FakeScreen();
  const attach = new TerminalAttach({
    carrier: host,
    log,
    token: "t",
    term: "xterm",
    input: input as unknown as NodeJS.ReadStream,
    output: screen as unknown as NodeJS.WriteStream,
  });
  return { input, screen, log, done: attach.run() };
}

test(
  "a window resized before ATTACHED is sent after it, never during the handshake",
  { timeout: 10_000 },
  async () => {
    const host = new ScriptedHost();
    const { screen } = start(host);
    await tick();
    host.answer(READY);
    await tick();
    screen.columns = 120;
    screen.emit("resize");
    await tick();
    assert.deepEqual(host.types(), ["hello", "new"]);
    host.answer(ATTACHED);
    await tick();
    assert.deepEqual(host.types(), ["hello", "new", "resize"]);
    const resize = host.received[2];
    assert.equal(resize?.afterAttached, true);
    assert.deepEqual(resize.message, { type: "resize", size: { cols: 120, rows: 24 } });
  },
);

test(
  "a channel the host closes without a last word ends attach, saying so",
  { timeout: 10_000 },
  async () => {
    const host = new ScriptedHost();
    const { screen, done } = start(host);
    await tick();
    host.answer(READY);
    host.answer(ATTACHED);
    await tick();
    host.channel.end(); // the host's side ends; the carrier waits for attach's side before it reports
    assert.equal(await done, 1);
    assert.match(screen.text, /\[lifeline: the host closed the connection\]/);
  },
);

test(
  "when the session expires while input is stopped, the keyboard is read again for r or q",
  { timeout: 10_000 },
  async () => {
    const host = new ScriptedHost();
    const { input, log, done } = start(host);
    await tick();
    host.answer(READY);
    host.answer(ATTACHED);
    await tick();
    // Nothing reads the channel now (the link is down): its buffer fills, input stops, and once
    // enough is held the keyboard is no longer read.
    host.channel.pause();
    for (let i = 0; i < 64 && !input.isPaused(); i++) {
      input.write("x".repeat(64 * 1024));
      await tick();
    }
    assert.equal(input.isPaused(), true, "the keyboard is paused");
    log.warn("session.expired", "expired");
    host.close("reset");
    await tick();
    input.write("q");
    assert.equal(await done, 1);
  },
);

/** Attached to the scripted host, which then stops reading: what is typed from then on is held. */
async function stopped(host: ScriptedHost) {
  const started = start(host);
  await tick();
  host.answer(READY);
  host.answer(ATTACHED);
  await tick();
  host.channel.pause();
  const typed: string[] = [];
  for (let i = 0; i < 200 && !started.screen.text.includes("input stopped"); i++) {
    const text = `line ${i}\r`;
    typed.push(text);
    started.input.write(text);
    await tick();
  }
  // And some more, held.
  for (const text of ["held 1\r", "held 2\r"]) {
    typed.push(text);
    started.input.write(text);
    await tick();
  }
  assert.match(started.screen.text, /input stopped.*Ctrl-\] d detaches/);
  return { ...started, typed };
}

const digest = (text: string): string => createHash("sha256").update(text).digest("hex");

function inputSent(host: ScriptedHost): string {
  return host.received
    .map((r) => r.message)
    .filter((m) => m.type === "input")
    .map((m) => Buffer.from(m.bytes).toString())
    .join("");
}

test("with input stopped, the keyboard is still read for Ctrl-] d", { timeout: 10_000 }, async () => {
  const host = new ScriptedHost();
  const { input, screen, done } = await stopped(host);
  input.write("\x1dd");
  assert.equal(await done, 0);
  assert.match(screen.text, /\[lifeline: detached; the session keeps running: lifeline attach a1\]/);
  const [lastDraw, lastClear] = [screen.text.lastIndexOf("\x1b[7m"), screen.text.lastIndexOf("\x1b[2K")];
  assert.ok(lastClear > lastDraw, "the status line is erased before attach leaves");
});

test(
  "what is typed while input is stopped goes out in order once the host takes input again",
  { timeout: 10_000 },
  async () => {
    const host = new ScriptedHost();
    const { input, typed } = await stopped(host);
    input.write("after\r");
    host.channel.resume();
    for (let i = 0; i < 50 && !inputSent(host).endsWith("after\r"); i++) await tick();
    assert.equal(inputSent(host), `${typed.join("")}after\r`);
  },
);

test(
  "a paste beyond what attach holds pauses the keyboard; every byte goes out, in order, once the host reads again",
  { timeout: 20_000 },
  async () => {
    const host = new ScriptedHost();
    const { input, screen, typed } = await stopped(host);
    const paste = Buffer.alloc(1100 * 1024);
    for (let i = 0; i < paste.length; i++) paste[i] = 0x61 + (i % 26);
    let written = 0;
    while (written < paste.length && !input.isPaused()) {
      input.write(paste.subarray(written, written + 64 * 1024));
      written = Math.min(paste.length, written + 64 * 1024);
      await tick();
    }
    assert.equal(input.isPaused(), true, "the keyboard is paused beyond the hold");
    assert.match(screen.text, /input stopped.*keyboard paused/);
    const drawn = screen.text.length;
    host.channel.resume();
    const expected = typed.join("") + paste.subarray(0, written).toString();
    for (let i = 0; i < 2000 && inputSent(host).length < expected.length; i++) await tick();
    const sent = inputSent(host);
    // Compared by length and digest: a failure must not print a megabyte.
    assert.equal(sent.length, expected.length, "every byte typed, once");
    assert.equal(digest(sent), digest(expected), "in order");
    assert.equal(input.isPaused(), false, "the keyboard is read again");
    assert.ok(screen.text.slice(drawn).includes("\x1b[2K"), "the status line is erased");
  },
);
