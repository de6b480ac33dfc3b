/**
 * The store's public data types.
 *
 * @module
 */
import { MAX_CHECKPOINT_BYTES, MAX_STATE_BYTES } from "../page/limits.ts";

/**
 * What a stored object is. The genesis is an event without parent; delegations are events on the
 * delegator's governance entry, so they are stored as events too.
 */
export type ObjectKind = "event" | "approval" | "evidence" | "checkpoint" | "checkpoint-approval";

/**
 * A verified object, as the caller hands it to the store and gets it back. Ids are 64 lowercase
 * hex digits: the SHA-256 of the canonical bytes, which the store checks when it writes them and
 * again whenever it reads them back. It never decodes `bytes`.
 */
export interface StoredObject {
  /** What the object is. */
  kind: ObjectKind;
  /** The object's id. */
  id: string;
  /** The page it belongs to (the page's genesis event id). */
  pageId: string;
  /**
   * What it hangs off: an event's parent (null only for the genesis, whose id is the page id),
   * the event an approval approves, a checkpoint's anchor event, the checkpoint a
   * checkpoint-approval approves, and for evidence the parent whose children conflict (or null).
   */
  parentId: string | null;
  /** Approvals of both kinds: the signer's 32-byte public key as hex; evidence: the equivocator's. */
  signer: string | null;
  /** The canonical encoding. */
  bytes: Uint8Array;
}

/** The new head of a page and the state it yields, written with the batch that produced it. */
export interface HeadUpdate {
  /** Page id. */
  pageId: string;
  /** Head event id: a stored event of the page, or the anchor of a stored checkpoint. */
  headId: string;
  /** The materialized state as canonical JSON. */
  state: string;
  /** The state hash (64 hex digits). */
  stateHash: string;
}

/**
 * The root of a page's history once older history is gone (or was never fetched): a stored
 * checkpoint and the state at its anchor event, from which a page log restarts.
 */
export interface RootUpdate {
  /** Page id. */
  pageId: string;
  /** A stored checkpoint of the page. */
  checkpointId: string;
  /** The state (canonical JSON) at the checkpoint's anchor event. */
  state: string;
}

/**
 * One atomic write: all of it is stored, or none of it. Objects may come in any order within the
 * batch; invariants are checked against the store plus the whole batch.
 */
export interface Batch {
  /** Peer address the objects came from, for per-peer limits; omit for local objects. */
  source?: string;
  /** Verified objects; duplicates of stored objects are ignored. */
  objects?: StoredObject[];
  /** Root moves (bootstrapping from a checkpoint), applied after the objects. */
  roots?: RootUpdate[];
  /** Head moves, applied after the objects. */
  heads?: HeadUpdate[];
  /** Follow / unfollow pages, applied before the objects (so they count as followed). */
  follow?: { pageId: string; following: boolean }[];
}

/** What a batch did. */
export interface BatchResult {
  /** Objects newly stored. */
  inserted: number;
  /** Objects that were already stored. */
  duplicates: number;
}

/** A page as the store knows it. */
export interface PageRecord {
  /** Page id. */
  pageId: string;
  /** Whether the node follows (keeps current) this page; followed pages are exempt from limits. */
  following: boolean;
  /** Current head event id, null before the first head is set. */
  headId: string | null;
  /** Materialized state (canonical JSON) at the head, null before the first head is set. */
  state: string | null;
  /** Hash of `state`, null before the first head is set. */
  stateHash: string | null;
  /** The checkpoint the page's history starts from, null when it starts at the genesis. */
  rootCheckpointId: string | null;
  /** Number of stored objects of the page (all kinds). */
  objects: number;
  /** Bytes of their canonical encodings. */
  bytes: number;
  /** When the page row last changed (ms since the epoch). */
  updatedAt: number;
}

/** A known peer and its standing. */
export interface PeerRecord {
  /** Address, e.g. "192.0.2.7:5353" or "[2001:db8::1]:5353" (at most 255 characters). */
  address: string;
  /** Standing; the lowest-scored peers are evicted first when the table is full. */
  score: number;
  /** Banned until this time (ms since the epoch); 0 when not banned. */
  bannedUntil: number;
  /** Last time the peer was heard from (ms since the epoch). */
  lastSeen: number;
}

/** Bounds on growth. Followed pages and local objects are exempt from the per-page/peer limits. */
export interface StoreLimits {
  /** Largest canonical encoding accepted for one object. */
  maxObjectBytes: number;
  /** Largest materialized state accepted for one page. */
  maxStateBytes: number;
  /** Most objects in one batch. */
  maxBatchObjects: number;
  /** Most objects stored for one page the node does not follow. */
  maxObjectsPerUnfollowedPage: number;
  /** Most objects one peer may have stored for pages the node does not follow. */
  maxObjectsPerPeer: number;
  /** Most objects stored for all pages the node does not follow together. */
  maxUnfollowedObjects: number;
  /** Most peers remembered; beyond it the lowest-scored, least recently seen peer is dropped. */
  maxPeers: number;
}

