/**
 * The branch format: the content every page has, whether it is a page file or a signed page's
 * state. A {@linkcode BranchTable} is the original DJDNS page body, `meta` plus an ordered list of
 * `branches`, each with a `selector`, `targets` and `records`. Parsing validates everything a
 * query will rely on, so a table either loads whole or is refused with an error naming the branch
 * and record at fault. Signed pages (`lib/page`) validate their states with it; the resolver walks
 * it; where tables come from is the business of page sources (`lib/sources`).
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../dns/ip.ts";
import { type PageRecord, parseRecord } from "./rdata.ts";
import { compileSelector, type Selector } from "./selector.ts";

/** Most branches one page may hold. */
export const MAX_BRANCHES = 100_000;
/** Most records one branch may hold. */
export const MAX_RECORDS = 256;
/** Most targets one branch may name. */
export const MAX_TARGETS = 16;
/** Longest `meta` string, in characters. */
export const MAX_META_LENGTH = 4096;

/** Thrown when a branch table is invalid; the message names the page and the part at fault. */
export class BranchTableError extends Error {
  /** Creates the error; `where` names the page and part (`root.json: branch 3: record 0`). */
  constructor(where: string, message: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = "BranchTableError";
  }
}

/** Where a branch sends a query it does not answer itself. */
export type Target =
  /** Another page named relative to the page directory (legacy flat files). */
  | { kind: "file"; path: string }
  /** A signed page, by the SHA-256 id of its genesis event. */
  | { kind: "djdns"; pageId: string }
  /** An ordinary DNS server that answers the name. */
  | { kind: "dns"; host: string; port: number };

/** A validated branch. */
export interface Branch {
  /** The compiled selector. */
  selector: Selector;
  /** Targets, in order. */
  targets: Target[];
  /** Records, in order. */
  records: PageRecord[];
}

/** The free-text `meta` block of a page. */
export interface Meta {
  authority?: string;
  contact?: string;
  about?: string;
  policy?: string;
}

/** A validated branch table: the body of a page in the original DJDNS format. */
export interface BranchTable {
  meta: Meta;
  branches: Branch[];
}

const DJDNS_TARGET = /^djdns:([0-9a-f]{64})$/;

/** Parses one target string. Throws an Error saying what is wrong. */
export function parseTarget(text: unknown): Target {
  if (typeof text !== "string" || text.length === 0 || text.length > 1024) {
    throw new Error("target must be a non-empty string of at most 1024 characters");
  }
  const djdns = DJDNS_TARGET.exec(text);
  if (djdns) return { kind: "djdns", pageId: djdns[1] };
  if (text.startsWith("djdns:")) {
    throw new Error(`target '${text}': page id must be 64 lowercase hex`);
  }
  if (text.startsWith("dns://")) {
    const m = /^dns:\/\/(\[[0-9a-fA-F:.]+\]|[^/:\[\]]+)(?::(\d{1,5}))?\/?$/.exec(text);
    const port = m?.[2] === undefined ? 53 : Number(m[2]);
    if (!m || port < 1 || port > 65535) {
      throw new Error(`target '${text}' is not of the form dns://HOST[:PORT]/`);
    }
    const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
    // An IP literal: resolving a server's name would itself need DNS, possibly this registry.
    if (m[1].startsWith("[") ? !isIPv6(host) : !isIPv4(host)) {
      throw new Error(`target '${text}': host must be an IPv4 address or a bracketed IPv6 address`);
    }
    return { kind: "dns", host, port };
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text);
  if (scheme && scheme[1] !== "file") {
    throw new Error(
      `target '${text}': unknown scheme '${scheme[1]}' (use a page file, djdns:, dns://)`,
    );
  }
  const path = scheme ? text.slice("file:".length).replace(/^\/\//, "") : text;
  if (path.includes("\0") || path.length === 0) throw new Error(`target '${text}': bad path`);
  return { kind: "file", path };
}

/** Parses the `meta` block: optional strings; unknown keys are ignored (original extensibility rule 1). */
export function parseMeta(value: unknown, where = ""): Meta {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new BranchTableError(where, "meta must be an object");
  }
  const meta: Meta = {};
  for (const key of ["authority", "contact", "about", "policy"] as const) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length > MAX_META_LENGTH) {
      throw new BranchTableError(
        where,
        `meta.${key} must be a string of at most ${MAX_META_LENGTH} characters`,
      );
    }
    meta[key] = v;
  }
  return meta;
}

function list(value: unknown, max: number, what: string, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new BranchTableError(where, `${what} must be a list`);
  if (value.length > max) throw new BranchTableError(where, `more than ${max} ${what}`);
  return value;
}

