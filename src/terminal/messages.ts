/**
 * The terminal protocol between `lifeline attach` and `lifeline host` (docs/TERMINAL.md): framed
 * messages on one byte stream, which is a lifeline channel (or, as a fallback, a direct TCP
 * connection). Each message is `type u8 | length u32 (big-endian) | payload`. Control payloads are
 * UTF-8 JSON; INPUT and OUTPUT carry raw terminal bytes. Pure: no sockets, no timers.
 */
import { concatBytes, readU32, writeU32 } from "../core/bytes.js";

export const TERMINAL_PROTOCOL_VERSION = 1;

/** A message larger than this is a protocol error: terminal traffic comes in small pieces. */
export const MAX_MESSAGE_PAYLOAD = 1024 * 1024;

const HEADER = 5;

export const MessageType = {
  // attach → host
  Hello: 0x01,
  New: 0x02,
  Attach: 0x03,
  List: 0x04,
  Input: 0x05,
  Resize: 0x06,
  // host → attach
  Ready: 0x81,
  Attached: 0x82,
  Sessions: 0x83,
  Output: 0x84,
  Exit: 0x85,
  Error: 0x86,
} as const;

export interface WindowSize {
  cols: number;
  rows: number;
}

export interface SessionSummary {
  id: string;
  command: string;
  /** Seconds since the session started. */
  ageSeconds: number;
  /** Seconds since a client was last attached (0 while one is). */
  idleSeconds: number;
  attached: boolean;
  cols: number;
  rows: number;
}

export type TerminalMessage =
  | { type: "hello"; version: number; token?: string }
  | { type: "new"; size: WindowSize; term: string }
  | { type: "attach"; id: string; size: WindowSize }
  | { type: "list" }
  | { type: "input"; bytes: Uint8Array }
  | { type: "resize"; size: WindowSize }
  | { type: "ready"; version: number }
  /** `created`: a new session; otherwise the recent output follows as OUTPUT. */
  | { type: "attached"; id: string; created: boolean }
  | { type: "sessions"; sessions: SessionSummary[] }
  | { type: "output"; bytes: Uint8Array }
  | { type: "exit"; code: number | null; signal: number | null }
  | { type: "error"; code: string; message: string };

const TYPE_CODES: Record<TerminalMessage["type"], number> = {
  hello: MessageType.Hello,
  new: MessageType.New,
  attach: MessageType.Attach,
  list: MessageType.List,
  input: MessageType.Input,
  resize: MessageType.Resize,
  ready: MessageType.Ready,
  attached: MessageType.Attached,
  sessions: MessageType.Sessions,
  output: MessageType.Output,
  exit: MessageType.Exit,
  error: MessageType.Error,
};

const TYPE_NAMES = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]));

export class TerminalProtocolError extends Error {
  override readonly name = "TerminalProtocolError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeMessage(message: TerminalMessage): Uint8Array {
  const payload =
    message.type === "input" || message.type === "output"
      ? message.bytes
      : encoder.encode(JSON.stringify((({ type: _, ...rest }) => rest)(message)));
  if (payload.length > MAX_MESSAGE_PAYLOAD)
    throw new TerminalProtocolError(`message of ${payload.length} bytes exceeds ${MAX_MESSAGE_PAYLOAD}`);
  const header = new Uint8Array(HEADER);
  header[0] = TYPE_CODES[message.type];
  writeU32(header, 1, payload.length);
  return concatBytes([header, payload]);
}

/** Splits a byte stream into messages, whatever the chunk boundaries. */
export class MessageDecoder {
  private pending: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): TerminalMessage[] {
    this.pending = this.pending.length ? concatBytes([this.pending, chunk]) : chunk;
    const out: TerminalMessage[] = [];
    let at = 0;
    while (this.pending.length - at >= HEADER) {
      const code = this.pending[at] as number;
      const length = readU32(this.pending, at + 1);
      const name = TYPE_NAMES.get(code);
      if (!name) throw new TerminalProtocolError(`unknown message type 0x${code.toString(16)}`);
      if (length > MAX_MESSAGE_PAYLOAD)
        throw new TerminalProtocolError(`message of ${length} bytes exceeds ${MAX_MESSAGE_PAYLOAD}`);
      if (this.pending.length - at - HEADER < length) break;
      const payload = this.pending.slice(at + HEADER, at + HEADER + length);
      at += HEADER + length;
      out.push(parse(name as TerminalMessage["type"], payload));
    }
    this.pending = this.pending.slice(at);
    return out;
  }
}

function parse(type: TerminalMessage["type"], payload: Uint8Array): TerminalMessage {
  if (type === "input" || type === "output") return { type, bytes: payload };
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch {
    throw new TerminalProtocolError(`${type}: payload is not UTF-8 JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new TerminalProtocolError(`${type}: payload is not a JSON object`);
  const message = { ...(body as Record<string, unknown>), type } as TerminalMessage;
  validate(message);
  return message;
}

const isSize = (s: unknown): s is WindowSize =>
  typeof s === "object" &&
  s !== null &&
  Number.isInteger((s as WindowSize).cols) &&
  Number.isInteger((s as WindowSize).rows) &&
  (s as WindowSize).cols > 0 &&
  (s as WindowSize).rows > 0 &&
  (s as WindowSize).cols <= 4096 &&
  (s as WindowSize).rows <= 4096;

/** Checks the fields a receiver relies on; anything else in the JSON is ignored. */
function validate(m: TerminalMessage): void {
  const bad = (what: string): never => {
    throw new TerminalProtocolError(`${m.type}: ${what}`);
  };
  switch (m.type) {
    case "hello":
      if (!Number.isInteger(m.version)) bad("version must be an integer");
      if (m.token !== undefined && typeof m.token !== "string") bad("token must be a string");
      break;
    case "new":
      if (!isSize(m.size)) bad("size must be {cols, rows}, 1 to 4096 each");
      if (typeof m.term !== "string" || !/^[\w.+-]{1,64}$/.test(m.term)) bad("term must be a terminal name");
      break;
    case "attach":
      if (typeof m.id !== "string" || !/^[\w-]{1,64}$/.test(m.id)) bad("id must be a session id");
      if (!isSize(m.size)) bad("size must be {cols, rows}, 1 to 4096 each");
      break;
    case "resize":
      if (!isSize(m.size)) bad("size must be {cols, rows}, 1 to 4096 each");
      break;
    case "ready":
      if (!Number.isInteger(m.version)) bad("version must be an integer");
      break;
    case "attached":
      if (typeof m.id !== "string" || typeof m.created !== "boolean") bad("needs id and created");
      break;
    case "sessions":
      if (!Array.isArray(m.sessions)) bad("sessions must be a list");
      break;
    case "exit":
      if (m.code !== null && !Number.isInteger(m.code)) bad("code must be an integer or null");
      if (m.signal !== null && !Number.isInteger(m.signal)) bad("signal must be an integer or null");
      break;
    case "error":
      if (typeof m.code !== "string" || typeof m.message !== "string") bad("needs code and message");
      break;
    default:
      break;
  }
}
