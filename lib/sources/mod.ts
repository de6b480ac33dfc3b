/**
 * Page sources: where the resolver's pages come from, each an implementation of the registry's
 * `PageSource` seam. They sit above both pure layers: they read files (`files.ts`) or take
 * states the page engine verified (`signed.ts`), and hand the resolver validated branch tables,
 * so neither `lib/registry` nor `lib/page` knows the other's I/O or the other's model. Sources
 * of pages fetched from peers belong here too.
 *
 * @module
 */
export {
  loadPageDir,
  MAX_PAGE_FILE_BYTES,
  MAX_PAGE_FILES,
  MAX_REPORTED_ERRORS,
  pageKey,
  type PageSnapshot,
  snapshotSource,
} from "./files.ts";
export { signedPage } from "./signed.ts";
