/**
 * The configuration file of `djdns run` (`--config FILE`): TOML, one key per command-line option
 * of `run`, spelled as the option without its dashes (`listen`, `upstream-timeout`,
 * `no-upstream`). Flags given on the command line override the file, key by key (a repeatable
 * flag given on the command line replaces the file's whole list). An unknown key, a value of
 * the wrong type or a file that does not parse is an error naming the key or the line.
 *
 * The TOML parser is smol-toml, a maintained parser that passes the TOML 1.0 test suite: the
 * format has enough corners (dotted keys, multi-line strings, dates) that a hand-written parser
 * would be a liability.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./mod.ts";
 * const values = parseConfig('listen = ["127.0.0.1:5300"]\nno-upstream = true', {
 *   listen: { type: "string", multiple: true },
 *   "no-upstream": { type: "boolean" },
 * }, "djdns.toml");
 * console.assert(values["no-upstream"] === true);
 * ```
 *
 * @module
 */
import { parse, TomlError } from "smol-toml";

/** One option of a parseArgs option table (the subset the file needs). */
export interface ConfigOption {
  type: "string" | "boolean";
  multiple?: boolean;
}

/** Values as parseArgs gives them: strings, booleans, or lists of strings. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** A configuration file that cannot be used; the message names the file and the key or line. */
export class ConfigError extends Error {
  /** Creates a configuration error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

// Keys that exist on the command line but make no sense in a file.
const NOT_IN_FILE = new Set(["help", "config"]);

/**
 * The largest configuration file read: a real one is a few kilobytes, and a megabyte of dotted
 * keys costs the TOML parser some 200 MB, more than a router's MemoryMax (measured).
 */
export const MAX_CONFIG_BYTES = 64 * 1024;

// A key as printed in an error: clipped, and with control characters escaped, since the file's
// text reaches a terminal or a log.
function showKey(key: string): string {
  return JSON.stringify(key.length > 64 ? key.slice(0, 63) + "…" : key).slice(1, -1);
}

function scalar(key: string, v: unknown, where: string): string {
  if (typeof v === "string") return v;
  // Numbers are written as the flag's text: `udp-size = 1232` means `--udp-size 1232`.
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new ConfigError(`${where}: '${key}' must be a string or a number, not ${typeName(v)}`);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (v instanceof Date) return "a date";
  return typeof v === "object" ? "a table" : `a ${typeof v}`;
}

/**
 * Parses the text of a configuration file against an option table; `where` names the file in
 * errors. Returns values in parseArgs' shape.
 */
export function parseConfig(
  text: string,
  options: Record<string, ConfigOption>,
  where: string,
): OptionValues {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      throw new ConfigError(`${where}:${e.line}:${e.column}: ${e.message.split("\n")[0]}`);
    }
    throw new ConfigError(`${where}: ${(e as Error).message}`);
  }
  const out: OptionValues = {};
  for (const [key, v] of Object.entries(doc)) {
    const opt = Object.hasOwn(options, key) && !NOT_IN_FILE.has(key) ? options[key] : undefined;
    if (!opt) {
      const hint = suggestion(key, Object.keys(options).filter((k) => !NOT_IN_FILE.has(k)));
      throw new ConfigError(`${where}: unknown key '${showKey(key)}'${hint}`);
    }
    if (opt.type === "boolean") {
      if (typeof v !== "boolean") {
        throw new ConfigError(`${where}: '${key}' must be true or false, not ${typeName(v)}`);
      }
      // A false boolean is the same as leaving the flag out.
      if (v) out[key] = true;
      continue;
    }
    if (opt.multiple) {
      const list = Array.isArray(v) ? v : [v];
      out[key] = list.map((x) => scalar(key, x, where));
    } else {
      out[key] = scalar(key, v, where);
    }
  }
  return out;
}

