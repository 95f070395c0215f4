/**
 * Acceptance (issue 3, point 6): fallback to the direct port when the reliability service cannot
 * be reached, a clear error and a non-zero exit when neither path works, and never a fallback after
 * a wrong certificate pin or a refused token.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { deadPort, echoTarget, FaultProxy, listen } from "../support/net-fixtures.js";
import { lifeline, runLifeline, stateDir, type LifelineProcess } from "../support/procs.js";
import { refusedWithoutFallback, startConnect, startServe } from "../support/setup.js";
import { until } from "../support/until.js";

async function roundTrip(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setEncoding("utf8");
    socket.write("hello");
    socket.once("data", (text: string) => {
      socket.destroy();
      resolve(text);
    });
    socket.once("close", () => resolve(undefined));
    socket.once("error", () => resolve(undefined));
  });
}

/** A token file holding a token serve does not know. */
function wrongTokenFile(t: TestContext): string {
  const file = join(stateDir(t), "wrong");
  writeFileSync(file, "not-the-token\n");
  return file;
}

test(
  "with nothing on the reliability port, connections go to the fallback address, with a warning",
  { timeout: 30_000 },
  async (t) => {
    const direct = echoTarget();
    const directPort = await listen(t, direct.server);
    const dir = stateDir(t);
    writeFileSync(join(dir, "token"), "x\n");
    const client = lifeline(t, [
      "connect",
      "--server",
      `127.0.0.1:${await deadPort()}`,
      "--listen",
      "127.0.0.1:0",
      "--fallback",
      `127.0.0.1:${directPort}`,
      "--token-file",
      join(dir, "token"),
      "--state-dir",
      dir,
    ]);
    const localPort = await client.port();
    assert.equal(await roundTrip(localPort), "hello");
    const used = await client.waitFor("fallback.used");
    assert.match(used.msg, /WITHOUT session reliability/);
    assert.equal(direct.connections(), 1);

    // While one is open, `lifeline status` names it.
    const open = connect(localPort, "127.0.0.1");
    t.after(() => open.destroy());
    await until(() => client.events("fallback.used").length === 2, "the second connection on the fallback");
    const status = await runLifeline(t, ["status", "--state-dir", dir]);
    assert.match(
      status.stdout,
      new RegExp(
        `1 connection WITHOUT session reliability: carried directly to 127\\.0\\.0\\.1:${directPort}`,
      ),
    );
  },
);

test(
  "with both paths down, --stdio fails with a clear error and a non-zero exit",
  { timeout: 30_000 },
  async (t) => {
    const dir = stateDir(t);
    writeFileSync(join(dir, "token"), "x\n");
    const client = lifeline(t, [
      "connect",
      "--stdio",
      "--server",
      `127.0.0.1:${await deadPort()}`,
      "--fallback",
      `127.0.0.1:${await deadPort()}`,
      "--token-file",
      join(dir, "token"),
      "--state-dir",
      dir,
    ]);
    const failed = await client.waitFor("fallback.failed");
    assert.match(failed.msg, /failed too/);
    assert.notEqual(await client.exited, 0);
  },
);

test(
  "a wrong certificate pin stops with a clear error and never falls back",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const served = await startServe(t, await listen(t, target.server));
    const direct = echoTarget();
    const wrongPin = `sha256:${Buffer.alloc(32, 7).toString("base64")}`;
    const client = await startConnect(t, served.port, { dir: served.dir, fingerprint: wrongPin }, [
      "--fallback",
      `127.0.0.1:${await listen(t, direct.server)}`,
    ]);
    assert.equal(await roundTrip(client.port), undefined, "the local connection is closed");
    await refusedWithoutFallback(client.connect, /fingerprint mismatch/, direct);
    assert.equal(target.connections(), 0);
  },
);

test(
  "a refused token stops with a clear error, never falls back, opens no target connection, and is not tried again for a minute",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const served = await startServe(t, await listen(t, target.server));
    const direct = echoTarget();
    const client = await startConnect(t, served.port, served, [
      "--token-file",
      wrongTokenFile(t),
      "--fallback",
      `127.0.0.1:${await listen(t, direct.server)}`,
    ]);
    assert.equal(await roundTrip(client.port), undefined);
    await refusedWithoutFallback(client.connect, /AUTH_FAILED/, direct);
    await served.serve.waitFor("auth.failed");
    assert.equal(target.connections(), 0, "a wrong token opens no target connection");

    // The next connections are refused at once, without asking the server again: each attempt
    // would count against the address, which other users behind the same NAT share.
    assert.equal(await roundTrip(client.port), undefined);
    assert.equal(await roundTrip(client.port), undefined);
    assert.equal(served.serve.events("auth.failed").length, 1, "the server was asked once");
    assert.equal(client.connect.events("security.failed").length, 1, "one error, not one per connection");
    assert.match(client.connect.events("security.failed")[0]?.msg ?? "", /refused for 60 s/);
    assert.equal(direct.connections(), 0, "and never the fallback");
  },
);

