/** `lifeline doctor`: flags → DoctorConfig → a report on stdout and an exit code (0 good, 1 degraded, 2 bad). */
import { Command } from "commander";
import { findToken } from "../client/token.js";
import { chooseVerification } from "../client/verify.js";
import { parseHostPort } from "../ops/address.js";
import { diagnose, formatReport, type DoctorConfig } from "../ops/doctor.js";
import { addTrustOptions, durationOption, portNumber } from "./options.js";

interface DoctorFlags {
  srPort?: number;
  directPort: number;
  ca?: string;
  pin: string[];
  knownHosts?: string;
  tokenFile?: string;
  stateDir: string;
  timeout: number;
  json?: boolean;
}

const DEFAULT_SR_PORT = 2598;

export function doctorCommand(): Command {
  const command = new Command("doctor")
    .exitOverride()
    .description(
      "check, from this machine, what a user's connection to HOST will do: the reliability port (TLS, certificate, " +
        "protocol, token) and the direct fallback port. Exit status: 0 all good, 1 degraded, 2 no usable path or a security failure",
    )
    .argument("<host[:port]>", "the lifeline server (a port here sets the reliability port)")
    .option("--sr-port <port>", `the reliability port (default: ${DEFAULT_SR_PORT})`, portNumber)
    .option("--direct-port <port>", "the direct port users fall back to", portNumber, 1494);
  return addTrustOptions(command)
    .addOption(durationOption("--timeout <duration>", "time allowed for each check", 5000))
    .option("--json", "print one JSON object instead of text")
    .action(async (hostArg: string, flags: DoctorFlags) => {
      let config: DoctorConfig;
      try {
        config = buildConfig(hostArg, flags);
      } catch (err) {
        process.stderr.write(`lifeline doctor: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        const report = await diagnose(config);
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
        process.exitCode = report.exitCode;
      } catch (err) {
        process.stderr.write(`lifeline doctor: the checks could not run: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

function buildConfig(hostArg: string, flags: DoctorFlags): DoctorConfig {
  const { host, port } = parseHostPort(hostArg, flags.srPort ?? DEFAULT_SR_PORT);
  if (flags.srPort !== undefined && port !== flags.srPort)
    throw new Error(`${hostArg} and --sr-port ${flags.srPort} name different reliability ports`);
  return {
    host,
    reliabilityPort: port,
    directPort: flags.directPort,
    verification: chooseVerification(flags),
    token: findToken(flags.tokenFile, flags.stateDir),
    timeoutMs: flags.timeout,
  };
}
