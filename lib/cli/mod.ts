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
  page new|show|log|list   create and inspect signed pages
  key new|show             a moderator's signing key
  propose PAGE-ID CHANGE   propose a change to a page (signed: your approval)
  approve PAGE-ID EVENT-ID approve a pending change
  delegate PAGE-ID         hand shares of your vote power to others (--to, --revoke)
  anchor export|show       write a page's trust anchor file; show the embedded root anchor
  checkpoint propose|approve
                           checkpoints that let new nodes skip old history
  status                   peers, followed pages and counters of a running node
  store stats|prune|verify|repair
                           inspect, prune, check or repair the data directory
  zone import|export       RFC 1035 zone files into a page (one proposal) and out of it
  import pages|deje        legacy DJDNS page directories and DEJE documents as signed pages
  prove NAME [TYPE]        write a portable proof of a registry answer
  testnet up|down          a local djdns network in one command
  verify-proof FILE        check a proof offline against a trust anchor
  store stats|prune        inspect or prune the data directory
  deje serialize|state     legacy DEJE documents: serializer and state of the tip
  config check|example     check a configuration file for run, or print an example

Options:
  -h, --help               show help (also after any command)
  -V, --version            print the version

Run 'djdns COMMAND --help' for the options of a command.`;

type Command = (args: string[]) => Promise<number>;

// Commands that take --node HOST:PORT reach a running node through the network client.
function withNodeClient(load: () => Promise<Command>): () => Promise<Command> {
  return async () => {
    await import("./node_client.ts");
    return await load();
  };
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: () => Promise.resolve(runMain),
  resolve: () => Promise.resolve(resolveMain),
  // Loaded on demand: `run` and `resolve` do not need these commands' code or the DEJE code to
  // start (they do load the store, through ./registry.ts, for the data directory).
  page: withNodeClient(async () => (await import("./page.ts")).pageMain),
  store: async () => (await import("./store.ts")).storeMain,
  deje: async () => (await import("./deje.ts")).dejeMain,
  config: async () => (await import("./config.ts")).configMain,
  // Moderator and operator tools (issue 10).
  key: async () => (await import("./key.ts")).keyMain,
  propose: withNodeClient(async () => (await import("./propose.ts")).proposeMain),
  approve: withNodeClient(async () => (await import("./propose.ts")).approveMain),
  delegate: withNodeClient(async () => (await import("./propose.ts")).delegateMain),
  anchor: withNodeClient(async () => (await import("./anchor.ts")).anchorMain),
  checkpoint: withNodeClient(async () => (await import("./checkpoint.ts")).checkpointMain),
  // The network (issue 9).
  status: async () => (await import("./status.ts")).statusMain,
  zone: withNodeClient(async () => (await import("./zone.ts")).zoneMain),
  import: async () => (await import("./import.ts")).importMain,
  testnet: async () => (await import("./testnet.ts")).testnetMain,
  prove: withNodeClient(async () => (await import("./prove.ts")).proveMain),
  "verify-proof": async () => (await import("./prove.ts")).verifyProofMain,
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
