/**
 * The DEJE Next serializations, byte-compatible with go-deje (which produced the published test
 * vectors and event ids):
 *
 * - `compact`: JSON without any whitespace; `pretty4`: 4-space indent, `": "` after keys, `[]` and
 *   `{}` when empty. Neither ends with a newline.
 * - Keys: event objects in the fixed order `parent`, `handler`, `args`; documents `events`,
 *   `timestamps`; every other object sorted by UTF-8 bytes (Go's order; JavaScript's default
 *   UTF-16 sort differs for astral characters).
 * - Strings escaped as Go's `encoding/json` did when go-deje ran: `\"`, `\\`, `\n`, `\r`, `\t`;
 *   other control characters as `\u00XX` (lower-case hex, so `\b` is `\u0008`); HTML-sensitive
 *   `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`; U+2028/2029 as `\u2028`/`\u2029`; everything
 *   else literally. js-deje did not HTML-escape; we follow Go because go-deje made the hashes.
 * - Numbers as ECMAScript and Go (1.8+) both print float64: shortest round-trip form, exponent
 *   only below 1e-6 or from 1e21; `-0` stays `-0` as in Go. (Go before 1.8 used exponents from
 *   1e6 and below 1e-4; documents with such numbers hash differently there.)
 *
 * @module
 */
import type { DejeDocument, DejeEvent } from "./types.ts";
import { DejeError, type JsonObject, type JsonValue, MAX_DEPTH } from "./json.ts";

/** Output format of the serializer. */
export type DejeFormat = "compact" | "pretty4";

// Control characters are exactly what must be escaped here.
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029]/;
const HEX = "0123456789abcdef";

/** A JSON string literal escaped as go-deje's Go `encoding/json` did. */
export function quoteString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = "\\\\";
    else if (c === 0x0a) esc = "\\n";
    else if (c === 0x0d) esc = "\\r";
    else if (c === 0x09) esc = "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) {
      esc = `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    } else if (c === 0x2028 || c === 0x2029) esc = `\\u${c.toString(16)}`;
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Compares strings by their UTF-8 bytes, i.e. by code point (Go's string order). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8, before in UTF-16.
    return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

function codeUnitRank(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new DejeError("number is not finite");
  return Object.is(n, -0) ? "-0" : String(n);
}

// One writer serves both formats; `pretty` adds the newlines and indentation of pretty4.
interface Writer {
  parts: string[];
  pretty: boolean;
}

function newline(w: Writer, level: number): void {
  if (w.pretty) w.parts.push("\n" + "    ".repeat(level));
}

function writeMembers(
  w: Writer,
  level: number,
  entries: [string, () => void][],
): void {
  if (entries.length === 0) {
    w.parts.push("{}");
    return;
  }
  w.parts.push("{");
  entries.forEach(([key, write], i) => {
    if (i > 0) w.parts.push(",");
    newline(w, level + 1);
    w.parts.push(quoteString(key), w.pretty ? ": " : ":");
    write();
  });
  newline(w, level);
  w.parts.push("}");
}

function writeValue(w: Writer, value: JsonValue, level: number): void {
  // Parsed input is bounded by MAX_DEPTH; this guards direct callers against stack exhaustion.
  if (level > MAX_DEPTH + 8) throw new DejeError("value is nested too deeply to serialize");
  if (value === null) w.parts.push("null");
  else if (typeof value === "boolean") w.parts.push(value ? "true" : "false");
  else if (typeof value === "number") w.parts.push(formatNumber(value));
  else if (typeof value === "string") w.parts.push(quoteString(value));
  else if (Array.isArray(value)) {
    if (value.length === 0) {
      w.parts.push("[]");
      return;
    }
    w.parts.push("[");
    value.forEach((item, i) => {
      if (i > 0) w.parts.push(",");
      newline(w, level + 1);
      writeValue(w, item, level + 1);
    });
    newline(w, level);
    w.parts.push("]");
  } else if (typeof value === "object") {
    const obj = value as JsonObject;
    const keys = Object.keys(obj).sort(compareUtf8);
    writeMembers(w, level, keys.map((k) => [k, () => writeValue(w, obj[k], level + 1)]));
  } else {
    throw new DejeError(`${typeof value} is not a JSON value`);
  }
}

function writeEvent(w: Writer, event: DejeEvent, level: number): void {
  writeMembers(w, level, [
    ["parent", () => w.parts.push(quoteString(event.parent))],
    ["handler", () => w.parts.push(quoteString(event.handler))],
    ["args", () => writeValue(w, event.args, level + 1)],
  ]);
}

function writeDocument(w: Writer, doc: DejeDocument): void {
  const hashes = [...doc.events.keys()].sort(compareUtf8);
  writeMembers(w, 0, [
    ["events", () =>
      writeMembers(
        w,
        1,
        hashes.map((h) => [h, () => writeEvent(w, doc.events.get(h)!, 2)]),
      )],
    ["timestamps", () => writeValue(w, [...doc.timestamps], 1)],
  ]);
}

function run(format: DejeFormat, body: (w: Writer) => void): string {
  if (format !== "compact" && format !== "pretty4") {
    throw new DejeError(`unknown format '${String(format)}' (compact or pretty4)`);
  }
  const w: Writer = { parts: [], pretty: format === "pretty4" };
  body(w);
  return w.parts.join("");
}

/** Serializes an event: keys `parent`, `handler`, `args` in that order; `args` sorted. */
export function serializeEvent(event: DejeEvent, format: DejeFormat): string {
  return run(format, (w) => writeEvent(w, event, 0));
}

/** Serializes a document: `events` (by hash, each an event) then `timestamps`. */
export function serializeDocument(doc: DejeDocument, format: DejeFormat): string {
  return run(format, (w) => writeDocument(w, doc));
}

/** Serializes any other JSON value, every object's keys sorted. */
export function serializeValue(value: JsonValue, format: DejeFormat): string {
  return run(format, (w) => writeValue(w, value, 0));
}
