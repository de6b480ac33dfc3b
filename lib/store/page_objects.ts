/**
 * The bridge between signed-page objects (lib/page) and store rows: mapping a verified object to
 * its row, persisting a whole page log, and rebuilding a page log from the store.
 *
 * @module
 */
import {
  canonicalize,
  type Checkpoint,
  type CheckpointApproval,
  type CheckpointLink,
  createPageLog,
  decodeObject,
  encodeObject,
  objectId,
  openFromCheckpoint,
  type PageLog,
  type SignedObject,
} from "../page/mod.ts";
import { StoreError } from "./errors.ts";
import type { Store } from "./store.ts";
import type { Batch, PruneResult, StoredObject } from "./types.ts";

/** Objects read back from the store were verified before: not bounded by the log's pools. */
const LOCAL = { source: "store", trusted: true } as const;

/**
 * The row of a verified signed-page object: the genesis and events are `event` rows (parent =
 * parent event), approvals hang off the approved event, evidence off the parent whose children
 * conflict, checkpoints off their event, checkpoint approvals off their checkpoint.
 */
export function toStoredObject(obj: SignedObject): StoredObject {
  const bytes = encodeObject(obj);
  const id = objectId(obj);
  switch (obj.type) {
    case "genesis":
      return { kind: "event", id, pageId: id, parentId: null, signer: null, bytes };
    case "event":
      return { kind: "event", id, pageId: obj.page, parentId: obj.parent, signer: null, bytes };
    case "approval":
      return {
        kind: "approval",
        id,
        pageId: obj.page,
        parentId: obj.event,
        signer: obj.key,
        bytes,
      };
    case "evidence":
      return {
        kind: "evidence",
        id,
        pageId: obj.first.page,
        parentId: obj.first.parent,
        signer: obj.first.key,
        bytes,
      };
    case "checkpoint-evidence":
      return {
        kind: "evidence",
        id,
        pageId: obj.first.page,
        parentId: obj.first.checkpoint,
        signer: obj.first.key,
        bytes,
      };
    case "checkpoint":
      return { kind: "checkpoint", id, pageId: obj.page, parentId: obj.event, signer: null, bytes };
    case "checkpoint-approval":
      return {
        kind: "checkpoint-approval",
        id,
        pageId: obj.page,
        parentId: obj.checkpoint,
        signer: obj.key,
        bytes,
      };
  }
}

/**
 * Decodes a stored row with the page module's strict decoder (which re-validates it). A row the
 * decoder refuses is damage in the database (the store read it back as the bytes stored under
 * its id, yet it is no signed object): the error names the object and the page, and what to do.
 */
export function fromStoredObject(row: StoredObject): SignedObject {
  try {
    return decodeObject(row.bytes);
  } catch (e) {
    throw new StoreError(
      "damaged",
      `the store holds a damaged ${row.kind} ${row.id} of page ${row.pageId} (${
        e instanceof Error ? e.message : e
      }); run 'djdns store verify' to list the damage and 'djdns store repair' to drop it, ` +
        "then re-import the page",
      { cause: e },
    );
  }
}

/**
 * For {@linkcode Store.verify} and `repair`: why a stored row is not the signed object it claims
 * to be (the page module's strict decoder refuses it, or its kind, page, parent or signer columns
 * differ from what its bytes say), or null when it is.
 */
export function checkStoredObject(row: StoredObject): string | null {
  let obj: SignedObject;
  try {
    obj = decodeObject(row.bytes);
  } catch (e) {
    return `its bytes are not a valid signed object (${e instanceof Error ? e.message : e})`;
  }
  const want = toStoredObject(obj);
  for (const k of ["kind", "id", "pageId", "parentId", "signer"] as const) {
    if (want[k] !== row[k]) return `its ${k} column says ${row[k]}, its bytes say ${want[k]}`;
  }
  return null;
}

/**
 * One batch holding everything `log` holds (genesis, events, approvals, evidence, checkpoints
 * with their approvals) and its head, state and state hash. A log opened from a checkpoint must
 * also say which (`root`: its checkpoint id and the state it was opened with, canonical JSON).
 */
export function pageLogBatch(
  log: PageLog,
  root?: { checkpointId: string; state: string },
): Batch {
  const objects: StoredObject[] = [toStoredObject(log.genesis)];
  for (const e of log.events()) {
    objects.push(toStoredObject(e));
    for (const a of log.approvals(objectId(e))) objects.push(toStoredObject(a));
  }
  for (const ev of log.evidence()) objects.push(toStoredObject(ev));
  for (const link of log.checkpoints()) {
    objects.push(toStoredObject(link.checkpoint));
    for (const a of link.approvals) objects.push(toStoredObject(a));
  }
  return {
    objects,
    roots: root ? [{ pageId: log.pageId, ...root }] : [],
    heads: [{
      pageId: log.pageId,
      headId: log.head(),
      state: canonicalize(log.state()),
      stateHash: log.stateHash(),
    }],
  };
}

