/**
 * The {@linkcode Store} handle: the store's whole API as one plain object over an open connection.
 *
 * @module
 */
import { type Conn, ensureOpen } from "./conn.ts";
import { StoreError, translateError } from "./errors.ts";
import { integrityProblems } from "./integrity.ts";
import type { DirLock } from "./lock.ts";
import { getPeer, listPeers, putPeers, removePeer } from "./peers.ts";
import { compact, prune } from "./prune.ts";
import { getObject, getPage, listPages, objectsOf, objectsReferring, rootOf } from "./read.ts";
import { stats } from "./stats.ts";
import { type ObjectCheck, repair, verify } from "./repair.ts";
import { putBatch } from "./write.ts";
import type {
  Batch,
  BatchResult,
  Damage,
  HeadUpdate,
  ObjectKind,
  PageRecord,
  PeerRecord,
  PruneResult,
  RepairResult,
  StoredObject,
  StoreStats,
  VerifyResult,
} from "./types.ts";

/**
 * An open store. Every method is synchronous (node:sqlite is) and throws {@linkcode StoreError}.
 * Writes are durable when they return: each is one transaction, fsynced on commit.
 */
export interface Store {
  /** Absolute data directory. */
  readonly dir: string;
  /** Absolute path of the database file. */
  readonly path: string;
  /** Whether the store was opened read-only. */
  readonly readOnly: boolean;

  /** Stores a batch atomically; see {@linkcode Batch}. */
  putBatch(batch: Batch): BatchResult;
  /** Moves a page's head (one-update batch). */
  setHead(update: HeadUpdate): void;
  /** Follows or unfollows a page (creating its row if unknown). */
  follow(pageId: string, following: boolean): void;

  /** A page's record, or undefined. */
  getPage(pageId: string): PageRecord | undefined;
  /** The page's root checkpoint and the state at its anchor (set by `roots` or `prune`). */
  rootOf(pageId: string): { checkpointId: string; state: string } | undefined;
  /**
   * All pages, or only followed / unfollowed ones, in page-id order. A damaged state throws
   * `damaged`; with `onDamage`, that page is reported there and left out instead.
   */
  listPages(filter?: { following?: boolean; onDamage?: (d: Damage) => void }): PageRecord[];
  /** One object by id (and kind), or undefined. */
  getObject(id: string, kind?: ObjectKind): StoredObject | undefined;
  /** The page's events in the order they were stored (parents before children). */
  eventsOf(pageId: string): StoredObject[];
  /** The page's objects of one kind, or of all kinds, in the order they were stored. */
  objectsOf(pageId: string, kind?: ObjectKind): StoredObject[];
  /** Approvals of one event. */
  approvalsOf(eventId: string): StoredObject[];
  /** Events whose parent is `eventId`. */
  childrenOf(eventId: string): StoredObject[];

  /** Upserts peers in one transaction; returns how many peers were evicted to stay bounded. */
  putPeers(peers: PeerRecord[]): number;
  /** One peer, or undefined. */
  getPeer(address: string): PeerRecord | undefined;
  /** Peers, best first; banned ones only with `includeBanned`. */
  listPeers(options?: { limit?: number; includeBanned?: boolean; now?: number }): PeerRecord[];
  /** Forgets a peer; returns whether it was known. */
  removePeer(address: string): boolean;

  /**
   * Removes a page's history older than a checkpoint (see lib/store/prune.ts), then returns freed
   * space to the file system.
   */
  prune(pageId: string, options?: { checkpointId?: string; anchorState?: string }): PruneResult;
  /** Counts and sizes. */
  stats(): StoreStats;
  /**
   * Runs SQLite's `quick_check` (default) or full `integrity_check`; returns the problems found,
   * an empty list when the database is sound.
   */
  checkIntegrity(mode?: "quick" | "full"): string[];
  /**
   * Checks SQLite's structure, then every stored record in one snapshot: each object's bytes hash
   * to its id and are UTF-8 JSON (and pass `check`, when given: the CLI decodes them with the page
   * module), each page's state hashes to its state hash and its head is stored, each root state
   * hashes to what its checkpoint commits to. Calls `onDamage` for every damaged record; writes
   * nothing.
   */
  verify(onDamage?: (d: Damage) => void, check?: (o: StoredObject) => string | null): VerifyResult;
  /**
   * Drops every damaged record {@linkcode Store.verify} would report, in one transaction, and
   * clears the head and materialized state (and a damaged root) of every page concerned, so the
   * page is imported or fetched again rather than served from damaged bytes. Throws `corrupt`
   * (nothing changed) when SQLite finds the file's structure damaged: that needs a backup.
   */
  repair(check?: (o: StoredObject) => string | null): RepairResult;
  /** Closes the database (folding the write-ahead log into it) and releases the lock. */
  close(): void;
}

/** Builds the handle over an open connection; `lock` is released on close. */
export function makeStore(conn: Conn, lock: DirLock | null): Store {
  return {
    dir: conn.dir,
    path: conn.path,
    readOnly: conn.readOnly,
    putBatch: (batch) => putBatch(conn, batch),
    setHead: (update) => void putBatch(conn, { heads: [update] }),
    follow: (pageId, following) => void putBatch(conn, { follow: [{ pageId, following }] }),
    getPage: (pageId) => getPage(conn, pageId),
    rootOf: (pageId) => rootOf(conn, pageId),
    listPages: (filter) => listPages(conn, filter),
    getObject: (id, kind) => getObject(conn, id, kind),
    eventsOf: (pageId) => objectsOf(conn, pageId, "event"),
    objectsOf: (pageId, kind) => objectsOf(conn, pageId, kind),
    approvalsOf: (eventId) => objectsReferring(conn, eventId, "approval"),
    childrenOf: (eventId) => objectsReferring(conn, eventId, "event"),
    putPeers: (peers) => putPeers(conn, peers),
    getPeer: (address) => getPeer(conn, address),
    listPeers: (options) => listPeers(conn, options),
    removePeer: (address) => removePeer(conn, address),
    prune(pageId, options) {
      const r = prune(conn, pageId, options);
      compact(conn);
      return r;
    },
    stats: () => stats(conn),
    checkIntegrity(mode = "quick") {
      ensureOpen(conn, false);
      try {
        return integrityProblems(conn.db, mode);
      } catch (e) {
        throw translateError(e, conn.path, "checking integrity");
      }
    },
    verify: (onDamage, check?: ObjectCheck) => verify(conn, onDamage, check),
    repair: (check?: ObjectCheck) => repair(conn, check),
    close() {
      if (conn.closed) return;
      conn.closed = true;
      try {
        conn.db.close();
      } catch (e) {
        throw new StoreError("io", `closing ${conn.path}: ${e}`, { cause: e });
      } finally {
        lock?.release();
      }
    },
  };
}
