/**
 * `djdns config check|example`: validate a configuration file for `djdns run`, or print a
 * commented example with every key.
 *
 * @module
 */
import { ConfigError, exampleConfig, readConfig } from "../config/mod.ts";
import { RUN_HELP, RUN_OPTIONS } from "./run.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns config`. */
export const CONFIG_HELP = `Usage: djdns config check FILE
       djdns config example

Configuration files of 'djdns run --config FILE' (TOML). Every key is a 'djdns run' option
without its dashes ('listen = ["127.0.0.1:53"]', 'upstream-timeout = 1500'); a flag given on
the command line overrides the key.

Commands:
  check FILE               parse FILE ('-' for standard input) and check every key and value
                           type; exit 0 when it is usable, 1 with the reason otherwise
  example                  print a commented configuration with every key and its meaning

Options:
  -h, --help               show this help`;

/** Runs `djdns config …`. Returns the exit status. */
export async function configMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(CONFIG_HELP);
    return 0;
  }
  const [sub, file] = positionals;
  if (sub === "example") {
    if (file !== undefined) throw new UsageError(`unexpected argument '${file}'`);
    console.log(exampleConfig(RUN_HELP, RUN_OPTIONS));
    return 0;
  }
  if (sub === "check") {
    if (file === undefined) throw new UsageError("config check needs a FILE");
    try {
      const values = await readConfig(file, RUN_OPTIONS);
      console.log(`${file}: ok (${Object.keys(values).length} key(s))`);
      return 0;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(`djdns: ${e.message}`);
      return 1;
    }
  }
  throw new UsageError(
    sub === undefined ? "config needs check or example" : `unknown config command '${sub}'`,
  );
}