/** Parses the ordered `branches` list. Throws {@linkcode BranchTableError} naming the branch at fault. */
export function parseBranches(value: unknown, where = ""): Branch[] {
  if (!Array.isArray(value)) throw new BranchTableError(where, "branches must be a list");
  if (value.length > MAX_BRANCHES) {
    throw new BranchTableError(where, `more than ${MAX_BRANCHES} branches`);
  }
  return value.map((b, i) => parseBranch(b, i, where));
}

/**
 * The records of a branch that apply to `name`: the ones whose domain_name is exactly `name` when
 * there are any (with those that name no owner); otherwise all of them, answering for the name
 * the selector matched (the original data writes one domain_name for a branch that matches
 * several names).
 */
export function applicable(records: PageRecord[], name: string): PageRecord[] {
  const exact = records.filter((r) => r.name === name);
  if (exact.length > 0) return exact.concat(records.filter((r) => r.name === null));
  return records;
}

// RFC 2181 §10.1: a name with a CNAME has no other data, and one CNAME. Checks every set of
// records the branch can answer a name with (see `applicable`): its literal name's, or each
// owner's and, for a selector matching other names too, all of them. Returns what is wrong.
function cnameConflict(records: PageRecord[], literal: string | undefined): string | undefined {
  if (!records.some((r) => r.type === "CNAME")) return undefined;
  const sets = literal !== undefined ? [applicable(records, literal)] : [
    records,
    ...[...new Set(records.map((r) => r.name))].flatMap((o) =>
      o === null ? [] : [applicable(records, o)]
    ),
  ];
  for (const set of sets) {
    const cnames = set.filter((r) => r.type === "CNAME").length;
    if (cnames > 1) return "more than one CNAME record for one name";
    if (cnames === 1 && set.length > 1) {
      const other = set.find((r) => r.type !== "CNAME")!;
      return `a CNAME record and other data (${other.type}) for one name (RFC 2181 §10.1)`;
    }
  }
  return undefined;
}

/**
 * Parses branch number `i` of a page named `where`. Throws {@linkcode BranchTableError} naming the
 * branch (and its target or record) at fault.
 */
export function parseBranch(b: unknown, i: number, where = ""): Branch {
  // Error locations are spelled out only when something fails: building them for each of
  // 100,000 branches was a tenth of a big page's load time.
  const at = () => `${where ? where + ": " : ""}branch ${i}`;
  const at2 = () => `${at()} (${JSON.stringify(selector.source)})`;
  if (b === null || typeof b !== "object" || Array.isArray(b)) {
    throw new BranchTableError(at(), "branch must be an object");
  }
  const raw = b as Record<string, unknown>;
  let selector: Selector;
  try {
    selector = compileSelector(raw.selector as string);
  } catch (e) {
    throw new BranchTableError(at(), (e as Error).message);
  }
  const rawTargets = raw.targets;
  const targets = rawTargets === undefined || rawTargets === null ||
      (Array.isArray(rawTargets) && rawTargets.length === 0)
    ? NONE as Target[]
    : list(rawTargets, MAX_TARGETS, "targets", at2()).map((t, j) => {
      try {
        return parseTarget(t);
      } catch (e) {
        throw new BranchTableError(`${at2()}: target ${j}`, (e as Error).message);
      }
    });
  const rawRecords = raw.records;
  const records = rawRecords === undefined || rawRecords === null
    ? []
    : Array.isArray(rawRecords) && rawRecords.length <= MAX_RECORDS
    ? rawRecords.map((r, j) => {
      try {
        return parseRecord(r);
      } catch (e) {
        throw new BranchTableError(`${at2()}: record ${j}`, (e as Error).message);
      }
    })
    : list(rawRecords, MAX_RECORDS, "records", at2()) as PageRecord[];
  // Most branches of big pages are `^name$` with records owned by that name: one string for
  // both, not two (a 100,000-name page holds 100,000 fewer strings).
  const own = selector.name;
  if (own !== undefined) { for (const r of records) if (r.name === own) r.name = own; }
  const conflict = cnameConflict(records, own);
  if (conflict !== undefined) throw new BranchTableError(at2(), conflict);
  return { selector, targets, records };
}

// One shared empty target list for the many branches without targets.
const NONE: readonly Target[] = Object.freeze([]);

/** Parses a whole branch table (a page body). `where` names it in errors (a file name). */
export function parseBranchTable(value: unknown, where = ""): BranchTable {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BranchTableError(where, "page must be a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (!("branches" in v)) throw new BranchTableError(where, "page has no branches");
  return { meta: parseMeta(v.meta, where), branches: parseBranches(v.branches, where) };
}