/** Default limits (see docs/STORE.md for the reasoning). */
export const DEFAULT_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxObjectBytes: MAX_CHECKPOINT_BYTES,
  maxStateBytes: MAX_STATE_BYTES,
  maxBatchObjects: 100_000,
  maxObjectsPerUnfollowedPage: 10_000,
  maxObjectsPerPeer: 50_000,
  maxUnfollowedObjects: 500_000,
  maxPeers: 10_000,
});

/** How {@linkcode openStore} opens a data directory. */
export interface StoreOptions {
  /**
   * Open for reading only: no lock is taken (a running node may own the directory), nothing is
   * created or migrated, and every write throws. The database must exist at the current version.
   */
  readOnly?: boolean;
  /**
   * Create the directory and database when missing (default true); when false, a missing
   * database is a `not-found` error and nothing is created (for tools such as `store prune`).
   */
  create?: boolean;
  /**
   * The check run on open: `quick` (default; SQLite `quick_check`, O(size) but no index
   * cross-check), `full` (`integrity_check`), or `none`.
   */
  integrityCheck?: "quick" | "full" | "none";
  /**
   * With an integrity check, also check every stored record at open: each object's bytes hash to
   * its id, each page's state to its state hash, each root state to its checkpoint's commitment
   * (default true). `djdns store verify|repair`, which report damage instead of refusing it,
   * turn this off, and so does a running node, which answers first and checks every record in
   * the background (`openRecordScan`; reads still check what they return).
   */
  checkRecords?: boolean;
  /** Overrides of {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<StoreLimits>;
  /**
   * Caps the database at this many SQLite pages (`PRAGMA max_page_count`, per connection). For
   * operators who want a hard size cap, and for tests that need a "disk full" without a disk.
   */
  maxDatabasePages?: number;
}

/** What {@linkcode Store.prune} removed. */
export interface PruneResult {
  /** Page id. */
  pageId: string;
  /** The checkpoint pruned to. */
  checkpointId: string;
  /** Its anchor event: kept, with all its descendants. */
  anchorId: string;
  /** Events removed. */
  events: number;
  /** Approvals removed. */
  approvals: number;
  /** Equivocation evidence removed (about children of removed events). */
  evidence: number;
}

/** Sizes and counts, as `djdns store stats` prints them. */
export interface StoreStats {
  /** Data directory. */
  dir: string;
  /** Database file. */
  path: string;
  /** Schema version of the database. */
  schemaVersion: number;
  /** Bytes of the database file. */
  databaseBytes: number;
  /** Bytes of the write-ahead log. */
  walBytes: number;
  /** SQLite page size. */
  pageSize: number;
  /** SQLite pages free for reuse (space a prune released but the file still holds). */
  freePages: number;
  /** Pages known. */
  pages: number;
  /** Pages followed. */
  followedPages: number;
  /** Stored events. */
  events: number;
  /** Stored approvals. */
  approvals: number;
  /** Stored equivocation evidence. */
  evidence: number;
  /** Stored checkpoints. */
  checkpoints: number;
  /** Stored checkpoint approvals. */
  checkpointApprovals: number;
  /** Bytes of canonical encodings stored, all kinds. */
  objectBytes: number;
  /** Peers known. */
  peers: number;
}

/** A damaged record: stored bytes that are not what was verified. */
export interface Damage {
  /**
   * `object`: a stored object; `state`: a page's head and materialized state; `root`: the state
   * a pruned page restarts from (with its checkpoint).
   */
  what: "object" | "state" | "root";
  /** The page it belongs to. */
  pageId: string;
  /** The object's id (objects only). */
  objectId?: string;
  /** The object's kind (objects only, when the stored kind is known). */
  kind?: ObjectKind;
  /** What is wrong, e.g. "its bytes do not hash to its id". */
  problem: string;
}

/** What {@linkcode Store.verify} checked and found. */
export interface VerifyResult {
  /** Objects checked. */
  objects: number;
  /** Pages checked (state, head, root). */
  pages: number;
  /** Problems SQLite's own check reported (structure, not records); [] when sound. */
  structure: string[];
  /** Damaged records found (each was passed to the callback). */
  damaged: number;
}

/** What {@linkcode Store.repair} dropped. */
export interface RepairResult {
  /** Damaged objects removed. */
  droppedObjects: Damage[];
  /** Pages whose head and materialized state were cleared (to be re-imported or fetched). */
  clearedPages: string[];
  /** Pages whose root (checkpoint state) was cleared, a subset of `clearedPages`. */
  clearedRoots: string[];
}
