/**
 * The CHANGE forms of `djdns propose` turned into one event's handler and arguments, against the
 * state the event will apply to (the head state), and the reverse: a one-line description of what
 * an event changes, for `page show` and `page log`. Pure: no files, no store.
 *
 * Records go into the branch whose selector is exactly the name (`^www\.example\.test$`),
 * created when missing. A new branch is inserted just before the first branch that already
 * matches the name (else at the end), so that the name is answered from it: the resolver answers
 * from the first matching branch that holds records.
 *
 * @module
 */
import { isValidPublicKey } from "../crypto/mod.ts";
import {
  applyEvent,
  type HandlerName,
  type Json,
  type JsonObject,
  type PageEvent,
  type PageState,
  proposeEvent,
  type Track,
} from "../page/mod.ts";
import { parseIp } from "../dns/ip.ts";
import { checkHostName } from "../registry/names.ts";
import { MAX_TTL, parseRecord, RECORD_TYPES } from "../registry/rdata.ts";
import { compileSelector } from "../registry/selector.ts";
import { InputError } from "./pagedata.ts";
import { UsageError } from "./usage.ts";

/** A change ready to be proposed. */
export interface Change {
  readonly handler: HandlerName;
  readonly args: Json;
  /** One line saying what it does. */
  readonly summary: string;
}

/** Help text listing the CHANGE forms. */
export const CHANGE_HELP = `Changes (CHANGE):
  add-record NAME TYPE RDATA [--ttl N]
                           add a record to the branch whose selector is exactly NAME
                           (created if needed); TYPE one of ${RECORD_TYPES.join(", ")}
  remove-record NAME TYPE RDATA
                           remove that record (and the branch, once it holds nothing)
  delegate NAME PAGE-ID    a branch for NAME and its subdomains targeting djdns:PAGE-ID
  add-participant PUB[:WEIGHT]
                           a new participant (weight default 1)       [membership]
  remove-participant PUB   remove a participant                       [membership]
  set-weight PUB WEIGHT    change a participant's weight              [membership]
  set-threshold content|membership F
                           change a threshold (a fraction in (0, 1])  [membership]
  set PATH JSON            set any part of the state (PATH: a.b.0.c or a JSON list)
  delete PATH              delete any part of the state
Record and branch changes are content changes (Track 1); [membership] changes need the
membership threshold (Track 2); a change under governance is Track 2 too.`;

const HEX64 = /^[0-9a-f]{64}$/;

function usage(msg: string): never {
  throw new UsageError(msg);
}

/** A change that does not fit the page as it is (exit status 1, not a usage error). */
function misfit(msg: string): never {
  throw new InputError(msg);
}

/** The normalized form of a host name argument, or a usage error. */
export function hostArg(text: string, what = "NAME"): string {
  const c = checkHostName(text);
  if ("error" in c) usage(`${what} '${text}': ${c.error}`);
  if (c.name === "") usage(`${what} must not be the root name`);
  return c.name;
}

function escapeName(name: string): string {
  return name.replace(/[.*]/g, (c) => `\\${c}`);
}

/** The selector that matches exactly `name` (normalized). */
export function exactSelector(name: string): string {
  return `^${escapeName(name)}$`;
}

/** The selector that matches `name` and every name under it. */
export function subtreeSelector(name: string): string {
  return `(^|\\.)${escapeName(name)}$`;
}

// `^literal$` selectors written with escapes other than ours (`\-`, `\_`) still name one name.
const LITERAL = /^\^((?:[a-z0-9_-]|\\[.\-_*])+)\$$/;

/** The name a selector matches exactly, when it is a literal `^name$`; else undefined. */
export function literalName(selector: unknown): string | undefined {
  if (typeof selector !== "string") return undefined;
  const m = LITERAL.exec(selector);
  return m ? m[1].replace(/\\(.)/g, "$1") : undefined;
}

function branchesOf(state: PageState): JsonObject[] {
  return (state.branches ?? []) as unknown as JsonObject[];
}

/** Index of the branch whose selector is exactly `name`, or -1. */
export function exactBranch(state: PageState, name: string): number {
  return branchesOf(state).findIndex((b) => literalName(b.selector) === name);
}

/** Where a new branch for `name` goes: before the first branch matching it, else at the end. */
export function insertionIndex(state: PageState, name: string): number {
  const branches = branchesOf(state);
  for (let i = 0; i < branches.length; i++) {
    try {
      if (compileSelector(branches[i].selector as string).test(name)) return i;
    } catch { /* a selector this build cannot run matches nothing */ }
  }
  return branches.length;
}