/** The page's checkpoints in chain order (following `prev` from the first), with approvals. */
function checkpointChain(store: Store, pageId: string): CheckpointLink[] {
  const byPrev = new Map<string | null, Checkpoint>();
  for (const row of store.objectsOf(pageId, "checkpoint")) {
    const cp = fromStoredObject(row) as Checkpoint;
    if (!byPrev.has(cp.prev)) byPrev.set(cp.prev, cp);
  }
  const approvals = new Map<string, CheckpointApproval[]>();
  for (const row of store.objectsOf(pageId, "checkpoint-approval")) {
    const list = approvals.get(row.parentId!) ?? [];
    list.push(fromStoredObject(row) as CheckpointApproval);
    approvals.set(row.parentId!, list);
  }
  const chain: CheckpointLink[] = [];
  for (let cp = byPrev.get(null); cp !== undefined; cp = byPrev.get(objectId(cp))) {
    chain.push({ checkpoint: cp, approvals: approvals.get(objectId(cp)) ?? [] });
  }
  return chain;
}

/**
 * Rebuilds the page log of `pageId` from the store: from the genesis, or from the page's root
 * checkpoint and the state stored with it, then every stored event, approval, evidence and later
 * checkpoint. The page module verifies everything again; its errors propagate.
 */
export function loadPageLog(store: Store, pageId: string): PageLog {
  const g = store.getObject(pageId, "event");
  if (g === undefined) {
    throw new StoreError("not-found", `page ${pageId} has no stored genesis`);
  }
  const genesis = fromStoredObject(g);
  if (genesis.type !== "genesis") {
    throw new StoreError("invariant", `object ${pageId} is not a genesis`);
  }
  const chain = checkpointChain(store, pageId);
  const root = store.rootOf(pageId);
  let log: PageLog;
  let later = chain;
  if (root) {
    const at = chain.findIndex((l) => objectId(l.checkpoint) === root.checkpointId);
    if (at < 0) {
      throw new StoreError("invariant", `root checkpoint of page ${pageId} is not in its chain`);
    }
    log = openFromCheckpoint(genesis, chain.slice(0, at + 1), JSON.parse(root.state));
    later = chain.slice(at + 1);
  } else {
    log = createPageLog(genesis);
  }
  for (const row of store.eventsOf(pageId)) {
    if (row.id === pageId) continue;
    const e = fromStoredObject(row);
    if (e.type === "event") log.addEvent(e, LOCAL);
  }
  const rootEvent = root
    ? chain.find((l) => objectId(l.checkpoint) === root.checkpointId)!
      .checkpoint.event
    : undefined;
  for (const row of store.objectsOf(pageId, "approval")) {
    // Votes on the root count for nothing here (the checkpoint stands for them).
    if (row.parentId === rootEvent) continue;
    const a = fromStoredObject(row);
    if (a.type === "approval") log.addApproval(a, LOCAL);
  }
  for (const row of store.objectsOf(pageId, "evidence")) {
    const ev = fromStoredObject(row);
    if (ev.type === "evidence") log.addEvidence(ev, LOCAL);
    else if (ev.type === "checkpoint-evidence") log.addCheckpointEvidence(ev, LOCAL);
  }
  for (const link of later) log.addCheckpoint(link);
  return log;
}

/**
 * Prunes a page to its latest checkpoint (or `checkpointId`), computing the state at the
 * checkpoint's event by rebuilding the page log. Throws `not-found` when the page has no
 * checkpoint.
 */
export function prunePage(store: Store, pageId: string, checkpointId?: string): PruneResult {
  const log = loadPageLog(store, pageId);
  const links = log.checkpoints();
  const link = checkpointId === undefined
    ? links.at(-1)
    : links.find((l) => objectId(l.checkpoint) === checkpointId);
  if (link === undefined) {
    throw new StoreError(
      "not-found",
      checkpointId === undefined
        ? `page ${pageId} has no checkpoint; nothing to prune`
        : `checkpoint ${checkpointId} is not in the chain of page ${pageId}`,
    );
  }
  const state = log.stateAt(link.checkpoint.event);
  if (state === undefined) {
    throw new StoreError("invariant", `no state at checkpoint event ${link.checkpoint.event}`);
  }
  return store.prune(pageId, {
    checkpointId: objectId(link.checkpoint),
    anchorState: canonicalize(state),
  });
}
