/** Command-line entry point: parses arguments and hands over to the roles. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { connectCommand } from "./connect.js";
import { serveCommand } from "./serve.js";

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(): Command {
  return new Command("lifeline")
    .description(
      "Session reliability for any TCP protocol: a TLS tunnel whose sessions survive link loss, roaming and silent black-holes.",
    )
    .version(pkg.version, "-V, --version")
    .addCommand(serveCommand())
    .addCommand(connectCommand());
}

await buildProgram().parseAsync(process.argv);