test(
  "RATE_LIMITED (another client's wrong tokens from this address) is not held off: the next connection asks again",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const served = await startServe(t, await listen(t, target.server), ["--max-auth-failures", "1"]);
    const wrong = await startConnect(t, served.port, served, [
      "--token-file",
      wrongTokenFile(t),
      "--no-fallback",
    ]);
    assert.equal(await roundTrip(wrong.port), undefined);
    await served.serve.waitFor("auth.failed");

    const right = await startConnect(t, served.port, served, ["--no-fallback"]);
    assert.equal(await roundTrip(right.port), undefined);
    assert.equal(await roundTrip(right.port), undefined);
    const failures = right.connect.events("security.failed");
    assert.equal(failures.length, 2, "each connection asked the server");
    for (const failure of failures) {
      assert.match(failure.msg, /RATE_LIMITED/);
      assert.doesNotMatch(failure.msg, /refused for 60 s/);
    }
  },
);

test(
  "trust on first use: the first certificate is remembered, a changed one is a hard error with no fallback",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const targetPort = await listen(t, target.server);
    const first = await startServe(t, targetPort);
    const second = await startServe(t, targetPort); // another state directory: another certificate
    const proxy = new FaultProxy(first.port);
    const proxyPort = await listen(t, proxy.server);
    const direct = echoTarget();
    const dir = stateDir(t);
    const client = lifeline(t, [
      "connect",
      "--server",
      `127.0.0.1:${proxyPort}`,
      "--listen",
      "127.0.0.1:0",
      "--known-hosts",
      join(dir, "known_hosts"),
      "--token-file",
      join(first.dir, "tokens"),
      "--fallback",
      `127.0.0.1:${await listen(t, direct.server)}`,
      "--state-dir",
      dir,
    ]);
    const port = await client.port();
    assert.equal(await roundTrip(port), "hello");
    const trusted = await client.waitFor("link.connected");
    assert.match(trusted.msg, /trusting .* on first use/);

    proxy.down = true; // the first server's session is abandoned...
    proxy.cut();
    await client.waitFor("link.lost");
    proxy.targetPort = second.port; // ...and the address now answers with another certificate
    proxy.down = false;
    await refusedWithoutFallback(client, /CHANGED/, direct);
    assert.equal(await roundTrip(port), undefined, "new connections are refused too, not sent elsewhere");
    assert.equal(direct.connections(), 0);
  },
);

test(
  "--ca trusts the server's own certificate by name, and refuses a certificate it did not sign",
  { timeout: 30_000 },
  async (t) => {
    const target = echoTarget();
    const targetPort = await listen(t, target.server);
    const served = await startServe(t, targetPort);
    const stranger = await startServe(t, targetPort);
    const connectWithCa = async (caDir: string): Promise<LifelineProcess> =>
      lifeline(t, [
        "connect",
        "--server",
        `localhost:${served.port}`,
        "--listen",
        "127.0.0.1:0",
        "--ca",
        join(caDir, "server.crt"),
        "--token-file",
        join(served.dir, "tokens"),
        "--no-fallback",
        "--state-dir",
        stateDir(t),
      ]);
    const trusting = await connectWithCa(served.dir);
    assert.equal(await roundTrip(await trusting.port()), "hello");

    const wrong = await connectWithCa(stranger.dir);
    assert.equal(await roundTrip(await wrong.port()), undefined);
    const failure = await wrong.waitFor("security.failed");
    assert.match(failure.msg, /not trusted/);
  },
);

test("fallback is on by default, to the same host's port 1494", { timeout: 30_000 }, async (t) => {
  const dir = stateDir(t);
  writeFileSync(join(dir, "token"), "x\n");
  const client = lifeline(t, [
    "connect",
    "--server",
    `127.0.0.1:${await deadPort()}`,
    "--listen",
    "127.0.0.1:0",
    "--token-file",
    join(dir, "token"),
    "--state-dir",
    dir,
  ]);
  void roundTrip(await client.port());
  // Whether or not something listens on 1494 here, the direct path to it was taken.
  const outcome = await Promise.race([client.waitFor("fallback.used"), client.waitFor("fallback.failed")]);
  assert.match(outcome.msg, /127\.0\.0\.1:1494/);
  assert.equal(client.events("link.failed").length, 0, "not refused for lack of a fallback");
});
