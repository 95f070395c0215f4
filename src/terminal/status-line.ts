/**
 * The one line `lifeline attach` draws at the bottom of the user's terminal while the link is down,
 * in plain words. Pure: returns escape sequences; the caller writes them.
 */

export interface OutageView {
  secondsLeft: number;
  keystrokes: number;
  /** The send buffer is full: typing is not read any more. */
  inputStopped: boolean;
}

export function outageText(view: OutageView): string {
  const typed = `${view.keystrokes} keystroke${view.keystrokes === 1 ? "" : "s"} buffered`;
  const input = view.inputStopped ? `buffer full (${typed}): input stopped` : typed;
  return `connection lost, reconnecting, ${view.secondsLeft} s left, ${input}`;
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
