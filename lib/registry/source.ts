/**
 * The seam between the resolver and wherever pages come from. The implementations live in
 * `lib/sources` (page files, verified signed pages; pages fetched from peers later), so the
 * resolver never learns where a page came from and does not change when a source is added.
 *
 * @module
 */
import type { BranchTable, Target } from "./branches.ts";

/** A page as the resolver sees it, with a key that identifies it for cycle detection and traces. */
export interface LoadedPage {
  /** Stable identity of the page (a path relative to the page directory, or `djdns:<id>`). */
  key: string;
  /** The page's content, validated (the field keeps its name: a loaded page is a page). */
  page: BranchTable;
}

/**
 * Where the resolver gets pages. Either method may answer synchronously or with a promise, and
 * may fail (throw or reject); a failure counts as an empty result and the walk moves on.
 */
export interface PageSource {
  /** The root page of the registry. */
  root(): LoadedPage | Promise<LoadedPage>;
  /** The page a `file` or `djdns` target of page `from` names. */
  get(target: Exclude<Target, { kind: "dns" }>, from: LoadedPage): LoadedPage | Promise<LoadedPage>;
  /**
   * Optionally, a source fixed to the pages as they are now, taken once per query so that one
   * resolution never mixes pages from before and after a reload.
   */
  view?(): PageSource;
}
