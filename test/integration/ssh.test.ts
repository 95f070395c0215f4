/**
 * Acceptance (issue 3, point 8): a real OpenSSH client and server through
 * `lifeline connect --stdio` (as ssh's ProxyCommand) → `lifeline serve` → sshd. The link is cut
 * three times during a 100 MB upload, and the server-side checksum matches what was sent.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { FaultProxy, listen, pseudoRandom } from "../support/net-fixtures.js";
import { BIN, nodeFlags } from "../../src/cli/command.js";
import { stateDir } from "../support/procs.js";
import { connectArgs, startServe } from "../support/setup.js";

const SSHD = "/usr/sbin/sshd";
const skip =
  !existsSync(SSHD) || !existsSync("/usr/bin/ssh")
    ? "needs openssh-server and openssh-client (./scripts/setup)"
    : undefined;
const TOTAL = 100 * 1024 * 1024;

test(
  "an OpenSSH session through lifeline survives link cuts during a 100 MB transfer",
  { skip, timeout: 180_000 },
  async (t) => {
    const dir = stateDir(t);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "client_key")]);
    execFileSync("cp", [join(dir, "client_key.pub"), join(dir, "authorized_keys")]);
    // sshd's privilege-separation directory; systemd normally creates it at boot.
    if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });

    const sshdPort = await freePort(t);
    writeFileSync(
      join(dir, "sshd_config"),
      [
        `Port ${sshdPort}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host_key")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "",
      ].join("\n"),
    );
    const sshd = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    t.after(() => sshd.kill("SIGKILL"));
    await new Promise<void>((resolve, reject) => {
      let text = "";
      sshd.stderr.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("Server listening")) resolve();
      });
      sshd.once("exit", (code) => reject(new Error(`sshd exited ${code}: ${text}`)));
    });

    const served = await startServe(t, sshdPort);
    const proxy = new FaultProxy(served.port);
    const proxyPort = await listen(t, proxy.server);
    const proxyCommand = [
      process.execPath,
      ...nodeFlags(),
      BIN,
      // At info, so that its resumes show on ssh's stderr (--stdio logs warnings only by default).
      ...connectArgs(proxyPort, served, stateDir(t), ["--no-fallback", "--log-level", "info"], ["--stdio"]),
    ].join(" ");
    const ssh = spawn(
      "ssh",
      [
        "-o",
        `ProxyCommand=${proxyCommand}`,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        "-i",
        join(dir, "client_key"),
        `${process.env.USER ?? "root"}@lifeline-test`,
        "sha256sum",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    t.after(() => ssh.kill("SIGKILL"));
    let stderr = "";
    ssh.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let stdout = "";
    ssh.stdout.on("data", (d: Buffer) => (stdout += d.toString()));

    const next = pseudoRandom(100);
    const sent = createHash("sha256");
    const cutsAt = [20, 50, 80].map((mb) => mb * 1024 * 1024);
    let written = 0;
    await new Promise<void>((resolve, reject) => {
      ssh.stdin.on("error", reject);
      const more = (): void => {
        while (written < TOTAL) {
          const chunk = next(64 * 1024);
          sent.update(chunk);
          written += chunk.length;
          if (cutsAt.length > 0 && written >= (cutsAt[0] as number) && proxy.cut()) cutsAt.shift();
          if (!ssh.stdin.write(chunk)) {
            ssh.stdin.once("drain", more);
            return;
          }
        }
        ssh.stdin.end();
        resolve();
      };
      more();
    });
    const code = await new Promise<number | null>((resolve) => ssh.once("exit", resolve));
    assert.equal(code, 0, `ssh succeeded; stderr:\n${stderr}`);
    assert.equal(stdout.split(/\s+/)[0], sent.digest("hex"), "sshd's side computed the same SHA-256");
    assert.equal(proxy.cuts, 3, "the link was cut three times mid-transfer");
    const resumes = stderr.split("\n").filter((line) => line.includes('"event":"session.resumed"'));
    assert.equal(resumes.length, 3, "lifeline connect resumed after every cut");
  },
);

async function freePort(t: TestContext): Promise<number> {
  const server = createServer();
  const port = await listen(t, server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}