// "did you mean" for a misspelt key: the known key with the smallest edit distance, if close.
function suggestion(key: string, known: string[]): string {
  // The distance table is key × known key: a giant key is no typo and would cost seconds.
  if (key.length > 64) return "";
  let best = "";
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase().replaceAll("_", "-"), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(1, Math.floor(best.length / 4)) ? ` (did you mean '${best}'?)` : "";
}

// Edit distance with adjacent transpositions counted as one edit (optimal string alignment).
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** Reads and parses a configuration file; a missing or unreadable file is a {@linkcode ConfigError}. */
export async function readConfig(
  path: string,
  options: Record<string, ConfigOption>,
): Promise<OptionValues> {
  let text: string;
  try {
    text = path === "-" ? await readCapped(Deno.stdin.readable) : await readRegularFile(path);
  } catch (e) {
    const why = e instanceof ConfigError
      ? e.message
      : e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (e as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${why}`);
  }
  return parseConfig(text, options, path === "-" ? "<stdin>" : path);
}

// Only a regular file is read (a FIFO would block the start or a SIGHUP forever, /dev/zero
// would fill the memory), and only up to MAX_CONFIG_BYTES, whatever its size said.
async function readRegularFile(path: string): Promise<string> {
  if (!(await Deno.stat(path)).isFile) throw new ConfigError("not a regular file");
  const file = await Deno.open(path);
  try {
    if (!(await file.stat()).isFile) throw new ConfigError("not a regular file");
    return await readCapped(file.readable);
  } finally {
    try {
      file.close();
    } catch { /* closed with its stream */ }
  }
}

async function readCapped(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_CONFIG_BYTES) {
        throw new ConfigError(`larger than ${MAX_CONFIG_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) bytes.set(c, (at += c.length) - c.length);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError("not UTF-8 text");
  }
}

/** The command line's values over the file's: a key given on the command line wins whole. */
export function mergeConfig(fromFile: OptionValues, fromFlags: OptionValues): OptionValues {
  const out: OptionValues = { ...fromFile };
  for (const [k, v] of Object.entries(fromFlags)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * A commented example configuration generated from the command's help text (lines of the form
 * `  --name VALUE   description`), so that every option has a key and the example cannot drift
 * from the flags. Every key is commented out: the example is the defaults.
 */
export function exampleConfig(help: string, options: Record<string, ConfigOption>): string {
  const lines = [
    "# djdns configuration (TOML). Every key is a `djdns run` option without its dashes;",
    "# a flag on the command line overrides the key. Check a file with `djdns config check FILE`.",
    "",
  ];
  const entries = helpEntries(help);
  for (const [key, opt] of Object.entries(options)) {
    if (NOT_IN_FILE.has(key)) continue;
    const entry = entries.get(key);
    for (const d of entry?.description ?? []) lines.push(`# ${d}`);
    const value = sampleValue(entry);
    const sample = opt.type === "boolean" ? "true" : opt.multiple ? `[${value}]` : value;
    lines.push(`# ${key} = ${sample}`, "");
  }
  return lines.join("\n");
}

// The documented default when the help states one ("(default 1500)"), else the placeholder.
function sampleValue(entry: { arg?: string; description: string[] } | undefined): string {
  const m = /default ([^;),\s]+)[;)]/.exec(entry?.description.join(" ") ?? "");
  if (m) return /^\d+$/.test(m[1]) ? m[1] : JSON.stringify(m[1]);
  return JSON.stringify(entry?.arg ?? "VALUE");
}

function helpEntries(help: string): Map<string, { arg?: string; description: string[] }> {
  const map = new Map<string, { arg?: string; description: string[] }>();
  let current: { arg?: string; description: string[] } | undefined;
  for (const line of help.split("\n")) {
    const m = /^\s{2}(?:-\w, )?--([a-z0-9-]+)(?: (\S+))?\s{2,}(.*)$/.exec(line);
    if (m) {
      current = { arg: m[2], description: [m[3].trim()] };
      map.set(m[1], current);
    } else if (current && /^\s{20,}\S/.test(line)) {
      current.description.push(line.trim());
    } else {
      current = undefined;
    }
  }
  return map;
}
