/**
 * The database layout and its forward migrations.
 *
 * Ids (SHA-256) and keys are stored as 32-byte BLOBs, half the size of hex text, and pages are
 * referred to by a small integer `pno`, so an event row costs its canonical bytes plus ~100 bytes.
 * `PRAGMA application_id` marks the file as djdns's; `PRAGMA user_version` is the schema version.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** `PRAGMA application_id` of a djdns store: the ASCII bytes "djdn". */
export const APPLICATION_ID = 0x646a646e;

/** One forward step: applied in one transaction, it moves the schema from `version - 1` to `version`. */
export interface Migration {
  /** The schema version after this step. */
  version: number;
  /** SQL statements of the step. */
  sql: string;
}

/** Object kinds as stored in `objects.kind`. */
export const KIND_CODES = {
  event: 1,
  approval: 2,
  evidence: 3,
  checkpoint: 4,
  "checkpoint-approval": 5,
} as const;

/** Every migration, oldest first; the last one's version is the current schema version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE pages (
        pno INTEGER PRIMARY KEY,
        page_id BLOB NOT NULL UNIQUE,
        following INTEGER NOT NULL DEFAULT 0,
        head BLOB,
        state TEXT,
        state_hash BLOB,
        root_checkpoint BLOB,
        root_state TEXT,
        objects INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE sources (
        sno INTEGER PRIMARY KEY,
        address TEXT NOT NULL UNIQUE
      );
      CREATE TABLE objects (
        seq INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        id BLOB NOT NULL,
        pno INTEGER NOT NULL,
        parent BLOB,
        signer BLOB,
        sno INTEGER,
        bytes BLOB NOT NULL
      );
      CREATE UNIQUE INDEX objects_id ON objects(id, kind);
      CREATE INDEX objects_page ON objects(pno, kind);
      CREATE INDEX objects_parent ON objects(parent, kind) WHERE parent IS NOT NULL;
      CREATE TABLE quota (
        sno INTEGER NOT NULL,
        pno INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (sno, pno)
      ) WITHOUT ROWID;
      CREATE TABLE peers (
        address TEXT PRIMARY KEY,
        score REAL NOT NULL,
        banned_until INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX peers_evict ON peers(score, last_seen);
      PRAGMA application_id = ${APPLICATION_ID};
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Reads `PRAGMA user_version` and `PRAGMA application_id`. */
export function readHeader(db: DatabaseSync): { version: number; applicationId: number } {
  const v = db.prepare("PRAGMA user_version").get() as { user_version: number };
  const a = db.prepare("PRAGMA application_id").get() as { application_id: number };
  // application_id is a signed 32-bit integer in SQLite.
  return { version: v.user_version, applicationId: a.application_id >>> 0 };
}

/**
 * Applies every migration newer than the database's version, each in its own IMMEDIATE
 * transaction together with the `user_version` bump, so a crash leaves either version.
 */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number {
  let { version } = readHeader(db);
  for (const m of migrations) {
    if (m.version <= version) continue;
    if (m.version !== version + 1) throw new Error(`migration gap: ${version} -> ${m.version}`);
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      db.exec(`PRAGMA user_version = ${m.version}`);
      db.exec("COMMIT");
    } catch (e) {
      // SQLite rolls back by itself after some failures (a full disk, an I/O error); a ROLLBACK
      // then would only replace the real error with "no transaction is active".
      if (db.isTransaction) {
        try {
          db.exec("ROLLBACK");
        } catch { /* the original error matters more */ }
      }
      throw e;
    }
    version = m.version;
  }
  return version;
}
