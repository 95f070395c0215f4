/**
 * SIGHUP reloads tokens and the certificate without a restart: sessions opened with a revoked
 * token are closed, every other session carries on, and a broken token file changes nothing. The
 * log names the token of each session, when the token file gives it a name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { listen } from "../support/net-fixtures.js";
import type { StatusReport } from "../../src/ops/status-report.js";
import { lifeline, runLifeline, stateDir, type LifelineProcess } from "../support/procs.js";
import { served, startConnect, startServe } from "../support/setup.js";

function echo(app: Socket, text: string): Promise<string> {
  app.write(text);
  return new Promise((resolve) => app.once("data", (d: Buffer) => resolve(d.toString())));
}

test(
  "SIGHUP: a revoked token's session is closed, a kept token's session carries on, a new token works at once; the log names each session's token",
  { timeout: 30_000 },
  async (t) => {
    const target = createServer((s) => s.on("error", () => undefined).pipe(s));
    const tokens = join(stateDir(t), "tokens");
    writeFileSync(tokens, "token-kept # Ward 7\ntoken-revoked # Ward 9 laptops\n", { mode: 0o600 });
    const served = await startServe(t, await listen(t, target), ["--tokens", tokens]);
    const tokenFile = (token: string): string => {
      const path = join(stateDir(t), "token");
      writeFileSync(path, `${token}\n`);
      return path;
    };
    const kept = await startConnect(t, served.port, served, ["--token-file", tokenFile("token-kept")]);
    const revoked = await startConnect(t, served.port, served, ["--token-file", tokenFile("token-revoked")]);
    const keptApp = connect(kept.port, "127.0.0.1");
    const revokedApp = connect(revoked.port, "127.0.0.1").on("error", () => undefined); // reset when revoked
    t.after(() => {
      keptApp.destroy();
      revokedApp.destroy();
    });
    assert.equal(await echo(keptApp, "a"), "a");
    assert.equal(await echo(revokedApp, "b"), "b");

    writeFileSync(tokens, "token-kept # Ward 7 east\ntoken-new\n");
    served.serve.kill("SIGHUP");
    const reloaded = await served.serve.waitFor("config.reloaded");
    assert.equal(reloaded.revoked, 1);
    await new Promise((resolve) => (revokedApp.closed ? resolve(null) : revokedApp.once("close", resolve)));
    const closed = await revoked.connect.waitFor("session.closed");
    assert.equal(closed.code, "AUTH_FAILED");
    const revokedLine = await served.serve.waitFor("auth.failed", (r) => /revoked/.test(r.msg));
    assert.equal(revokedLine.tokenName, "Ward 9 laptops");
    assert.equal(await echo(keptApp, "still here"), "still here");
    const status = await runLifeline(t, ["status", "--state-dir", served.dir, "--json"]);
    const [serveReport] = JSON.parse(status.stdout) as StatusReport[];
    assert.deepEqual(
      serveReport?.sessions.map((session) => session.tokenName),
      ["Ward 7 east"],
      "lifeline status names the token of the session left, as the reloaded file does",
    );

    // The client's copy of its line, name and all: the client sends the token alone.
    const fresh = await startConnect(t, served.port, served, [
      "--token-file",
      tokenFile("token-new # Ward 3"),
    ]);
    const freshApp = connect(fresh.port, "127.0.0.1");
    t.after(() => freshApp.destroy());
    assert.equal(await echo(freshApp, "new"), "new");
    await served.serve.waitFor("session.created", (r) => r.tokenName === undefined);
    assert.deepEqual(
      served.serve
        .events("session.created")
        .map((r) => r.tokenName ?? "(none)")
        .sort(),
      ["(none)", "Ward 7", "Ward 9 laptops"],
      "a token without a name in the server's file is logged without one",
    );

    // A broken file is refused and the running tokens stay.
    writeFileSync(tokens, "# nobody\n");
    served.serve.kill("SIGHUP");
    const refused = await served.serve.waitFor("config.invalid");
    assert.match(refused.msg, /reload refused, still running with the previous tokens/);
    assert.equal(await echo(keptApp, "after"), "after");
    assert.equal(served.serve.child.exitCode, null);
  },
);

/** The arguments startConnect takes for a serve started by hand in state directory `dir`. */
async function servedAt(
  serve: LifelineProcess,
  dir: string,
): Promise<[number, { dir: string; fingerprint: string }]> {
  const { port, fingerprint } = await served(serve);
  return [port, { dir, fingerprint }];
}

/** A target that answers each piece of data with `label:` and the data, to tell targets apart. */
function labelled(label: string) {
  return createServer((s) => s.on("data", (d: Buffer) => s.write(`${label}:${d.toString()}`)));
}

test(
  "SIGHUP re-reads the config file: new channels reach the new targets, the session carries on, settings that need a restart are named, and a broken file changes nothing",
  { timeout: 30_000 },
  async (t) => {
    const portA = await listen(t, labelled("A"));
    const portB = await listen(t, labelled("B"));
    const dir = stateDir(t);
    const config = join(dir, "serve.yaml");
    writeFileSync(config, `target:\n  default: 127.0.0.1:${portA}\n`);
    const serve = lifeline(t, ["serve", "--listen", "127.0.0.1:0", "--state-dir", dir, "--config", config]);
    const client = await startConnect(t, ...(await servedAt(serve, dir)));
    const first = connect(client.port, "127.0.0.1");
    t.after(() => first.destroy());
    assert.equal(await echo(first, "x"), "A:x");

    writeFileSync(config, `target:\n  default: 127.0.0.1:${portB}\nbuffer: 8MiB\nlog-level: warn\n`);
    serve.kill("SIGHUP");
    const reloaded = await serve.waitFor("config.reloaded");
    assert.deepEqual(reloaded.targets, { default: `127.0.0.1:${portB}` });
    assert.deepEqual(reloaded.restartNeeded, ["buffer"]);
    assert.equal(reloaded.level, 40, "a setting waits for a restart: a warning");
    assert.equal(await echo(first, "y"), "A:y", "an open channel keeps its target");
    const second = connect(client.port, "127.0.0.1");
    t.after(() => second.destroy());
    assert.equal(await echo(second, "z"), "B:z", "a new channel of the same session reaches the new target");
    assert.equal(serve.events("session.created").length, 1);
    assert.equal(serve.events("channel.opened").length, 1, "the log level is warn now");

    writeFileSync(config, "target: [\n");
    serve.kill("SIGHUP");
    assert.match((await serve.waitFor("config.invalid")).msg, /reload refused.*not valid YAML/);
    const third = connect(client.port, "127.0.0.1");
    t.after(() => third.destroy());
    assert.equal(await echo(third, "w"), "B:w");
  },
);
