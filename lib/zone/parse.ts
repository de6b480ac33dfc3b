/**
 * A reader of RFC 1035 §5 master files ("zone files"): `$ORIGIN`, `$TTL` (RFC 2308), relative
 * and absolute names, `@`, blank owners (the previous owner), TTL and class in either order,
 * BIND's TTL units (`1h30m`), parentheses spanning lines, `;` comments, quoted character-strings
 * with `\X` and `\DDD` escapes. It yields records of the types the registry holds, in the page
 * format's rdata forms, and a list of what it could not carry (with line numbers).
 *
 * Written here rather than taken from npm: the maintained package (`dns-zonefile` 0.3.2) gives a
 * record with a blank owner the owner `@` instead of the previous owner (RFC 1035 §5.1: "If the
 * owner is blank, the previous owner is used"), leaves relative names and default TTLs for the
 * caller to resolve, and reads escapes inside quoted strings only partly — each a wrong record
 * in a signed page. The RFC cases it gets wrong are in tests/zone_test.ts.
 *
 * Pure: text in, records out.
 *
 * @module
 */

/** One record read from a master file. */
export interface ZoneRecord {
  /** Line where the record starts (1-based). */
  readonly line: number;
  /** Owner name, absolute, lowercase, without the trailing dot. */
  readonly name: string;
  /** TTL in seconds. */
  readonly ttl: number;
  /** Record type, uppercase. */
  readonly type: string;
  /** Rdata in the page format's form (a string; TXT: a list of strings). */
  readonly rdata: string | string[];
}

/** Something the reader could not carry, and why. */
export interface ZoneProblem {
  readonly line: number;
  readonly message: string;
}

/** What {@linkcode parseZone} read. */
export interface ParsedZone {
  readonly records: ZoneRecord[];
  readonly problems: ZoneProblem[];
  /** The origin in effect at the end (absolute, without the trailing dot; "" for the root). */
  readonly origin: string | undefined;
}

/** Types the reader turns into page records (the registry's types). */
export const ZONE_TYPES = ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA", "PTR", "SOA"];

/** Largest master file read, in characters. */
export const MAX_ZONE_CHARS = 16 * 1024 * 1024;
/** Largest TTL (RFC 2181 §8). */
const MAX_TTL = 2147483647;

interface Token {
  /** Decoded text (escapes applied). */
  readonly text: string;
  /** As written. */
  readonly raw: string;
  readonly quoted: boolean;
}

interface Entry {
  readonly line: number;
  /** True when the entry began with blank space (no owner). */
  readonly blankOwner: boolean;
  readonly tokens: Token[];
}

class ZoneSyntaxError extends Error {}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Splits the text into entries (logical lines), honouring quotes, parentheses and comments. */
function entries(text: string, problems: ZoneProblem[]): Entry[] {
  const out: Entry[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // One logical line.
    const start = line;
    const blankOwner = text[i] === " " || text[i] === "\t";
    const tokens: Token[] = [];
    let depth = 0;
    let bad: string | undefined;
    while (i < n) {
      const c = text[i];
      if (c === "\n") {
        line++;
        i++;
        if (depth === 0) break;
        continue;
      }
      if (c === " " || c === "\t" || c === "\r") {
        i++;
        continue;
      }
      if (c === ";") {
        while (i < n && text[i] !== "\n") i++;
        continue;
      }
      if (c === "(") {
        depth++;
        i++;
        continue;
      }
      if (c === ")") {
        if (depth === 0) bad ??= "')' without '('";
        else depth--;
        i++;
        continue;
      }
      // A token: quoted, or up to blank space, a comment or a parenthesis.
      const quoted = c === '"';
      const bytes: number[] = [];
      let raw = "";
      if (quoted) i++;
      let closed = !quoted;
      while (i < n) {
        const d = text[i];
        if (quoted && d === '"') {
          closed = true;
          i++;
          break;
        }
        if (
          !quoted && (d === " " || d === "\t" || d === "\r" || d === "\n" || d === ";" ||
            d === "(" || d === ")" || d === '"')
        ) break;
        if (d === "\n") line++; // a newline inside quotes is part of the string
        if (d === "\\" && i + 1 < n) {
          const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
          if (digits) {
            const v = Number(digits[0]);
            if (v > 255) bad ??= `escape \\${digits[0]} is not a byte`;
            bytes.push(v & 0xff);
            raw += text.slice(i, i + 4);
            i += 4;
            continue;
          }
          raw += text.slice(i, i + 2);
          for (const b of new TextEncoder().encode(text[i + 1])) bytes.push(b);
          if (text[i + 1] === "\n") line++;
          i += 2;
          continue;
        }
        raw += d;
        for (const b of new TextEncoder().encode(d)) bytes.push(b);
        i++;
      }
      if (!closed) bad ??= "a quoted string is not closed";
      tokens.push({ text: utf8.decode(new Uint8Array(bytes)), raw, quoted });
    }
    if (depth > 0) bad ??= "'(' without ')'";
    if (bad) problems.push({ line: start, message: bad });
    else if (tokens.length > 0) out.push({ line: start, blankOwner, tokens });
  }
  return out;
}

