import { test } from "node:test";
import assert from "node:assert/strict";
import { outageText, stoppedText } from "../../src/terminal/status-line.js";

test("the status line says in full what fits, and on a narrow terminal still whether input is taken", () => {
  const stopped = { secondsLeft: 175, keystrokes: 1234, inputStopped: true };
  assert.equal(
    outageText(stopped, 120),
    "connection lost, reconnecting, 175 s left, buffer full (1234 keystrokes buffered): input stopped",
  );
  assert.equal(outageText(stopped, 80), "connection lost, 175 s left, input stopped (buffer full)");
  const typing = { secondsLeft: 9, keystrokes: 1, inputStopped: false };
  assert.equal(outageText(typing, 80), "connection lost, reconnecting, 9 s left, 1 keystroke buffered");
  assert.equal(outageText(typing, 40), "connection lost, 9 s left, 1 typed");
});

test("while connected, input stopped says why and how to leave, in the width there is", () => {
  assert.equal(
    stoppedText(42, false, 120),
    "input stopped: the program is not reading (42 keystrokes held); Ctrl-] d detaches",
  );
  assert.equal(stoppedText(42, false, 60), "input stopped; Ctrl-] d detaches");
  assert.equal(stoppedText(2e6, true, 60), "input stopped; keyboard paused", "no promise it cannot keep");
});
