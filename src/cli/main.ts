/** Command-line entry point: parses arguments and hands over to the roles. */
import { Command, CommanderError, Help, type Option } from "commander";
import { attachCommand } from "./attach.js";
import { connectCommand } from "./connect.js";
import { demoCommand } from "./demo.js";
import { doctorCommand } from "./doctor.js";
import { hostCommand } from "./host.js";
import { serveCommand } from "./serve.js";
import { statusCommand } from "./status.js";
import { VERSION } from "../ops/version.js";

/**
 * Help that also shows the default of an option whose value is worked out at start
 * (computedDefaultOption): commander shows only defaults that are values.
 */
const help = {
  optionDescription(this: Help, option: Option): string {
    const text = Help.prototype.optionDescription.call(this, option);
    const computed = option.defaultValue === undefined && option.defaultValueDescription;
    return computed ? `${text} (default: ${option.defaultValueDescription})` : text;
  },
};

export function buildProgram(): Command {
  const program = new Command("lifeline")
    .description(
      "Session reliability for any TCP protocol: a TLS tunnel whose sessions survive link loss, roaming and silent black-holes.",
    )
    .exitOverride()
    .version(VERSION, "-V, --version")
    .addCommand(serveCommand())
    .addCommand(connectCommand())
    .addCommand(statusCommand())
    .addCommand(doctorCommand())
    .addCommand(hostCommand())
    .addCommand(attachCommand())
    .addCommand(demoCommand());
  for (const command of program.commands) command.configureHelp(help);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  // The parser has already printed its message; a bad command line exits with 2, like other start-up failures.
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : 2;
}