function ttlArg(ttl: string | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  if (!/^\d{1,10}$/.test(ttl) || Number(ttl) > MAX_TTL) {
    usage(`--ttl must be a whole number of seconds from 0 to ${MAX_TTL}`);
  }
  return Number(ttl);
}

/** A record in page form, validated; `name` normalized. */
export function recordArg(name: string, type: string, rdata: string, ttl?: number): JsonObject {
  const rtype = type.toUpperCase();
  if (!(RECORD_TYPES as readonly string[]).includes(rtype)) {
    usage(`unsupported record type '${type}' (use one of ${RECORD_TYPES.join(", ")})`);
  }
  const record: Record<string, Json> = { domain_name: name, rtype, rdata };
  if (ttl !== undefined) record.rttl = ttl;
  try {
    parseRecord(record);
  } catch (e) {
    usage(`${name} ${rtype} '${rdata}': ${(e as Error).message}`);
  }
  return record;
}

/** True when two page records are the same record (name, type and data, TTL aside). */
export function sameRecord(a: unknown, b: unknown): boolean {
  try {
    const x = parseRecord(a);
    const y = parseRecord(b);
    // Addresses compare as addresses (2001:db8:0::1 is 2001:db8::1).
    const data = (r: typeof x) =>
      (r.type === "A" || r.type === "AAAA") && typeof r.data === "string"
        ? parseIp(r.data)?.join(".") ?? r.data
        : JSON.stringify(r.data);
    return x.name === y.name && x.type === y.type && data(x) === data(y);
  } catch {
    return false;
  }
}

function keyArg(text: string): string {
  if (!HEX64.test(text)) usage(`'${text}' is not a public key (64 lowercase hex digits)`);
  if (!isValidPublicKey(Uint8Array.fromHex(text))) {
    usage(`'${text}' is not a usable Ed25519 public key (its signatures could never count)`);
  }
  return text;
}

function weightArg(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 1e9) {
    usage(`weight '${text}' must be a whole number from 0 to 1000000000`);
  }
  return Number(text);
}

/** Parses `PUB[:WEIGHT]` (weight default 1). */
export function participantArg(text: string): { key: string; weight: number } {
  const [k, w, extra] = text.split(":");
  if (extra !== undefined) usage(`'${text}' is not PUB[:WEIGHT]`);
  return { key: keyArg(k), weight: w === undefined ? 1 : weightArg(w) };
}

/** Parses a fraction in (0, 1] with at most six decimals. */
export function fractionArg(text: string, what: string): number {
  const n = Number(text);
  if (!/^(0|1)(\.\d{1,6})?$/.test(text) || !(n > 0 && n <= 1)) {
    usage(`${what} '${text}' must be a fraction in (0, 1] with at most six decimals`);
  }
  return n;
}

/** Parses a PATH: a JSON list of keys and indexes, or dot-separated (digits are indexes). */
export function pathArg(text: string): (string | number)[] {
  if (text.startsWith("[")) {
    let p: unknown;
    try {
      p = JSON.parse(text);
    } catch {
      usage(`PATH '${text}' is not a JSON list`);
    }
    if (
      !Array.isArray(p) ||
      !p.every((k) => typeof k === "string" || (Number.isSafeInteger(k) && k >= 0))
    ) usage(`PATH '${text}' must list strings and non-negative integers`);
    return p;
  }
  if (text === "") return [];
  return text.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

/**
 * `set` on a path whose objects do not all exist yet (`set meta.contact` on a page without
 * `meta`): the SET goes to the first missing key, with the rest of the path as nested objects.
 * (The protocol's SET needs every step but the last to exist, as DEJE's did.)
 */
function createMissing(
  state: PageState,
  path: (string | number)[],
  value: Json,
): { at: (string | number)[]; value: Json } {
  let node: unknown = state;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    const container = node as Record<string | number, unknown> | null;
    if (
      typeof k === "string" && container !== null && typeof container === "object" &&
      !Array.isArray(container) && !Object.hasOwn(container, k) &&
      path.slice(i + 1).every((r) => typeof r === "string")
    ) {
      let v = value;
      for (const r of path.slice(i + 1).reverse()) v = { [r as string]: v };
      return { at: path.slice(0, i + 1), value: v };
    }
    node = container?.[k];
  }
  return { at: path, value };
}

function jsonArg(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    usage(`'${text}' is not JSON (quote strings: '"text"')`);
  }
}

