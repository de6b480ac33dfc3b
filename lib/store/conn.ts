/**
 * The open connection shared by the store's parts: cached prepared statements, transactions that
 * translate SQLite failures, and id conversions.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StoreError, translateError } from "./errors.ts";
import type { StoreLimits } from "./types.ts";

/** Internal handle on an open store. */
export interface Conn {
  /** The SQLite connection. */
  db: DatabaseSync;
  /** Data directory. */
  dir: string;
  /** Database file. */
  path: string;
  /** Opened with `readOnly`. */
  readOnly: boolean;
  /** Effective limits. */
  limits: StoreLimits;
  /** Set once closed. */
  closed: boolean;
}

const cache = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/** Returns a prepared statement for `sql`, prepared once per connection. */
export function stmt(conn: Conn, sql: string): StatementSync {
  let m = cache.get(conn.db);
  if (m === undefined) cache.set(conn.db, m = new Map());
  let s = m.get(sql);
  if (s === undefined) {
    s = conn.db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

/** Throws unless the store is open (and, for writes, writable). */
export function ensureOpen(conn: Conn, write: boolean): void {
  if (conn.closed) throw new StoreError("closed", `store ${conn.dir} is closed`);
  if (write && conn.readOnly) {
    throw new StoreError("read-only", `store ${conn.dir} was opened read-only`);
  }
}

/**
 * Runs `fn` in one IMMEDIATE transaction: committed entirely or rolled back entirely. Any error
 * leaves the database as it was and is rethrown as a {@linkcode StoreError}.
 */
export function writeTx<T>(conn: Conn, doing: string, fn: () => T): T {
  ensureOpen(conn, true);
  try {
    conn.db.exec("BEGIN IMMEDIATE");
  } catch (e) {
    throw translateError(e, conn.path, doing);
  }
  try {
    const out = fn();
    conn.db.exec("COMMIT");
    return out;
  } catch (e) {
    // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
    if (conn.db.isTransaction) {
      try {
        conn.db.exec("ROLLBACK");
      } catch { /* the original error matters more */ }
    }
    throw translateError(e, conn.path, doing);
  }
}

/**
 * Runs `fn` in a read transaction so that several queries see one snapshot (a concurrent
 * writer's batch is either wholly visible or not at all).
 */
export function readTx<T>(conn: Conn, doing: string, fn: () => T): T {
  ensureOpen(conn, false);
  if (conn.db.isTransaction) return fn();
  try {
    conn.db.exec("BEGIN");
    try {
      return fn();
    } finally {
      conn.db.exec("COMMIT");
    }
  } catch (e) {
    throw translateError(e, conn.path, doing);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Checks a 64-hex-digit id and returns its 32 bytes; `what` names it in the error. */
export function idBytes(hex: unknown, what: string): Uint8Array {
  if (typeof hex !== "string" || !HEX64.test(hex)) {
    throw new StoreError(
      "invariant",
      `${what} must be 64 lowercase hex digits, got ${JSON.stringify(hex)?.slice(0, 80)}`,
    );
  }
  return Uint8Array.fromHex(hex);
}

/** Hex of a stored 32-byte id (null stays null). */
export function hexOf(b: Uint8Array | null | undefined): string | null {
  return b == null ? null : b.toHex();
}
