/** The terminal protocol codec (docs/TERMINAL.md): round trips, any chunking, and refused input. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { concatBytes } from "../../src/core/bytes.js";
import {
  encodeMessage,
  MAX_MESSAGE_PAYLOAD,
  MessageDecoder,
  MessageType,
  TerminalProtocolError,
  type TerminalMessage,
} from "../../src/terminal/messages.js";

const utf8 = new TextEncoder();

/** One message of every type, with the fields each carries. */
const every: TerminalMessage[] = [
  { type: "hello", version: 1, token: "s3cret" },
  { type: "hello", version: 1 },
  { type: "new", size: { cols: 100, rows: 30 }, term: "xterm-256color" },
  { type: "attach", id: "abcd2345", size: { cols: 80, rows: 24 } },
  { type: "list" },
  { type: "input", bytes: utf8.encode("ls -l\r") },
  { type: "resize", size: { cols: 4096, rows: 1 } },
  { type: "ready", version: 1 },
  { type: "attached", id: "abcd2345", created: true },
  {
    type: "sessions",
    sessions: [
      {
        id: "abcd2345",
        command: "/bin/bash",
        ageSeconds: 12,
        idleSeconds: 0,
        attached: true,
        cols: 80,
        rows: 24,
      },
    ],
  },
  { type: "sessions", sessions: [] },
  { type: "output", bytes: new Uint8Array([0x1b, 0x5b, 0x48, 0x00, 0xff, 0xc3]) },
  { type: "output", bytes: new Uint8Array(0) },
  { type: "exit", code: 3, signal: null },
  { type: "exit", code: null, signal: 9 },
  { type: "error", code: "AUTH_FAILED", message: "token not accepted ✗" },
];

/** A message's bytes with its header written by hand: `type`, then the payload's length. */
function raw(type: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? utf8.encode(payload) : payload;
  const header = new Uint8Array(5);
  header[0] = type;
  new DataView(header.buffer).setUint32(1, body.length);
  return concatBytes([header, body]);
}

function refused(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => new MessageDecoder().push(bytes),
    (err: unknown) => err instanceof TerminalProtocolError && pattern.test(err.message),
  );
}

test("every message type survives encode and decode", () => {
  for (const message of every) assert.deepEqual(new MessageDecoder().push(encodeMessage(message)), [message]);
});

test("the header is the type byte and the big-endian payload length", () => {
  const bytes = encodeMessage({ type: "input", bytes: utf8.encode("hi") });
  assert.deepEqual([...bytes], [MessageType.Input, 0, 0, 0, 2, 0x68, 0x69]);
  const list = encodeMessage({ type: "list" });
  assert.deepEqual([...list], [MessageType.List, 0, 0, 0, 2, 0x7b, 0x7d]);
});

test("one byte at a time gives the same messages as one chunk", () => {
  const stream = concatBytes(every.map(encodeMessage));
  const decoder = new MessageDecoder();
  const out: TerminalMessage[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
  assert.deepEqual(out, every);
  assert.deepEqual(new MessageDecoder().push(stream), every);
});

test("unknown JSON fields are ignored", () => {
  const [message] = new MessageDecoder().push(raw(MessageType.Ready, '{"version":1,"future":true}'));
  assert.equal(message?.type, "ready");
});

test("an unknown message type is refused", () => {
  refused(raw(0x07, "{}"), /unknown message type 0x7/);
  refused(raw(0x00, ""), /unknown message type 0x0/);
});

test("an oversized length is refused from the header alone", () => {
  const header = new Uint8Array([MessageType.Output, 0, 0, 0, 0]);
  new DataView(header.buffer).setUint32(1, MAX_MESSAGE_PAYLOAD + 1);
  refused(header, /exceeds/);
  new DataView(header.buffer).setUint32(1, 0xffff_ffff);
  refused(header, /exceeds/);
  // The largest allowed length is not refused: the decoder waits for the payload.
  new DataView(header.buffer).setUint32(1, MAX_MESSAGE_PAYLOAD);
  assert.deepEqual(new MessageDecoder().push(header), []);
});

test("an oversized message is not encoded", () => {
  assert.throws(
    () => encodeMessage({ type: "output", bytes: new Uint8Array(MAX_MESSAGE_PAYLOAD + 1) }),
    TerminalProtocolError,
  );
});

test("control payloads that are not UTF-8 JSON objects are refused", () => {
  refused(raw(MessageType.Hello, "{version:1"), /hello: payload is not UTF-8 JSON/);
  refused(raw(MessageType.Hello, new Uint8Array([0x7b, 0xff, 0x7d])), /not UTF-8 JSON/);
  refused(raw(MessageType.List, ""), /list: payload is not UTF-8 JSON/);
  refused(raw(MessageType.List, "[]"), /not a JSON object/);
  refused(raw(MessageType.List, "null"), /not a JSON object/);
});

test("missing or wrongly typed fields are refused", () => {
  refused(raw(MessageType.Hello, "{}"), /hello: version must be an integer/);
  refused(raw(MessageType.Hello, '{"version":1,"token":5}'), /token must be a string/);
  refused(raw(MessageType.New, '{"size":{"cols":80,"rows":24}}'), /term must be a terminal name/);
  refused(raw(MessageType.New, '{"size":{"cols":80,"rows":24},"term":"a b"}'), /term/);
  refused(raw(MessageType.Attach, '{"id":"../x","size":{"cols":80,"rows":24}}'), /id must be a session id/);
  refused(raw(MessageType.Attached, '{"id":"x"}'), /needs id and created/);
  refused(raw(MessageType.Sessions, '{"sessions":{}}'), /sessions must be a list/);
  refused(raw(MessageType.Exit, '{"code":1.5,"signal":null}'), /code must be an integer or null/);
  refused(raw(MessageType.Exit, '{"code":0}'), /signal must be an integer or null/);
  refused(raw(MessageType.Error, '{"code":"X"}'), /needs code and message/);
});

test("window sizes must be whole numbers from 1 to 4096", () => {
  for (const size of [
    "null",
    "{}",
    '{"cols":0,"rows":24}',
    '{"cols":80,"rows":-1}',
    '{"cols":4097,"rows":24}',
    '{"cols":80,"rows":4097}',
    '{"cols":80.5,"rows":24}',
    '{"cols":"80","rows":24}',
  ]) {
    refused(raw(MessageType.Resize, `{"size":${size}}`), /resize: size must be/);
    refused(raw(MessageType.New, `{"size":${size},"term":"xterm"}`), /new: size must be/);
    refused(raw(MessageType.Attach, `{"id":"a","size":${size}}`), /attach: size must be/);
  }
});

test("messages before a refused one are still returned by earlier pushes", () => {
  const decoder = new MessageDecoder();
  assert.deepEqual(decoder.push(encodeMessage({ type: "list" })), [{ type: "list" }]);
  assert.throws(() => decoder.push(raw(0x42, "")), TerminalProtocolError);
});