function need(words: string[], n: number, form: string): void {
  if (words.length !== n) usage(`${words[0]} takes: ${form}`);
}

/**
 * The change a CHANGE command line asks for against `state`. `words` are the positionals after
 * PAGE-ID (`add-record www.example A 192.0.2.1`); `ttl` is `--ttl`. Throws UsageError for bad
 * arguments and InputError-worthy conditions (a record that is not there) as UsageError too,
 * since both are the caller's to fix.
 */
export function buildChange(state: PageState, words: string[], ttl?: string): Change {
  const kind = words[0];
  if (kind === undefined) usage("missing CHANGE");
  if (ttl !== undefined && kind !== "add-record") usage("--ttl applies to add-record only");
  const participants = state.governance.participants;
  switch (kind) {
    case "add-record": {
      need(words, 4, "add-record NAME TYPE RDATA [--ttl N]");
      const name = hostArg(words[1]);
      const record = recordArg(name, words[2], words[3], ttlArg(ttl));
      const at = exactBranch(state, name);
      const text = `add ${name} ${record.rtype} ${words[3]}`;
      if (at < 0) {
        return {
          handler: "ADD_BRANCH",
          args: {
            branch: { selector: exactSelector(name), records: [record] },
            index: insertionIndex(state, name),
          },
          summary: `${text} (new branch)`,
        };
      }
      const records = (branchesOf(state)[at].records ?? []) as Json[];
      if (records.some((r) => sameRecord(r, record))) {
        misfit(`${name} already has the record ${record.rtype} ${words[3]}`);
      }
      return { handler: "ADD_RECORD", args: { branch: at, record }, summary: text };
    }
    case "remove-record": {
      need(words, 4, "remove-record NAME TYPE RDATA");
      const name = hostArg(words[1]);
      const record = recordArg(name, words[2], words[3]);
      const at = exactBranch(state, name);
      const branch = branchesOf(state)[at];
      const records = (branch?.records ?? []) as Json[];
      const i = records.findIndex((r) => sameRecord(r, record));
      if (at < 0 || i < 0) misfit(`${name} has no record ${record.rtype} ${words[3]} to remove`);
      const text = `remove ${name} ${record.rtype} ${words[3]}`;
      // The last record of a branch that holds nothing else: the branch goes too.
      const onlyThis = records.length === 1 &&
        Object.keys(branch).every((k) => k === "selector" || k === "records");
      return onlyThis
        ? { handler: "REMOVE_BRANCH", args: { index: at }, summary: `${text} (and its branch)` }
        : { handler: "REMOVE_RECORD", args: { branch: at, index: i }, summary: text };
    }
    case "delegate": {
      need(words, 3, "delegate NAME PAGE-ID");
      const name = hostArg(words[1]);
      if (!HEX64.test(words[2])) usage(`'${words[2]}' is not a page id (64 lowercase hex)`);
      const selector = subtreeSelector(name);
      const target = `djdns:${words[2]}`;
      if (
        branchesOf(state).some((b) =>
          b.selector === selector && Array.isArray(b.targets) && b.targets.includes(target)
        )
      ) misfit(`${name} is already delegated to ${words[2]}`);
      return {
        handler: "LINK_PAGE",
        args: { selector, page: words[2], index: insertionIndex(state, name) },
        summary: `delegate ${name} and below to page ${words[2]}`,
      };
    }
    case "add-participant": {
      need(words, 2, "add-participant PUB[:WEIGHT]");
      const { key, weight } = participantArg(words[1]);
      if (Object.hasOwn(participants, key)) misfit(`${key} is a participant already`);
      return {
        handler: "SET",
        args: { path: ["governance", "participants", key], value: { weight } },
        summary: `add participant ${key} with weight ${weight}`,
      };
    }
    case "remove-participant": {
      need(words, 2, "remove-participant PUB");
      const key = words[1];
      if (!Object.hasOwn(participants, key)) misfit(`${key} is not a participant`);
      return {
        handler: "DELETE",
        args: { path: ["governance", "participants", key] },
        summary: `remove participant ${key}`,
      };
    }
    case "set-weight": {
      need(words, 3, "set-weight PUB WEIGHT");
      if (!Object.hasOwn(participants, words[1])) misfit(`${words[1]} is not a participant`);
      const weight = weightArg(words[2]);
      return {
        handler: "SET",
        args: { path: ["governance", "participants", words[1], "weight"], value: weight },
        summary: `set the weight of ${words[1]} to ${weight}`,
      };
    }
    case "set-threshold": {
      need(words, 3, "set-threshold content|membership F");
      const which = words[1];
      if (which !== "content" && which !== "membership") {
        usage(`set-threshold: '${which}' is not content or membership`);
      }
      const f = fractionArg(words[2], "threshold");
      return {
        handler: "SET",
        args: { path: ["governance", "thresholds", which], value: f },
        summary: `set the ${which} threshold to ${f}`,
      };
    }
    case "set": {
      need(words, 3, "set PATH JSON");
      const path = pathArg(words[1]);
      const { at, value } = createMissing(state, path, jsonArg(words[2]));
      return {
        handler: "SET",
        args: { path: at, value },
        summary: `set ${formatPath(path)}`,
      };
    }
    case "delete": {
      need(words, 2, "delete PATH");
      const path = pathArg(words[1]);
      if (path.length === 0) usage("delete: PATH must not be empty (the whole state)");
      return { handler: "DELETE", args: { path }, summary: `delete ${formatPath(path)}` };
    }
  }
  usage(`unknown CHANGE '${kind}'`);
}

