/**
 * The one error type of the store, and the translation of SQLite and file-system failures into it.
 *
 * @module
 */
import type { Damage } from "./types.ts";

/**
 * Why a store operation failed.
 *
 * - `locked`: another process owns the data directory.
 * - `corrupt`: the database file is damaged, truncated or not an SQLite file.
 * - `damaged`: a stored record is not what was verified (an object's bytes do not hash to its
 *   id, a state to its hash); `djdns store repair` drops it.
 * - `foreign`: a valid SQLite database that djdns did not create.
 * - `newer-version`: created by a newer djdns; this one will not touch it.
 * - `read-only`: the directory or file cannot be written (or the store was opened read-only).
 * - `full`: the disk (or the configured size cap) is full; the batch was not stored.
 * - `invariant`: the caller passed something the store refuses (unknown parent, bad id, size).
 * - `limit`: a bounded-growth limit would be exceeded; the batch was not stored.
 * - `not-found`: the page, checkpoint or database asked for does not exist.
 * - `closed`: the store was already closed.
 * - `io`: any other I/O or SQLite failure.
 */
export type StoreErrorCode =
  | "locked"
  | "corrupt"
  | "damaged"
  | "foreign"
  | "newer-version"
  | "read-only"
  | "full"
  | "invariant"
  | "limit"
  | "not-found"
  | "closed"
  | "io";

/**
 * Every failure the store reports. The message is one line meant for an operator, naming the data
 * directory where it helps; `code` is for programs.
 */
export class StoreError extends Error {
  /** Machine-readable reason. */
  readonly code: StoreErrorCode;
  /** With code `damaged`: the damaged record (the first one, when several were found). */
  damage?: Damage;

  /** Creates a store error; `cause` keeps the underlying SQLite or OS error. */
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}

// SQLite primary result codes we react to (https://sqlite.org/rescode.html).
const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;
// Extended: the WAL's shared-memory index could not grow (on tmpfs and full disks: ENOSPC).
const SQLITE_IOERR_SHMSIZE = SQLITE_IOERR | (19 << 8);

/**
 * Maps an error thrown by `node:sqlite` (or the file system) while working on the database at
 * `path` to a {@linkcode StoreError}. `doing` completes "failed while …" in the message.
 */
export function translateError(e: unknown, path: string, doing: string): StoreError {
  if (e instanceof StoreError) return e;
  const err = e as { errcode?: number; message?: string; code?: string };
  const msg = String(err?.message ?? e);
  // Deno's node:sqlite sets errcode for most failures but not all, so fall back to the text.
  const primary = typeof err?.errcode === "number" ? err.errcode & 0xff : -1;
  if (
    primary === SQLITE_FULL || err?.errcode === SQLITE_IOERR_SHMSIZE ||
    /disk is full|no space left/i.test(msg)
  ) {
    return new StoreError(
      "full",
      `disk full while ${doing} in ${path}: nothing from this operation was stored`,
      { cause: e },
    );
  }
  if (primary === SQLITE_CORRUPT || /malformed/i.test(msg)) {
    return new StoreError("corrupt", `database ${path} is corrupt (${msg})`, { cause: e });
  }
  if (primary === SQLITE_NOTADB || /not a database/i.test(msg)) {
    return new StoreError(
      "corrupt",
      `${path} is not an SQLite database (damaged or foreign file)`,
      { cause: e },
    );
  }
  if (
    primary === SQLITE_READONLY || primary === SQLITE_PERM || /readonly|read-only/i.test(msg) ||
    e instanceof Deno.errors.PermissionDenied || (err?.code === "EROFS")
  ) {
    return new StoreError("read-only", `cannot write ${path} while ${doing}: ${msg}`, {
      cause: e,
    });
  }
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
    return new StoreError("locked", `database ${path} is busy while ${doing}: ${msg}`, {
      cause: e,
    });
  }
  if (primary === SQLITE_CANTOPEN || primary === SQLITE_IOERR) {
    return new StoreError("io", `cannot access ${path} while ${doing}: ${msg}`, { cause: e });
  }
  return new StoreError("io", `store error while ${doing} in ${path}: ${msg}`, { cause: e });
}