/** A TTL in seconds: digits, or BIND units (`1w2d3h4m5s`); undefined when not a TTL. */
export function parseTtl(text: string): number | undefined {
  let total: number;
  if (/^\d+$/.test(text)) total = Number(text);
  else if (/^(\d+[wdhms])+$/i.test(text)) {
    const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
    total = 0;
    for (const m of text.toLowerCase().matchAll(/(\d+)([wdhms])/g)) {
      total += Number(m[1]) * unit[m[2]];
    }
  } else return undefined;
  return total <= MAX_TTL ? total : undefined;
}

const CLASSES = new Set(["IN", "CH", "CS", "HS", "ANY", "NONE"]);
const KNOWN_TYPES = new Set([
  ...ZONE_TYPES,
  "HINFO",
  "MINFO",
  "MB",
  "MG",
  "MR",
  "NULL",
  "WKS",
  "RP",
  "AFSDB",
  "NAPTR",
  "DS",
  "DNSKEY",
  "RRSIG",
  "NSEC",
  "NSEC3",
  "NSEC3PARAM",
  "TLSA",
  "SSHFP",
  "SPF",
  "LOC",
  "DNAME",
  "CERT",
  "HTTPS",
  "SVCB",
  "URI",
  "OPENPGPKEY",
  "SMIMEA",
  "CDS",
  "CDNSKEY",
  "ZONEMD",
  "KX",
  "APL",
  "DHCID",
  "IPSECKEY",
  "EUI48",
  "EUI64",
  "CSYNC",
]);

function isType(text: string): boolean {
  const t = text.toUpperCase();
  return KNOWN_TYPES.has(t) || /^TYPE\d{1,5}$/.test(t);
}

/** An absolute name (lowercase, no trailing dot) from a name token and the origin. */
function absolute(token: Token, origin: string | undefined): string {
  const raw = token.raw;
  if (token.quoted) throw new ZoneSyntaxError(`a name cannot be quoted: "${token.text}"`);
  if (raw === "@") {
    if (origin === undefined) throw new ZoneSyntaxError("'@' without an origin");
    return origin;
  }
  if (raw.includes("\\")) {
    throw new ZoneSyntaxError(`name '${raw}': escaped characters are not host names`);
  }
  if (raw.endsWith(".")) return raw === "." ? "" : raw.slice(0, -1).toLowerCase();
  if (origin === undefined) {
    throw new ZoneSyntaxError(`relative name '${raw}' without $ORIGIN (or --origin)`);
  }
  return (origin === "" ? raw : `${raw}.${origin}`).toLowerCase();
}

function count(tokens: Token[], n: number, type: string, form: string): void {
  if (tokens.length !== n) throw new ZoneSyntaxError(`${type} rdata must be: ${form}`);
}

function uint(t: Token, max: number, what: string): string {
  if (!/^\d+$/.test(t.text) || Number(t.text) > max) {
    throw new ZoneSyntaxError(`${what} '${t.text}' is not a number from 0 to ${max}`);
  }
  return String(Number(t.text));
}

