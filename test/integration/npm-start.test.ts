/**
 * `npm start`, as README offers it: the SIGTERM that npm passes on must reach serve itself, not only
 * the shell npm runs the script in, or serve keeps running, orphaned, when its supervisor stops npm.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LifelineProcess, stateDir } from "../support/procs.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("npm start passes SIGTERM on to serve, which stops cleanly", { timeout: 60_000 }, async (t) => {
  const dir = stateDir(t);
  const npm = spawn("npm", ["start", "--silent", "--", "--listen", "127.0.0.1:0", "--state-dir", dir], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const proc = new LifelineProcess(npm);
  t.after(() => proc.kill());
  const socket = await proc.waitFor("admin.listening", (r) => r.endpoint === "socket");
  const servePid = Number(/serve-(\d+)\.sock$/.exec(String(socket.path))?.[1]);
  // Should npm's signal not reach serve, the test still ends it, by the PID its admin socket names.
  t.after(() => {
    try {
      process.kill(servePid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  });
  assert.ok(servePid > 0 && servePid !== npm.pid, "serve runs in a process of its own");

  npm.kill("SIGTERM");
  await proc.waitFor("server.stopped", () => true, 15_000);
  await proc.exited;
});