/**
 * The event for `change` on top of `parent`, checked to apply to `state` (the parent's state):
 * a change that would be rejected (an invalid state, a path that does not exist) is refused here,
 * before anything is signed. Returns the event and its track.
 */
export function eventFor(
  page: string,
  parent: string,
  state: PageState,
  change: { handler: HandlerName; args: Json },
): { event: PageEvent; track: Track } {
  const event = proposeEvent(page, parent, change.handler, change.args);
  const { track } = applyEvent(state, event);
  return { event, track };
}

/** A path as `a.b.0` (or JSON when a key holds a dot). */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(the whole state)";
  return path.some((k) => typeof k === "string" && (k.includes(".") || /^\d+$/.test(k)))
    ? JSON.stringify(path)
    : path.join(".");
}

function short(v: Json, max = 80): string {
  const s = JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

function recordText(r: Json): string {
  const o = (r ?? {}) as JsonObject;
  const data = typeof o.rdata === "string" ? o.rdata : short(o.rdata ?? null, 60);
  return `${o.domain_name ?? "(branch names)"} ${o.rtype ?? "A"} ${data}`;
}

/** One line saying what an event changes. */
export function describeEvent(e: PageEvent): string {
  return describeOp(e.handler, e.args);
}

function describeOp(handler: HandlerName, args: Json): string {
  const a = (args ?? {}) as JsonObject;
  switch (handler) {
    case "SET": {
      const path = a.path as (string | number)[];
      if (path.length === 3 && path[0] === "governance" && path[1] === "participants") {
        return `add/replace participant ${path[2]} as ${short(a.value)}`;
      }
      return `set ${formatPath(path)} = ${short(a.value)}`;
    }
    case "DELETE": {
      const path = a.path as (string | number)[];
      if (path.length === 3 && path[0] === "governance" && path[1] === "participants") {
        return `remove participant ${path[2]}`;
      }
      return `delete ${formatPath(path)}`;
    }
    case "ADD_BRANCH": {
      const b = (a.branch ?? {}) as JsonObject;
      const recs = Array.isArray(b.records) ? b.records.map(recordText) : [];
      const tg = Array.isArray(b.targets) ? ` -> ${b.targets.join(", ")}` : "";
      return `add branch ${JSON.stringify(b.selector)}${tg}` +
        (recs.length ? `: ${recs.join("; ")}` : "");
    }
    case "REMOVE_BRANCH":
      return `remove branch ${a.index}`;
    case "ADD_RECORD":
      return `add record ${recordText(a.record)} to branch ${a.branch}`;
    case "REMOVE_RECORD":
      return `remove record ${a.index} of branch ${a.branch}`;
    case "LINK_PAGE":
      return `delegate ${JSON.stringify(a.selector)} to page ${a.page}`;
    case "SET_DELEGATIONS": {
      const d = (a.delegations ?? {}) as JsonObject;
      const list = Object.entries(d).map(([k, f]) => `${k.slice(0, 12)}…=${Number(f) * 100}%`);
      return list.length
        ? `${a.participant} delegates ${list.join(", ")}`
        : `${a.participant} revokes its delegations`;
    }
    case "BATCH": {
      const ops = (a.ops ?? []) as JsonObject[];
      const parts = ops.slice(0, 3).map((o) =>
        describeOp(o.handler as HandlerName, o.args as Json)
      );
      return `batch of ${ops.length}: ${parts.join("; ")}${ops.length > 3 ? "; …" : ""}`;
    }
  }
}
