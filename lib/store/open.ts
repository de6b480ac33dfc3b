/**
 * Opening a data directory: lock, create atomically or validate without writing, configure,
 * migrate.
 *
 * A new database is built as `djdns.db.new` and renamed into place once its schema is committed,
 * so an existing `djdns.db` is always a complete store and an empty or short one means damage,
 * never "new". An existing database is first checked on a read-only connection (format,
 * application id, version, integrity); a database that fails is reported and never written to.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { Conn } from "./conn.ts";
import { StoreError, translateError } from "./errors.ts";
import { type DirLock, lockDataDir } from "./lock.ts";
import { APPLICATION_ID, migrate, type Migration, MIGRATIONS, readHeader } from "./schema.ts";
import { damagedError, type DamagedRow, integrityProblems, scan } from "./integrity.ts";
import { makeStore, type Store } from "./store.ts";
import { DEFAULT_LIMITS, type StoreOptions } from "./types.ts";

/** File name of the database inside the data directory. */
export const DATABASE_FILE = "djdns.db";

const SQLITE_MAGIC = "SQLite format 3\0";
// Smallest valid SQLite page; a shorter file cannot hold even the header page.
const MIN_DB_BYTES = 512;

function absolute(dir: string): string {
  const abs = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return abs.length > 1 ? abs.replace(/\/+$/, "") : abs;
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function fsync(path: string): void {
  const f = Deno.openSync(path, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

/**
 * Opens (creating if needed) the store in `dir`. Throws {@linkcode StoreError}: `locked` when
 * another process owns the directory, `corrupt` / `foreign` / `newer-version` for a database it
 * will not use (left untouched), `read-only` when the directory cannot be written, `not-found`
 * for a read-only open of a directory without a store.
 */
export function openStore(dir: string, options: StoreOptions = {}): Store {
  return openStoreWith(dir, options, MIGRATIONS);
}

/** {@linkcode openStore} with an explicit migration list (tests of the migration path). */
export function openStoreWith(
  dir: string,
  options: StoreOptions,
  migrations: readonly Migration[],
): Store {
  const abs = absolute(dir);
  const path = `${abs}/${DATABASE_FILE}`;
  const readOnly = options.readOnly === true;
  const current = migrations[migrations.length - 1].version;
  let lock: DirLock | null = null;
  let db: DatabaseSync | undefined;
  try {
    if (options.create === false) {
      try {
        Deno.statSync(path);
      } catch {
        throw new StoreError("not-found", `no djdns store in ${abs}`);
      }
    }
    if (!readOnly) {
      makeDir(abs);
      lock = lockDataDir(abs);
    }
    let exists = true;
    try {
      Deno.statSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw translateError(e, path, "opening");
      exists = false;
    }
    if (!exists) {
      if (readOnly) throw new StoreError("not-found", `no djdns store in ${abs}`);
      create(path, migrations);
    } else {
      validate(
        abs,
        path,
        current,
        readOnly,
        options.integrityCheck ?? "quick",
        options.checkRecords !== false,
      );
    }
    try {
      db = new DatabaseSync(path, { readOnly });
      db.exec("PRAGMA busy_timeout = 2000");
      // FULL: in WAL mode NORMAL survives a killed process but may lose the last commits on
      // power loss; an accepted event must survive both, so every commit fsyncs the log.
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA trusted_schema = OFF");
      if (options.maxDatabasePages !== undefined) {
        db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.trunc(options.maxDatabasePages))}`);
      }
      if (readOnly) {
        db.exec("PRAGMA query_only = ON");
      } else {
        const mode = (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string })
          .journal_mode;
        if (mode !== "wal") db.exec("PRAGMA journal_mode = WAL");
        migrate(db, migrations);
      }
    } catch (e) {
      throw translateError(e, path, "opening");
    }
    const conn: Conn = {
      db,
      dir: abs,
      path,
      readOnly,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      closed: false,
    };
    return makeStore(conn, lock);
  } catch (e) {
    try {
      db?.close();
    } catch { /* already failing */ }
    lock?.release();
    if (
      readOnly && e instanceof StoreError && e.code === "io" && /unable to open/.test(e.message)
    ) {
      // SQLite reads a WAL database only next to its -wal/-shm files, creating them if absent.
      e.message += ` (reading needs ${DATABASE_FILE}-wal and -shm next to it, which cannot ` +
        "be created here: is the directory on a read-only file system?)";
    }
    throw e;
  }
}

function makeDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new StoreError("io", `data directory ${dir} exists and is not a directory`);
    }
    throw new StoreError(
      "read-only",
      `cannot create data directory ${dir}: ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  }
  if (!Deno.statSync(dir).isDirectory) {
    throw new StoreError("io", `data directory ${dir} exists and is not a directory`);
  }
}

/**
 * Builds a new database next to `path` and renames it into place once complete.
 *
 * The new file is built with a rollback journal, not the write-ahead log: its schema commit
 * lands in the file itself or fails with the real error, and no log can be left behind holding
 * the only copy of a commit (with WAL, closing a connection on an almost-full disk could not
 * checkpoint, and an incomplete file was renamed into place). Before the rename the file is
 * checked from its own bytes: no journal or log beside it, the header naming this schema
 * version, and a size matching the page count the header records. Any failure removes every
 * `.new` file. The first writable open switches the complete store to WAL.
 */
function create(path: string, migrations: readonly Migration[]): void {
  const tmp = `${path}.new`;
  const files = ["", "-wal", "-shm", "-journal"].map((suffix) => tmp + suffix);
  try {
    for (const f of files) removeIfPresent(f);
    const db = new DatabaseSync(tmp);
    try {
      // auto_vacuum must be chosen before the first table exists; INCREMENTAL lets prune hand
      // freed pages back to the file system without a full VACUUM.
      db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      db.exec("PRAGMA journal_mode = DELETE");
      db.exec("PRAGMA synchronous = FULL");
      migrate(db, migrations);
    } finally {
      db.close();
    }
    checkComplete(tmp, migrations[migrations.length - 1].version);
    fsync(tmp);
    Deno.renameSync(tmp, path);
    fsync(path.slice(0, path.lastIndexOf("/")) || "/");
  } catch (e) {
    for (const f of files) {
      try {
        removeIfPresent(f);
      } catch { /* best effort; a leftover .new is removed by the next creation */ }
    }
    const err = translateError(e, path, "creating the database");
    if (err.code === "full") {
      err.message = `disk full while creating the database ${path}: no store was created and ` +
        "nothing was left behind; free some space and try again";
    }
    throw err;
  }
}

/** Throws unless the file at `tmp` holds a whole committed database of schema `version`. */
function checkComplete(tmp: string, version: number): void {
  for (const side of ["-wal", "-journal"]) {
    let size = 0;
    try {
      size = Deno.statSync(tmp + side).size;
    } catch { /* absent: nothing pending */ }
    if (size > 0) {
      throw new StoreError("io", `the new database left ${tmp}${side} behind (${size} bytes)`);
    }
  }
  const head = head100(tmp);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  // Page size at 16 (1 means 65536), page count at 28 (valid when the "version valid for"
  // number at 92 equals the change counter at 24).
  const pageSize = view.getUint16(16) === 1 ? 65536 : view.getUint16(16);
  const pages = view.getUint32(28);
  const counted = view.getUint32(92) === view.getUint32(24);
  const { version: got, applicationId } = fileHeader(head);
  const size = Deno.statSync(tmp).size;
  if (
    got !== version || applicationId !== APPLICATION_ID || !counted || pages === 0 ||
    size !== pages * pageSize
  ) {
    throw new StoreError(
      "io",
      `the new database ${tmp} is incomplete (schema ${got}, ${size} bytes for ${pages} ` +
        `pages of ${pageSize})`,
    );
  }
}

/** Throws `damaged` naming the first damaged record, with the count of the others. */
function checkRecords(db: DatabaseSync, dir: string, path: string): void {
  let first: DamagedRow | undefined;
  let count = 0;
  // One snapshot: a node writing beside a read-only opener never shows half a batch.
  db.exec("BEGIN");
  try {
    scan(db, (d) => {
      first ??= d;
      count++;
    });
  } finally {
    db.exec("COMMIT");
  }
  if (first !== undefined) throw damagedError(dir, path, first, count - 1);
}

function head100(path: string): Uint8Array {
  const head = new Uint8Array(100);
  const f = Deno.openSync(path, { read: true });
  try {
    let n = 0;
    while (n < head.length) {
      const r = f.readSync(head.subarray(n));
      if (r === null) break;
      n += r;
    }
  } finally {
    f.close();
  }
  return head;
}

/** user_version and application_id from the 100-byte SQLite header (big-endian at 60, 68). */
function fileHeader(head: Uint8Array): { version: number; applicationId: number } {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { version: view.getUint32(60), applicationId: view.getUint32(68) };
}

function checkHeader(
  path: string,
  { version, applicationId }: { version: number; applicationId: number },
  current: number,
  readOnly: boolean,
): void {
  if (applicationId !== APPLICATION_ID) {
    throw new StoreError(
      "foreign",
      `${path} is an SQLite database but not a djdns store (application_id ` +
        `0x${applicationId.toString(16)}) — nothing was changed`,
    );
  }
  if (version > current) {
    throw new StoreError(
      "newer-version",
      `${path} has schema version ${version}, newer than this djdns supports (${current}); ` +
        "upgrade djdns — nothing was changed",
    );
  }
  if (version < 1) {
    throw new StoreError("corrupt", `${path} has no schema (version ${version})`);
  }
  if (readOnly && version < current) {
    throw new StoreError(
      "read-only",
      `${path} has schema version ${version} and needs a migration to ${current}; ` +
        "open it once without read-only",
    );
  }
}

/**
 * Checks an existing database on a read-only connection; throws when it must not be used. With
 * an integrity check and `records`, every object, state and root state is also checked to be
 * what was verified (integrity.ts): one SHA-256 per object and per state.
 */
function validate(
  dir: string,
  path: string,
  current: number,
  readOnly: boolean,
  check: "quick" | "full" | "none",
  records: boolean,
): void {
  const size = Deno.statSync(path).size;
  if (size < MIN_DB_BYTES) {
    throw new StoreError(
      "corrupt",
      `database ${path} is truncated (${size} bytes); restore it from a backup or move it away ` +
        "to start empty — nothing was changed",
    );
  }
  if (new TextDecoder().decode(head100(path).subarray(0, 16)) !== SQLITE_MAGIC) {
    throw new StoreError(
      "corrupt",
      `${path} is not an SQLite database (damaged, or not a djdns store) — nothing was changed`,
    );
  }
  let db: DatabaseSync | undefined;
  try {
    // With no log frames, the file header is authoritative: refuse foreign and newer databases
    // from it without opening SQLite, which would create -wal/-shm files next to them.
    let walBytes = 0;
    try {
      walBytes = Deno.statSync(`${path}-wal`).size;
    } catch { /* no log */ }
    const header = walBytes === 0 ? fileHeader(head100(path)) : undefined;
    if (header) checkHeader(path, header, current, readOnly);
    db = new DatabaseSync(path, { readOnly: true });
    const { version, applicationId } = readHeader(db);
    checkHeader(path, { version, applicationId }, current, readOnly);
    if (check !== "none") {
      const problems = integrityProblems(db, check);
      if (problems.length > 0) {
        throw new StoreError(
          "corrupt",
          `database ${path} failed its integrity check (${problems[0]}${
            problems.length > 1 ? ` and ${problems.length - 1} more` : ""
          }); restore it from a backup — nothing was changed`,
        );
      }
      if (records) checkRecords(db, dir, path);
    }
  } catch (e) {
    const err = translateError(e, path, "checking the database");
    if (err.code === "corrupt" && !/nothing was changed/.test(err.message)) {
      err.message += "; restore it from a backup — nothing was changed";
    }
    throw err;
  } finally {
    try {
      db?.close();
    } catch { /* read-only: nothing to flush */ }
  }
}
