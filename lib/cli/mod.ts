/**
 * The `djdns` command line: dispatch to subcommands, `--help`, `--version`, and the one-line
 * error (exit status 2) for bad arguments.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { resolveMain } from "./resolve.ts";
import { runMain } from "./run.ts";
import { UsageError } from "./usage.ts";

/** Top-level help. */
export const HELP = `djdns ${VERSION}: a decentralized DNS server

Usage: djdns COMMAND [OPTIONS]

Commands:
  run                      serve DNS (UDP and TCP) from the registry, forwarding other names
  resolve NAME [TYPE]      look one name up through the registry, optionally with --trace
  page import|export|show  signed pages in the data directory
  store stats|prune|verify|repair
                           inspect, prune, check or repair the data directory
  deje serialize|state     legacy DEJE documents: serializer and state of the tip

Options:
  -h, --help               show help (also after any command)
  -V, --version            print the version

Run 'djdns COMMAND --help' for the options of a command.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: () => Promise.resolve(runMain),
  resolve: () => Promise.resolve(resolveMain),
  // Loaded on demand: the server does not need the store or the DEJE code to start.
  page: async () => (await import("./page.ts")).pageMain,
  store: async () => (await import("./store.ts")).storeMain,
  deje: async () => (await import("./deje.ts")).dejeMain,
};

/** Runs the CLI with `args` (without the program name); returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      console.log(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === "-V" || command === "--version") {
      console.log(`djdns ${VERSION}`);
      return 0;
    }
    const load = COMMANDS[command];
    if (!load) throw new UsageError(`unknown command '${command}'`);
    return await (await load())(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(
        `djdns: ${e.message} (see 'djdns ${COMMANDS[command] ? command + " " : ""}--help')`,
      );
      return 2;
    }
    throw e;
  }
}
