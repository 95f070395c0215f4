/**
 * The dialer against in-process servers on loopback: a server that accepts TCP at once but starts
 * TLS late, as `serve` does for connections waiting their turn in a reconnect storm.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir, type NetworkInterfaceInfo } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { AddressWatch } from "../../src/client/address-watch.js";
import { openTls, UnreachableError } from "../../src/client/dialer.js";
import { ensureCertificate } from "../../src/server/credentials.js";
import { listen } from "../support/net-fixtures.js";

/** A server that holds each connection `holdMs` before its TLS handshake (forever when undefined). */
async function lateTls(t: TestContext, holdMs: number | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-dialer-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await ensureCertificate(dir);
  const tls = createTlsServer({ cert, key });
  const listener = createNetServer((raw) => {
    raw.on("error", () => undefined);
    t.after(() => raw.destroy());
    if (holdMs !== undefined) setTimeout(() => tls.emit("connection", raw), holdMs);
  });
  return listen(t, listener);
}

test("a TLS handshake may take longer than the dial timeout once TCP is up", async (t) => {
  const port = await lateTls(t, 400);
  const { socket } = await openTls({ host: "127.0.0.1", port }, { mode: "pin", pins: ["unused"] }, 200);
  socket.destroy();
});

test("a server that never starts TLS is given up on, as unreachable", async (t) => {
  const port = await lateTls(t, undefined);
  await assert.rejects(openTls({ host: "127.0.0.1", port }, { mode: "pin", pins: ["unused"] }, 50), (err) => {
    assert.ok(err instanceof UnreachableError);
    assert.equal(err.code, "TIMEOUT");
    assert.match(err.message, /connected, but no TLS handshake within 150 ms/);
    return true;
  });
});

test("a connection that came up in time is not judged late when the process was busy", async (t) => {
  const port = await lateTls(t, 0);
  const dialing = openTls({ host: "127.0.0.1", port }, { mode: "pin", pins: ["unused"] }, 50, 10_000);
  // The process is busy past the dial timeout. Then the next turn of the event loop finds the timer
  // due and the connection up (on loopback, the kernel completes it at once) together.
  const busyUntil = performance.now() + 300;
  while (performance.now() < busyUntil);
  const { socket } = await dialing;
  socket.destroy();
});

test(
  "a dial waiting for TLS is given up at once when its local address leaves the machine",
  { timeout: 10_000 },
  async (t) => {
    const port = await lateTls(t, undefined);
    // The interfaces as the watch sees them: loopback, until it is "gone" (the host's own are never touched).
    let addresses = ["127.0.0.1"];
    const watch = new AddressWatch(
      () => ({ lo: addresses.map((address) => ({ address }) as NetworkInterfaceInfo) }),
      3_600_000,
    );
    watch.check(); // the reading a socket connected from now on is judged by
    const dialing = openTls(
      { host: "127.0.0.1", port },
      { mode: "pin", pins: ["unused"] },
      5000,
      60_000,
      watch,
    );
    const settled = dialing.then(
      () => "connected",
      (err: unknown) => err,
    );
    // TCP is up (the server holds TLS forever) once the dial watches its address.
    while (watch.size === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    addresses = ["10.99.0.3"];
    watch.check();
    watch.check();
    const err = await settled;
    assert.ok(err instanceof UnreachableError, `rejected as unreachable, not ${String(err)}`);
    assert.equal(err.code, "ADDRESS_GONE");
    assert.match(err.message, /the local address 127\.0\.0\.1 left this machine before TLS completed/);
  },
);
