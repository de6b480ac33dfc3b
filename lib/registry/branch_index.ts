/**
 * The branch index of a page: which branches can match a name, in page order, without testing
 * all of them. Branches whose selector is a plain literal (`^h1\.example$`) are filed under
 * their name, plain suffixes (`\.example$`, `(^|\.)ri\.hype$`) under their suffix (see
 * `Selector.keys`); every other selector is scanned. A lookup is then a handful of map lookups
 * (one per label of the name) plus the scanned branches, whatever the page's size, and the
 * first-match order of DESIGN §4 is kept by merging both lists by branch index: the index only
 * says which branches to test, the walk still tests each one, in order.
 *
 * Built once per page (the first time it is asked for; loaders ask when a page is loaded) and
 * kept beside the page's branch list, which is immutable.
 *
 * @module
 */
import type { Branch, BranchTable } from "./branches.ts";
import { stripDots } from "./selector.ts";

/** The index of one page's branches. */
export interface BranchIndex {
  /**
   * Branch indices by the literal name their selector matches (trailing dots stripped): one
   * index, or an ascending list when several branches share the key.
   */
  readonly exact: ReadonlyMap<string, Slot>;
  /** Branch indices by the suffix (starting with a dot) a name must end in for them to match. */
  readonly suffix: ReadonlyMap<string, Slot>;
  /** Indices of the branches whose selector is tested against every name, ascending. */
  readonly scanned: readonly number[];
  /**
   * Names this page knows to have names below them (RFC 8020 empty non-terminals): the proper
   * ancestors of its literal selectors' names and of its records' owner names, and the names
   * its suffix selectors hang under (`\.b\.test$` makes `b.test` and `test` non-terminals).
   * Regular expressions in general cannot be enumerated, so the names they match add nothing.
   */
  readonly nonTerminals: ReadonlySet<string>;
}

/**
 * The branches filed under one key: a bare index for the usual single branch (100,000
 * one-element arrays would cost ~5 MB), else a list.
 */
export type Slot = number | readonly number[];

const built = new WeakMap<readonly Branch[], BranchIndex>();

function add(map: Map<string, Slot>, key: string, i: number): void {
  const slot = map.get(key);
  if (slot === undefined) map.set(key, i);
  else if (typeof slot === "number") map.set(key, [slot, i]);
  else (slot as number[]).push(i);
}

// Adds the name after each dot of `name`: its proper ancestors, or for a suffix (".b.test") the
// name it hangs under and that name's ancestors. Stops at the first one already held: its own
// ancestors were added with it.
function addAncestors(set: Set<string>, name: string): void {
  for (let i = name.indexOf("."); i >= 0; i = name.indexOf(".", i + 1)) {
    const up = name.slice(i + 1);
    if (up === "" || set.has(up)) return;
    set.add(up);
  }
}

/** The index of `page`'s branches, built on first use and then kept with the page. */
export function branchIndex(page: BranchTable): BranchIndex {
  const branches = page.branches;
  let index = built.get(branches);
  if (index !== undefined) return index;
  const exact = new Map<string, Slot>();
  const suffix = new Map<string, Slot>();
  const scanned: number[] = [];
  const nonTerminals = new Set<string>();
  for (let i = 0; i < branches.length; i++) {
    const b = branches[i];
    for (const r of b.records) if (r.name !== null) addAncestors(nonTerminals, r.name);
    const keys = b.selector.keys;
    if (keys === undefined) {
      scanned.push(i);
      continue;
    }
    if (keys.exact !== undefined) {
      add(exact, keys.exact, i);
      addAncestors(nonTerminals, keys.exact);
    }
    if (keys.suffix !== undefined) {
      add(suffix, keys.suffix, i);
      addAncestors(nonTerminals, keys.suffix);
    }
  }
  index = { exact, suffix, scanned, nonTerminals };
  built.set(branches, index);
  return index;
}

/**
 * The indices of the branches of `page` that may match `name`, ascending: every scanned branch
 * and the indexed branches filed under the name or one of its suffixes. Every branch that
 * matches is among them; the caller tests each (in this order) to find the ones that do.
 */
export function candidates(page: BranchTable, name: string): readonly number[] {
  const index = branchIndex(page);
  const base = stripDots(name);
  let hits: number[] | undefined;
  const take = (slot: Slot | undefined) => {
    if (slot === undefined) return;
    if (hits === undefined) hits = typeof slot === "number" ? [slot] : [...slot];
    else hits = hits.concat(slot);
  };
  if (index.exact.size > 0) take(index.exact.get(base));
  if (index.suffix.size > 0) {
    for (let i = base.indexOf("."); i >= 0; i = base.indexOf(".", i + 1)) {
      take(index.suffix.get(base.slice(i)));
    }
  }
  if (hits === undefined) return index.scanned;
  hits.sort((a, b) => a - b);
  return merge(hits, index.scanned);
}

// Merges two ascending lists into one ascending list without repeats.
function merge(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

/** True when some branch of `page` matches `name` (first-match order does not matter here). */
export function anyMatch(page: BranchTable, name: string): boolean {
  const branches = page.branches;
  for (const i of candidates(page, name)) if (branches[i].selector.test(name)) return true;
  return false;
}
