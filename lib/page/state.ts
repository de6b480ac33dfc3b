/**
 * Page states: `meta`, `governance` and `branches` (the original DJDNS page format), validation of
 * whole states and of the parts an event changed, and the state hash.
 *
 * @module
 */
import { parseRecord } from "../registry/rdata.ts";
import {
  type Branch,
  BranchTableError,
  MAX_BRANCHES,
  MAX_META_LENGTH,
  MAX_RECORDS,
  parseBranch,
  parseMeta,
} from "../registry/branches.ts";
import {
  canonicalizeShared,
  deepFreeze,
  type Json,
  type JsonObject,
  sha256Hex,
} from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import { type Governance, validateGovernance, validateNextGovernance } from "./governance.ts";

/** UTF-8 length of a well-formed string (canonical JSON has no lone surrogates). */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // 2 bytes below 0x800, 3 in the BMP above, 4 for a surrogate pair (2 units counted already).
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
  }
  return n;
}

/** Most keys of `meta` (known keys plus ignored extensions). */
export const MAX_META_KEYS = 16;

/** The state of a signed page: what the change log computes at each event. */
export interface PageState {
  /** Free-text description (`authority`, `contact`, `about`, `policy`; other keys ignored). */
  readonly meta?: JsonObject;
  /** Participants and thresholds. */
  readonly governance: Governance;
  /** Ordered name rules in the original page format (raw JSON, validated). */
  readonly branches: readonly JsonObject[];
}

// Parsed form of every raw branch object seen valid; raw branches are frozen and shared between
// states, so an unchanged branch is validated (and its selector compiled) once.
const parsed = new WeakMap<object, Branch>();

function fail(where: string, what: string): never {
  throw new SignedPageError("invalid-state", `${where}: ${what}`);
}

function pageFail(e: unknown): never {
  if (e instanceof BranchTableError) throw new SignedPageError("invalid-state", e.message);
  throw e;
}

function checkMeta(meta: unknown, where: string): void {
  if (meta === undefined) return;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    fail(where, "must be an object");
  }
  const keys = Object.keys(meta);
  if (keys.length > MAX_META_KEYS) fail(where, `more than ${MAX_META_KEYS} keys`);
  for (const k of keys) {
    // parseMeta ignores unknown keys; bound them here so no key can grow a page without limit.
    const v = (meta as Record<string, unknown>)[k];
    if (typeof v !== "string" || v.length > MAX_META_LENGTH) {
      fail(`${where}.${k}`, `must be a string of at most ${MAX_META_LENGTH} characters`);
    }
  }
  try {
    parseMeta(meta, where);
  } catch (e) {
    pageFail(e);
  }
}

/**
 * The parsed form of `raw` if it differs from `before`, a valid branch, only in its records: the
 * selector and targets of `before` reused, the records parsed. Undefined when that does not apply
 * or a record fails (the caller then parses the whole branch, and reports what fails). It gives
 * what parseBranches gives, which parses the selector, the targets and the records of a branch
 * each on its own; changing a branch's records is the common event, and compiling its selector
 * again was most of the cost of validating it.
 */
function withNewRecords(raw: object, before: unknown): Branch | undefined {
  if (before === null || typeof before !== "object" || Array.isArray(raw)) return undefined;
  const old = parsed.get(before);
  const r = raw as Record<string, unknown>;
  const b = before as Record<string, unknown>;
  if (old === undefined || r.selector !== b.selector || r.targets !== b.targets) return undefined;
  const records = r.records;
  if (records === undefined || records === null) {
    return { selector: old.selector, targets: old.targets, records: [] };
  }
  if (!Array.isArray(records) || records.length > MAX_RECORDS) return undefined;
  try {
    return {
      selector: old.selector,
      targets: old.targets,
      records: records.map((rec) => parseRecord(rec)),
    };
  } catch {
    return undefined;
  }
}

/**
 * Validates (and caches the parsed form of) one raw branch. `before` is the branch it replaces,
 * if any; `fresh` says that `raw` was just made by copy-on-write, so cannot be in the cache yet
 * (asking would cost a WeakMap lookup per event for nothing).
 */
