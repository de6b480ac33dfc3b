/**
 * `verify` and `repair`: finding every damaged record, and dropping them so that the pages they
 * belong to are fetched again (from peers or a bundle) instead of served from damaged bytes.
 *
 * @module
 */
import { type Conn, ensureOpen, readTx, stmt, writeTx } from "./conn.ts";
import { StoreError, translateError } from "./errors.ts";
import { type DamagedRow, integrityProblems, scan } from "./integrity.ts";
import { recount } from "./prune.ts";
import type { Damage, RepairResult, StoredObject, VerifyResult } from "./types.ts";

/** An extra check of every object whose bytes hash to its id; returns a problem or null. */
export type ObjectCheck = (o: StoredObject) => string | null;

function publicDamage(d: DamagedRow): Damage {
  const out: Damage = { what: d.what, pageId: d.pageId, problem: d.problem };
  if (d.objectId !== undefined) out.objectId = d.objectId;
  if (d.kind !== undefined) out.kind = d.kind;
  return out;
}

function structure(conn: Conn): string[] {
  try {
    return integrityProblems(conn.db, "quick");
  } catch (e) {
    return [translateError(e, conn.path, "checking integrity").message];
  }
}

/**
 * Checks SQLite's structure (`quick_check`) and then every stored record, in one snapshot:
 * objects (bytes hash to the id, UTF-8 JSON, and `check` when given), each page's state, head and
 * root. Calls `onDamage` for each damaged record. Writes nothing.
 */
export function verify(
  conn: Conn,
  onDamage: (d: Damage) => void = () => {},
  check?: ObjectCheck,
): VerifyResult {
  ensureOpen(conn, false);
  const problems = structure(conn);
  let damaged = 0;
  let counts = { objects: 0, pages: 0 };
  try {
    counts = readTx(conn, "verifying", () =>
      scan(conn.db, (d) => {
        damaged++;
        onDamage(publicDamage(d));
      }, { deep: true, check }));
  } catch (e) {
    if (problems.length === 0) throw e;
    // A damaged b-tree may not even read; what SQLite said is the report.
    problems.push(e instanceof Error ? e.message : String(e));
  }
  return { ...counts, structure: problems, damaged };
}

/**
 * Drops every damaged record in one transaction: damaged objects are deleted; every page that
 * held one, or whose state or head is damaged, loses its head and materialized state; a page whose
 * root is damaged also loses its root. Such a page is no longer served from the store until it is
 * imported again or fetched from peers. Refuses (`corrupt`, nothing changed) when SQLite finds
 * the structure itself damaged, which only a backup can fix.
 */
export function repair(conn: Conn, check?: ObjectCheck): RepairResult {
  ensureOpen(conn, true);
  const problems = structure(conn);
  if (problems.length > 0) {
    throw new StoreError(
      "corrupt",
      `database ${conn.path} failed SQLite's integrity check (${problems[0]}); repair drops ` +
        "damaged records but cannot rebuild the file: restore it from a backup — nothing was " +
        "changed",
    );
  }
  return writeTx(conn, "repairing", () => {
    const found: DamagedRow[] = [];
    scan(conn.db, (d) => found.push(d), { deep: true, check });
    const del = stmt(conn, "DELETE FROM objects WHERE seq = ?");
    const cleared = new Map<number, string>();
    const roots = new Map<number, string>();
    const droppedObjects: Damage[] = [];
    for (const d of found) {
      if (d.seq !== undefined) {
        del.run(d.seq);
        droppedObjects.push(publicDamage(d));
      }
      cleared.set(d.pno, d.pageId);
      if (d.what === "root") roots.set(d.pno, d.pageId);
    }
    const clearHead = stmt(
      conn,
      "UPDATE pages SET head = NULL, state = NULL, state_hash = NULL, updated_at = ? WHERE pno = ?",
    );
    const clearRoot = stmt(
      conn,
      "UPDATE pages SET root_checkpoint = NULL, root_state = NULL WHERE pno = ?",
    );
    const now = Date.now();
    const known = stmt(conn, "SELECT 1 FROM pages WHERE pno = ?");
    for (const pno of cleared.keys()) {
      if (known.get(pno) === undefined) continue;
      clearHead.run(now, pno);
      if (roots.has(pno)) clearRoot.run(pno);
      recount(conn, pno);
    }
    return {
      droppedObjects,
      clearedPages: [...new Set(cleared.values())].filter((p) => p !== "(unknown)").sort(),
      clearedRoots: [...new Set(roots.values())].sort(),
    };
  });
}
