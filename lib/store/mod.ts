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
 * The store never verifies signatures: callers pass only verified objects. It checks its own
 * invariants (bytes hash to their ids, states to their hashes, a parent or approved event is
 * stored, sizes and per-peer growth are bounded) and refuses the whole batch when one fails; what
 * it reads back is checked to be what was written (`damaged` otherwise; `verify`, `repair`).
 *
 * @module
 */
export { resolveDataDir, SYSTEM_DATA_DIR } from "./data_dir.ts";
export type { EnvReader } from "./data_dir.ts";
export { StoreError } from "./errors.ts";
export type { StoreErrorCode } from "./errors.ts";
export { LOCK_FILE } from "./lock.ts";
export { DATABASE_FILE, openStore } from "./open.ts";
export {
  openRecordScan,
  type RecordScan,
  type ScanWorkerEvent,
  type ScanWorkerRequest,
} from "./record_scan.ts";
export { describeDamage } from "./integrity.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export type { Store } from "./store.ts";
export { DEFAULT_LIMITS } from "./types.ts";
export type {
  Batch,
  BatchResult,
  Damage,
  HeadUpdate,
  ObjectKind,
  PageRecord,
  PeerRecord,
  PruneResult,
  RepairResult,
  RootUpdate,
  StoredObject,
  StoreLimits,
  StoreOptions,
  StoreStats,
  VerifyResult,
} from "./types.ts";
export {
  checkStoredObject,
  fromStoredObject,
  loadPageLog,
  pageLogBatch,
  prunePage,
  toStoredObject,
} from "./page_objects.ts";
