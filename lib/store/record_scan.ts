/**
 * The check of every stored record, run a slice at a time beside a store in use: what a node
 * runs in the background after it starts serving (opening checks the file's structure only; see
 * docs/STORE.md, "Integrity of stored records").
 *
 * The scan reads on its own read-only connection inside one read transaction, so it sees one
 * snapshot from start to end: the node's writes go on beside it (WAL readers never block the
 * writer) and a batch is seen whole or not at all.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { translateError } from "./errors.ts";
import { type DamagedRow, recordScanner, type ScanCounts } from "./integrity.ts";
import type { Damage } from "./types.ts";

/** A running check of every stored record. */
export interface RecordScan {
  /**
   * Checks records for about `budgetMs` of the caller's time (at least a few rows); returns true
   * when every record has been checked. Damage found is reported through `onDamage`.
   */
  step(budgetMs: number): boolean;
  /** Objects and pages checked so far. */
  counts(): ScanCounts;
  /** Ends the scan and closes its connection (idempotent). */
  close(): void;
}

/** What the scan worker (record_scan_worker.ts) is told to do. */
export type ScanWorkerRequest =
  | { type: "start"; path: string; sliceMs: number; share: number }
  | { type: "stop" };

/** What the scan worker reports. */
export type ScanWorkerEvent =
  | { type: "damage"; damage: Damage }
  | { type: "progress" | "done" | "stopped"; objects: number; pages: number }
  | { type: "failed"; error: string };

// Rows checked between two looks at the clock: ~0.5-2 ms of work on this hardware.
const SLICE_ROWS = 128;

/**
 * Starts a check of every record of the store at `path` (the database file, see
 * `Store.path`) in one snapshot taken now. Throws `StoreError` when the database cannot be read.
 */
export function openRecordScan(
  path: string,
  onDamage: (d: Damage) => void,
): RecordScan {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    db.exec("PRAGMA query_only = ON");
    db.exec("BEGIN");
    // A deferred transaction takes its snapshot at its first read: take it now.
    db.prepare("SELECT count(*) FROM pages").get();
  } catch (e) {
    try {
      db?.close();
    } catch { /* already failing */ }
    throw translateError(e, path, "starting the record check");
  }
  const conn = db;
  let closed = false;
  let done = false;
  const scanner = recordScanner(conn, (d: DamagedRow) => {
    const out: Damage = { what: d.what, pageId: d.pageId, problem: d.problem };
    if (d.objectId !== undefined) out.objectId = d.objectId;
    if (d.kind !== undefined) out.kind = d.kind;
    onDamage(out);
  });
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.exec("COMMIT");
    } catch { /* read-only: nothing to keep */ }
    conn.close();
  };
  return {
    step(budgetMs) {
      if (done || closed) return true;
      const t0 = performance.now();
      try {
        do {
          if (scanner.step(SLICE_ROWS)) {
            done = true;
            close();
            return true;
          }
        } while (performance.now() - t0 < budgetMs);
      } catch (e) {
        close();
        throw translateError(e, path, "checking stored records");
      }
      return false;
    },
    counts: () => scanner.counts(),
    close,
  };
}
