/**
 * Certificate rotation with pinned clients. `--pin` is repeatable, so a client can trust the old
 * and the new certificate at once: its session survives the reload that changes the server's
 * certificate, and its next resume meets the new one. A client pinning only the old certificate
 * refuses the new one and never falls back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { ensureCertificate, stateFiles } from "../../src/server/credentials.js";
import { echoTarget, FaultProxy, listen } from "../support/net-fixtures.js";
import { lifeline, stateDir } from "../support/procs.js";
import { connectArgs, refusedWithoutFallback, startConnect, startServe } from "../support/setup.js";

function echo(app: Socket, text: string): Promise<string> {
  app.write(text);
  return new Promise((resolve) => app.once("data", (d: Buffer) => resolve(d.toString())));
}

/** What a new application connection to `port` gets back for `text`; undefined if it is closed. */
function answer(port: number, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const app = connect(port, "127.0.0.1");
    app.on("error", () => resolve(undefined));
    app.on("close", () => resolve(undefined));
    app.once("data", (d: Buffer) => {
      resolve(d.toString());
      app.destroy();
    });
    app.write(text);
  });
}

function openApp(t: { after(fn: () => void): void }, port: number): Socket {
  const app = connect(port, "127.0.0.1").on("error", () => undefined);
  t.after(() => app.destroy());
  return app;
}

test(
  "certificate rotation: a client pinning the old and the new certificate resumes across the reload; the old pin alone refuses the new one",
  { timeout: 60_000 },
  async (t) => {
    const target = echoTarget();
    const served = await startServe(t, await listen(t, target.server));
    const nextDir = stateDir(t);
    const next = await ensureCertificate(nextDir); // the new pair, prepared ahead
    assert.notEqual(next.fingerprint, served.fingerprint);
    const proxy = new FaultProxy(served.port);
    const proxyPort = await listen(t, proxy.server);

    // Both pins from the configuration file, as a YAML list.
    const config = join(stateDir(t), "connect.yaml");
    writeFileSync(config, `pin:\n  - ${served.fingerprint}\n  - ${next.fingerprint}\n`);
    const args = connectArgs(proxyPort, served, stateDir(t), ["--config", config]);
    args.splice(args.indexOf("--pin"), 2);
    const both = lifeline(t, args);
    const bothApp = openApp(t, await both.port());

    const direct = echoTarget();
    const oldOnly = await startConnect(t, proxyPort, served, [
      "--fallback",
      `127.0.0.1:${await listen(t, direct.server)}`,
    ]);
    const oldApp = openApp(t, oldOnly.port);

    assert.equal(await echo(bothApp, "before"), "before");
    assert.equal(await echo(oldApp, "before"), "before");
    const session = (await both.waitFor("session.created")).session;

    // Rotation as OPERATIONS.md describes it: the new pair in place of the old one, then a reload.
    const [from, to] = [stateFiles(nextDir), stateFiles(served.dir)];
    copyFileSync(from.cert, to.cert);
    copyFileSync(from.key, to.key);
    served.serve.kill("SIGHUP");
    const reloaded = await served.serve.waitFor("config.reloaded");
    assert.equal(reloaded.fingerprint, next.fingerprint);
    // Running links keep the certificate they were opened with.
    assert.equal(await echo(bothApp, "during"), "during");

    proxy.cut();
    const resumed = await both.waitFor("session.resumed");
    assert.equal(resumed.session, session, "the same session, resumed over the new certificate");
    assert.equal(await echo(bothApp, "after"), "after");

    await refusedWithoutFallback(
      oldOnly.connect,
      `expected ${served.fingerprint}, got ${next.fingerprint}`,
      direct,
    );
    // A new connection to it, which would need a new session, does not fall back either.
    assert.equal(await answer(oldOnly.port, "again"), undefined);
    assert.equal(direct.connections(), 0);
  },
);
