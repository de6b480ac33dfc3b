/**
 * Shared pieces of the command-line interface: the usage error every command throws for bad
 * arguments, and strict option parsing on top of `node:util` parseArgs.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * Thrown for a bad command line. The dispatcher prints `djdns: <message>` (one line, plus a hint
 * to use --help) to stderr and exits with status 2.
 */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Options accepted by {@linkcode parseCommandLine}: the `options` part of a parseArgs config. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` strictly: unknown flags, missing values and stray positionals beyond
 * `maxPositionals` become a {@linkcode UsageError} with one clear line.
 */
export function parseCommandLine<T extends OptionSpec>(
  args: string[],
  options: T,
  maxPositionals = Infinity,
): {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
} {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node:util messages are multi-line sentences with a code prefix; keep the first line.
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new UsageError(msg);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return parsed as {
    values: Record<string, string | boolean | string[] | boolean[] | undefined>;
    positionals: string[];
  };
}