/** The page form of one record's rdata. */
function rdataOf(type: string, tokens: Token[], origin: string | undefined): string | string[] {
  const name = (t: Token) => absolute(t, origin);
  switch (type) {
    case "A":
    case "AAAA":
      count(tokens, 1, type, "ADDRESS");
      return tokens[0].text;
    case "CNAME":
    case "NS":
    case "PTR":
      count(tokens, 1, type, "NAME");
      return name(tokens[0]);
    case "MX":
      count(tokens, 2, type, "PREFERENCE EXCHANGE");
      return `${uint(tokens[0], 65535, "MX preference")} ${name(tokens[1])}`;
    case "SRV":
      count(tokens, 4, type, "PRIORITY WEIGHT PORT TARGET");
      return [
        uint(tokens[0], 65535, "SRV priority"),
        uint(tokens[1], 65535, "SRV weight"),
        uint(tokens[2], 65535, "SRV port"),
        name(tokens[3]),
      ].join(" ");
    case "TXT":
      if (tokens.length === 0) throw new ZoneSyntaxError("TXT needs at least one string");
      for (const t of tokens) {
        if (new TextEncoder().encode(t.text).length > 255) {
          throw new ZoneSyntaxError("a TXT character-string is longer than 255 bytes");
        }
      }
      return tokens.map((t) => t.text);
    case "CAA": {
      count(tokens, 3, type, 'FLAGS TAG "VALUE"');
      if (tokens[2].text.includes('"')) {
        throw new ZoneSyntaxError("a CAA value with a '\"' cannot be carried");
      }
      return `${uint(tokens[0], 255, "CAA flags")} ${tokens[1].text} "${tokens[2].text}"`;
    }
    case "SOA": {
      count(tokens, 7, type, "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
      const times = tokens.slice(3).map((t) => {
        const v = parseTtl(t.text);
        if (v === undefined) throw new ZoneSyntaxError(`SOA field '${t.text}' is not a time`);
        return String(v);
      });
      return [name(tokens[0]), name(tokens[1]), uint(tokens[2], 4294967295, "SOA serial"), ...times]
        .join(" ");
    }
  }
  throw new ZoneSyntaxError(`type ${type} is not supported`);
}

/**
 * Reads a master file. `origin` is the initial origin (absolute, with or without the trailing
 * dot), `defaultTtl` the TTL for records before any `$TTL` or explicit TTL. Never throws for bad
 * content: every entry it cannot carry is a problem with its line.
 */
export function parseZone(
  text: string,
  options: { origin?: string; defaultTtl?: number } = {},
): ParsedZone {
  const problems: ZoneProblem[] = [];
  const records: ZoneRecord[] = [];
  if (text.length > MAX_ZONE_CHARS) {
    return {
      records,
      problems: [{ line: 0, message: `larger than ${MAX_ZONE_CHARS} characters` }],
      origin: undefined,
    };
  }
  let origin = options.origin === undefined
    ? undefined
    : options.origin.replace(/\.$/, "").toLowerCase();
  let dollarTtl: number | undefined;
  let lastTtl = options.defaultTtl;
  let owner: string | undefined;
  for (const e of entries(text, problems)) {
    const t = e.tokens;
    try {
      const first = t[0].raw;
      if (!e.blankOwner && first.startsWith("$")) {
        const d = first.toUpperCase();
        if (d === "$ORIGIN") {
          if (t.length !== 2) throw new ZoneSyntaxError("$ORIGIN takes one name");
          if (!t[1].raw.endsWith(".") && origin === undefined) {
            throw new ZoneSyntaxError("$ORIGIN must be absolute (end with '.')");
          }
          origin = absolute(t[1], origin);
        } else if (d === "$TTL") {
          const ttl = t.length === 2 ? parseTtl(t[1].text) : undefined;
          if (ttl === undefined) throw new ZoneSyntaxError("$TTL takes one TTL");
          dollarTtl = ttl;
        } else {
          throw new ZoneSyntaxError(`${d} is not supported (not carried)`);
        }
        continue;
      }
      let i = 0;
      if (!e.blankOwner) owner = absolute(t[i++], origin);
      if (owner === undefined) throw new ZoneSyntaxError("a record without an owner");
      let ttl: number | undefined;
      let cls: string | undefined;
      for (let k = 0; k < 2 && i < t.length; k++) {
        const word = t[i].text;
        if (ttl === undefined && !t[i].quoted && parseTtl(word) !== undefined) {
          ttl = parseTtl(word);
          i++;
        } else if (cls === undefined && CLASSES.has(word.toUpperCase())) {
          cls = word.toUpperCase();
          i++;
        }
      }
      if (i >= t.length || !isType(t[i].text)) {
        throw new ZoneSyntaxError(
          i >= t.length ? "a record without a type" : `'${t[i].text}' is not a record type`,
        );
      }
      const type = t[i++].text.toUpperCase();
      if (cls !== undefined && cls !== "IN") {
        throw new ZoneSyntaxError(`class ${cls} is not carried (only IN)`);
      }
      if (!ZONE_TYPES.includes(type)) {
        throw new ZoneSyntaxError(`type ${type} is not held by the registry (not carried)`);
      }
      const rdata = rdataOf(type, t.slice(i), origin);
      if (ttl !== undefined) lastTtl = ttl;
      const effective = ttl ?? dollarTtl ?? lastTtl;
      if (effective === undefined) throw new ZoneSyntaxError("no TTL (give one, or $TTL)");
      records.push({ line: e.line, name: owner, ttl: effective, type, rdata });
    } catch (err) {
      if (!(err instanceof ZoneSyntaxError)) throw err;
      problems.push({ line: e.line, message: err.message });
    }
  }
  problems.sort((a, b) => a.line - b.line);
  return { records, problems, origin };
}
