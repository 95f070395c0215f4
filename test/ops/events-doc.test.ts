/** docs/EVENTS.md is the catalogue: every event code the code can emit is documented there. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EVENT_CODES } from "../../src/ops/log.js";

const doc = readFileSync(new URL("../../../docs/EVENTS.md", import.meta.url), "utf8");

/** Whether the catalogue has a table row whose first cell is `code`. */
function documented(code: string): boolean {
  return new RegExp(`^\\| \`${code.replace(".", "\\.")}\`\\s*\\|`, "m").test(doc);
}

test("every log event code has a row in docs/EVENTS.md", () => {
  for (const code of EVENT_CODES) assert.ok(documented(code), `${code} is documented`);
});

test("every session event type of the core is documented", () => {
  const events = readFileSync(new URL("../../../src/core/session/events.ts", import.meta.url), "utf8");
  const types = [...events.matchAll(/type: "([a-z-]+)"/g)].map((m) => m[1]);
  assert.ok(types.length >= 10);
  for (const type of types) assert.ok(documented(type as string), `${type} is documented`);
});
