/**
 * The djdns store: an embedded, crash-safe SQLite data directory holding every verified object
 * (events, approvals, equivocation evidence, checkpoints), each page's head and materialized
 * state, the followed flag, and known peers. See docs/STORE.md.
 *
 * ```ts
 * import { openStore } from "./mod.ts";
 * const store = openStore("/tmp/djdns-data");
 * store.putBatch({ objects: [...verified], heads: [{ pageId, headId, state, stateHash }] });
 * for (const page of store.listPages({ following: true })) console.log(page.headId);
 * store.close();
 * ```
 *
 * The store never verifies signatures or hashes: callers pass only verified objects. It checks
 * its own invariants (a parent or approved event is stored, ids are well-formed, sizes and
 * per-peer growth are bounded) and refuses the whole batch when one fails.
 *
 * @module
 */
export { resolveDataDir, SYSTEM_DATA_DIR } from "./data_dir.ts";
export type { EnvReader } from "./data_dir.ts";
export { StoreError } from "./errors.ts";
export type { StoreErrorCode } from "./errors.ts";
export { LOCK_FILE } from "./lock.ts";
export { DATABASE_FILE, openStore } from "./open.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export type { Store } from "./store.ts";
export { DEFAULT_LIMITS } from "./types.ts";
export type {
  Batch,
  BatchResult,
  HeadUpdate,
  ObjectKind,
  PageRecord,
  PeerRecord,
  PruneResult,
  RootUpdate,
  StoredObject,
  StoreLimits,
  StoreOptions,
  StoreStats,
} from "./types.ts";
export {
  fromStoredObject,
  loadPageLog,
  pageLogBatch,
  prunePage,
  toStoredObject,
} from "./page_objects.ts";
