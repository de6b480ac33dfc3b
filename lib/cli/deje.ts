/**
 * `djdns deje`: legacy DEJE documents.
 *
 * - `djdns deje serialize <event|document> <compact|pretty4|hash>` reads JSON on stdin and writes
 *   the original DEJE serialization (or id) on stdout without a trailing newline: the hook of the
 *   original test harness (DJDNS/deje-serialization-tests).
 * - `djdns deje state <document.json>` prints the state of the document's tip as pretty JSON: the
 *   import path for DEJE-held DJDNS pages.
 *
 * Runnable on its own for tests: `deno run --allow-read lib/cli/deje.ts serialize event hash`.
 *
 * @module
 */
import {
  chooseTip,
  DejeError,
  hashDocument,
  hashEvent,
  parseDocument,
  parseEvent,
  parseJsonText,
  serializeDocument,
  serializeEvent,
  serializeValue,
} from "../deje/mod.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns deje`. */
export const DEJE_HELP = `Usage: djdns deje COMMAND

Legacy DEJE Next documents (events, timestamps, SHA-1 ids).

Commands:
  serialize <event|document> <compact|pretty4|hash>
                           read JSON on stdin, write the DEJE serialization or id on stdout
                           (no trailing newline)
  state <document.json>    print the state of the document's tip (a legacy page) as JSON

Options:
  -h, --help               show help (also after a command)`;

/** Help of `djdns deje serialize`. */
export const DEJE_SERIALIZE_HELP =
  `Usage: djdns deje serialize <event|document> <compact|pretty4|hash> < input.json

Read one event or document as JSON on stdin and write, with no trailing newline:
  compact   JSON without whitespace, keys in DEJE order (event: parent, handler, args;
            document: events, timestamps; all other objects sorted)
  pretty4   the same with 4-space indentation
  hash      the id: lower-case hex SHA-1 of the compact form

Documents are read as go-deje reads them: events re-keyed by their id, unknown keys dropped.

Options:
  -h, --help               show this help`;

/** Help of `djdns deje state`. */
export const DEJE_STATE_HELP = `Usage: djdns deje state <document.json>

Choose the tip of a DEJE document (first fork wins, fast-forward only, unknown events skipped),
apply its history (SET and DELETE) and print the resulting state as JSON. Timestamps that were
skipped are reported on stderr.

Options:
  -h, --help               show this help`;

/** Largest input read from stdin or a file. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** The I/O `dejeMain` uses; tests substitute their own. */
export interface DejeIo {
  /** All of stdin (at most `max` bytes, else an error). */
  readStdin(max: number): Promise<Uint8Array>;
  /** All of a file (at most `max` bytes, else an error). */
  readFile(path: string, max: number): Promise<Uint8Array>;
  /** Writes bytes to stdout as they are. */
  writeStdout(bytes: Uint8Array): Promise<void>;
  /** Writes one line (a newline is added) to stderr. */
  writeStderrLine(line: string): Promise<void>;
}

async function readBounded(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > max) throw new DejeError(`input is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await writer.write(bytes.subarray(at));
}

const denoIo: DejeIo = {
  readStdin: (max) => readBounded(Deno.stdin.readable, max),
  async readFile(path, max) {
    const file = await Deno.open(path, { read: true });
    return await readBounded(file.readable, max); // the stream closes the file when done
  },
  writeStdout: (bytes) => writeAll(Deno.stdout, bytes),
  writeStderrLine: (line) => writeAll(Deno.stderr, new TextEncoder().encode(line + "\n")),
};

const OBJECT_TYPES = ["event", "document"];
const FORMATS = ["compact", "pretty4", "hash"];

// Invalid UTF-8 becomes U+FFFD, as Go's JSON decoder does.
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function serializeInput(objectType: string, format: string, text: string): string {
  const json = parseJsonText(text);
  if (objectType === "event") {
    const event = parseEvent(json);
    return format === "hash" ? hashEvent(event) : serializeEvent(event, format as "compact");
  }
  const doc = parseDocument(json);
  return format === "hash" ? hashDocument(doc) : serializeDocument(doc, format as "compact");
}

async function serializeCommand(args: string[], io: DejeIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    await io.writeStdout(new TextEncoder().encode(DEJE_SERIALIZE_HELP + "\n"));
    return 0;
  }
  const [objectType, format] = positionals;
  if (objectType === undefined || format === undefined) {
    throw new UsageError("deje serialize needs <event|document> <compact|pretty4|hash>");
  }
  if (!OBJECT_TYPES.includes(objectType)) {
    throw new UsageError(`unknown object type '${objectType}' (event or document)`);
  }
  if (!FORMATS.includes(format)) {
    throw new UsageError(`unknown format '${format}' (compact, pretty4 or hash)`);
  }
  const text = decode(await io.readStdin(MAX_INPUT_BYTES));
  await io.writeStdout(new TextEncoder().encode(serializeInput(objectType, format, text)));
  return 0;
}

async function stateCommand(args: string[], io: DejeIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    await io.writeStdout(new TextEncoder().encode(DEJE_STATE_HELP + "\n"));
    return 0;
  }
  const [path] = positionals;
  if (path === undefined) throw new UsageError("deje state needs a <document.json>");
  let bytes: Uint8Array;
  try {
    bytes = await io.readFile(path, MAX_INPUT_BYTES);
  } catch (e) {
    if (e instanceof DejeError) throw new DejeError(`${path}: ${e.message}`);
    throw new DejeError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const choice = chooseTip(parseDocument(parseJsonText(decode(bytes))));
  for (const s of choice.skipped) {
    await io.writeStderrLine(`djdns: timestamp ${s.index} (${s.id}) skipped: ${s.reason}`);
  }
  await io.writeStdout(new TextEncoder().encode(serializeValue(choice.state, "pretty4") + "\n"));
  return 0;
}

/**
 * Runs `djdns deje …` with `args` (after `deje`); returns the exit status. Throws
 * {@linkcode UsageError} for a bad command line; invalid input data is reported on stderr as
 * `djdns: <message>` with status 1.
 */
export async function dejeMain(args: string[], io: DejeIo = denoIo): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serialize":
        return await serializeCommand(rest, io);
      case "state":
        return await stateCommand(rest, io);
      case "-h":
      case "--help":
      case "help":
        await io.writeStdout(new TextEncoder().encode(DEJE_HELP + "\n"));
        return 0;
      case undefined:
        throw new UsageError("deje needs a command: serialize or state");
      default:
        throw new UsageError(`unknown deje command '${command}'`);
    }
  } catch (e) {
    if (!(e instanceof DejeError)) throw e;
    await io.writeStderrLine(`djdns: ${e.message}`);
    return 1;
  }
}

if (import.meta.main) {
  // Standalone use (tests, the original harness); `djdns deje` goes through lib/cli/mod.ts.
  try {
    Deno.exit(await dejeMain(Deno.args));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`djdns: ${e.message} (see 'djdns deje --help')`);
    Deno.exit(2);
  }
}
