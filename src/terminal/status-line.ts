import type { SessionSummary } from "./messages.js";

/**
 * What `lifeline attach` writes of its own into the user's terminal: the one line at the bottom
 * while the link is down, in plain words, and the session list. Pure: returns text and escape
 * sequences; the caller writes them.
 */

export interface OutageView {
  secondsLeft: number;
  keystrokes: number;
  /** The send buffer is full: typing is not read any more. */
  inputStopped: boolean;
}

/** The status line's text for a terminal `cols` wide: shorter words when the full ones do not fit. */
export function outageText(view: OutageView, cols = Infinity): string {
  const typed = `${view.keystrokes} keystroke${view.keystrokes === 1 ? "" : "s"} buffered`;
  const input = view.inputStopped ? `buffer full (${typed}): input stopped` : typed;
  const full = `connection lost, reconnecting, ${view.secondsLeft} s left, ${input}`;
  if (full.length <= cols) return full;
  // What matters most first, so that a narrow terminal still says whether typing is taken.
  const short = view.inputStopped ? "input stopped (buffer full)" : `${view.keystrokes} typed`;
  return `connection lost, ${view.secondsLeft} s left, ${short}`;
}

/**
 * While connected, input stopped: the remote program (or its host) is not taking what is typed.
 * Ctrl-] d is offered only while the keyboard is still read.
 */
export function stoppedText(heldBytes: number, keyboardPaused: boolean, cols = Infinity): string {
  const what = keyboardPaused ? "keyboard paused" : "Ctrl-] d detaches";
  const full = `input stopped: the program is not reading (${heldBytes} keystrokes held); ${what}`;
  return full.length <= cols ? full : `input stopped; ${what}`;
}

const ESC = "\x1b";

/** Draws `text` in reverse video on the last row, leaving the cursor where it was. */
export function drawStatusLine(text: string, cols: number, rows: number): string {
  const fitted = text.length > cols ? text.slice(0, cols) : text.padEnd(cols);
  return `${ESC}7${ESC}[${rows};1H${ESC}[7m${fitted}${ESC}[0m${ESC}8`;
}

/** Erases the last row, leaving the cursor where it was. */
export function clearStatusLine(rows: number): string {
  return `${ESC}7${ESC}[${rows};1H${ESC}[2K${ESC}8`;
}

/** `lifeline attach --list`: the host's sessions, one per line (CRLF: the terminal is raw). */
export function formatSessions(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return "no sessions on the host\r\n";
  const rows = sessions.map(
    (s) =>
      `${s.id}  ${s.attached ? "attached" : `detached ${s.idleSeconds} s`}  ${s.cols}x${s.rows}  up ${s.ageSeconds} s  ${s.command}`,
  );
  return `${rows.join("\r\n")}\r\n`;
}