function checkBranch(
  raw: unknown,
  index: number,
  where: string,
  before?: unknown,
  fresh = false,
): void {
  if (!fresh && raw !== null && typeof raw === "object" && parsed.has(raw)) return;
  if (raw !== null && typeof raw === "object") {
    const quick = withNewRecords(raw, before);
    if (quick !== undefined) {
      parsed.set(raw, quick);
      return;
    }
  }
  let branch: Branch;
  try {
    // One branch, named by its index (a holey list of index + 1 elements, as before, made
    // loading a 100,000-branch state quadratic).
    branch = parseBranch(raw, index, where);
  } catch (e) {
    pageFail(e);
  }
  parsed.set(raw as object, branch);
}

function checkBranches(
  value: unknown,
  where: string,
  previous?: readonly JsonObject[],
  only?: number,
): void {
  if (!Array.isArray(value)) fail(where, "must be a list");
  if (value.length > MAX_BRANCHES) fail(where, `more than ${MAX_BRANCHES} branches`);
  if (only !== undefined && previous !== undefined && value.length === previous.length) {
    // Every other branch is the previous state's: the loop below would skip them all. This one,
    // if changed, is a copy made by the event's operations.
    if (previous[only] !== value[only]) {
      checkBranch(value[only], only, `${where}[${only}]`, previous[only], true);
    }
    return;
  }
  for (let i = 0; i < value.length; i++) {
    // Positional identity first: an event usually changes one branch in place.
    if (previous !== undefined && previous[i] === value[i]) continue;
    checkBranch(value[i], i, `${where}[${i}]`, previous?.[i]);
  }
}

/**
 * Validates a whole state; returns it deep-frozen and typed. Throws `SignedPageError`
 * ("invalid-state") naming the part at fault (`state.branches[3]: branch 3 (...): record 0: ...`).
 */
export function validateState(value: unknown, where = "state"): PageState {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(where, "must be an object");
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (k !== "meta" && k !== "governance" && k !== "branches") fail(where, `unknown field '${k}'`);
  }
  checkMeta(v.meta, `${where}.meta`);
  validateGovernance(v.governance, `${where}.governance`);
  checkBranches(v.branches, `${where}.branches`);
  return deepFreeze(value) as unknown as PageState;
}

/**
 * Validates `next`, the result of applying an event to the valid state `prev`, re-checking only
 * the parts that are not shared with `prev` (states are copy-on-write). `onlyBranch`, when the
 * caller knows it, is the one branch index whose element may differ from `prev`'s (the changes
 * were all inside that branch), so the other branches are not even compared.
 */
export function validateNextState(
  prev: PageState,
  next: Json,
  where = "state",
  onlyBranch?: number,
): PageState {
  if ((next as unknown) === prev) return prev;
  if (next === null || typeof next !== "object" || Array.isArray(next)) {
    fail(where, "must be an object");
  }
  const v = next as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (k !== "meta" && k !== "governance" && k !== "branches") fail(where, `unknown field '${k}'`);
  }
  if (v.meta !== prev.meta) checkMeta(v.meta, `${where}.meta`);
  if (v.governance !== prev.governance) {
    validateNextGovernance(prev.governance, v.governance, `${where}.governance`);
  }
  if (v.branches !== prev.branches) {
    checkBranches(v.branches, `${where}.branches`, prev.branches, onlyBranch);
  }
  return next as unknown as PageState;
}

const hashes = new WeakMap<object, { hash: string; bytes: number }>();

function measured(state: PageState): { hash: string; bytes: number } {
  let h = hashes.get(state);
  if (h === undefined) {
    const text = canonicalizeShared(state, "state");
    h = { hash: sha256Hex(text), bytes: utf8Length(text) };
    hashes.set(state, h);
  }
  return h;
}

/** Lowercase hex SHA-256 of the canonical JSON of a state (cached per state object). */
export function stateHash(state: PageState): string {
  return measured(state).hash;
}

/** Size of the canonical JSON of a state in bytes (UTF-8), cached like the hash. */
export function stateSize(state: PageState): number {
  return measured(state).bytes;
}

/** The branches of a valid state in parsed form (compiled selectors), for the resolver. */
export function stateBranches(state: PageState): Branch[] {
  return state.branches.map((raw, i) => {
    let b = parsed.get(raw);
    if (b === undefined) {
      checkBranch(raw, i, `state.branches[${i}]`);
      b = parsed.get(raw)!;
    }
    return b;
  });
}

/** Page ids named by `djdns:<page-id>` targets in a state's branches, in order, without repeats. */
export function linkedPageIds(state: PageState): string[] {
  const out = new Set<string>();
  for (const b of stateBranches(state)) {
    for (const t of b.targets) if (t.kind === "djdns") out.add(t.pageId);
  }
  return [...out];
}
