/**
 * A page source over a directory of page files in the original DJDNS format (the flat-file
 * registries python-djdns served). All pages reachable from the root are read and validated
 * up front into an immutable snapshot, so queries never touch the disk; a reload builds a new
 * snapshot and swaps it in whole, or keeps the old one when the new root is invalid.
 *
 * @module
 */
import * as path from "node:path";
import { type BranchTable, BranchTableError, parseBranchTable } from "../registry/branches.ts";
import type { LoadedPage, PageSource } from "../registry/source.ts";

/** Largest page file read, in bytes. */
export const MAX_PAGE_FILE_BYTES = 32 * 1024 * 1024;
/** Most page files one directory may contribute. */
export const MAX_PAGE_FILES = 10_000;
/** Most load errors listed for one directory (the rest are counted in one more line). */
export const MAX_REPORTED_ERRORS = 1_000;

/** Every page reachable from the root of a page directory, validated. */
export interface PageSnapshot {
  /** The page directory (absolute). */
  dir: string;
  /** The root page. */
  root: LoadedPage;
  /**
   * Pages by key: a path relative to `dir`, or `djdns:<page-id>` for a verified signed page; a
   * page that failed to load maps to its error.
   */
  pages: Map<string, LoadedPage | Error>;
  /** Messages of the pages that failed to load. */
  errors: string[];
}

/**
 * Resolves a `file` target to its key: a normalized path relative to the page directory.
 * Targets are relative to the page directory itself (as in python-djdns, which ran inside it),
 * and may not leave it.
 */
export function pageKey(target: string): string {
  const key = path.posix.normalize(target.replace(/^\/+/, ""));
  if (key === ".." || key.startsWith("../") || key === "." || path.posix.isAbsolute(key)) {
    throw new Error(`page '${target}' lies outside the page directory`);
  }
  // Signed pages are keyed `djdns:<id>`; a file may never stand in for one.
  if (key.startsWith("djdns:")) {
    throw new Error(`page file names starting with 'djdns:' are reserved`);
  }
  return key;
}

async function readPage(dir: string, key: string): Promise<BranchTable> {
  const file = path.join(dir, key);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch (e) {
    throw new BranchTableError(
      key,
      e instanceof Deno.errors.NotFound ? "no such page file" : String(e),
    );
  }
  if (!info.isFile) throw new BranchTableError(key, "not a regular file");
  if (info.size > MAX_PAGE_FILE_BYTES) {
    throw new BranchTableError(key, `page file larger than ${MAX_PAGE_FILE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new BranchTableError(key, `not valid JSON: ${(e as Error).message}`);
  }
  return parseBranchTable(value, key);
}

/**
 * Loads the page directory `dir` starting at `rootFile` (relative to `dir`). Throws
 * {@linkcode BranchTableError} when the root page itself is missing or invalid; sub-pages that fail
 * are recorded in the snapshot and fail only the lookups that reach them.
 */
export async function loadPageDir(dir: string, rootFile = "root.json"): Promise<PageSnapshot> {
  const absDir = path.resolve(dir);
  const rootKey = pageKey(rootFile);
  const root: LoadedPage = { key: rootKey, page: await readPage(absDir, rootKey) };
  const pages = new Map<string, LoadedPage | Error>([[rootKey, root]]);
  const errors: string[] = [];
  // Errors are reported up to a bound: their number follows page contents, not files.
  let untold = 0;
  const report = (message: string) => {
    if (errors.length < MAX_REPORTED_ERRORS) errors.push(message);
    else untold++;
  };
  let overLimit = false;
  const queue: LoadedPage[] = [root];
  while (queue.length > 0) {
    const lp = queue.shift()!;
    for (const branch of lp.page.branches) {
      for (const t of branch.targets) {
        if (t.kind !== "file") continue;
        let key: string;
        try {
          key = pageKey(t.path);
        } catch (e) {
          report(`${lp.key}: ${(e as Error).message}`);
          continue;
        }
        if (pages.has(key)) continue;
        if (pages.size >= MAX_PAGE_FILES) {
          // One error for the directory, not one entry per further name: the names come from
          // page contents, so their number is not bounded by the files that exist.
          if (!overLimit) {
            overLimit = true;
            errors.push(`${dir}: more than ${MAX_PAGE_FILES} page files; the rest are not loaded`);
          }
          continue;
        }
        try {
          const loaded = { key, page: await readPage(absDir, key) };
          pages.set(key, loaded);
          queue.push(loaded);
        } catch (e) {
          pages.set(key, e as Error);
          report((e as Error).message);
        }
      }
    }
  }
  if (untold > 0) errors.push(`${dir}: ${untold} more page errors not listed`);
  return { dir: absDir, root, pages, errors };
}

/**
 * A {@linkcode PageSource} over whatever snapshot `current()` returns. A query takes a
 * {@linkcode PageSource.view} first, so a reload swaps pages without any query seeing a mix of
 * old and new.
 */
export function snapshotSource(current: () => PageSnapshot): PageSource {
  return {
    root: () => current().root,
    view() {
      const snap = current();
      return snapshotSource(() => snap);
    },
    get(target, from) {
      // Only pages verified from their genesis may be reached from a signed page.
      if (target.kind === "file" && from.key.startsWith("djdns:")) {
        throw new Error(`signed page ${from.key.slice(6)} names a page file (${target.path})`);
      }
      const key = target.kind === "djdns" ? `djdns:${target.pageId}` : pageKey(target.path);
      const found = current().pages.get(key);
      if (found === undefined) {
        throw new Error(
          target.kind === "djdns"
            ? `signed page ${target.pageId} is not held by this node`
            : `page '${target.path}' is not loaded`,
        );
      }
      if (found instanceof Error) throw found;
      return found;
    },
  };
}
