/**
 * One page as replication sees it: the verifying page log, the set of ids of the objects this
 * node holds verified (what summaries and reconciliation are computed over), and the intake of
 * objects from strangers, classifying each as added, duplicate, held or invalid.
 *
 * Pure logic: no I/O, no clock. The caller persists what {@linkcode Replica.ingest} says to
 * persist (only verified objects whose dependencies are held) and publishes what was added.
 *
 * @module
 */
import {
  type Approval,
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  type CheckpointLink,
  objectId,
  type PageEvent,
  type PageLog,
  type PageState,
  type SignedObject,
  SignedPageError,
  verifyCheckpointApproval,
} from "../page/mod.ts";
import { createIdSet, type IdSet } from "./reconcile.ts";

/**
 * What happened to one received object: `added` (verified and new), `duplicate` (held
 * already), `held` (verified as far as possible, waiting for what it depends on), `invalid`
 * (refused: the sender is at fault), `dropped` (not taken for a reason that is not the sender's
 * fault: a full pool, a page not followed).
 */
export type Outcome = "added" | "duplicate" | "held" | "invalid" | "dropped";

/** The result for one object, in the order the objects were given. */
export interface ObjectResult {
  /** Object id ("" when the value was not an object at all). */
  readonly id: string;
  /** What happened. */
  readonly outcome: Outcome;
  /** Error code for `invalid` and `dropped` (docs/PROTOCOL.md §11 codes, or `unknown-page`). */
  readonly code?: string;
  /** Human-readable detail. */
  readonly reason?: string;
}

/** A compact description of a replica, exchanged on connect and periodically. */
export interface PageSummary {
  /** Page id. */
  readonly page: string;
  /** Head event id. */
  readonly head: string;
  /** Height of the head (events from the genesis). */
  readonly height: number;
  /** Id of the last verified checkpoint, or null. */
  readonly checkpoint: string | null;
  /** Number of object ids held. */
  readonly n: number;
  /** Fingerprint of the whole id set (see reconcile.ts). */
  readonly fp: string;
}

/** What one {@linkcode Replica.ingest} call did. */
export interface Ingested {
  /** One result per object given, in order. */
  readonly results: ObjectResult[];
  /** Verified objects to store now (their dependencies are held), in dependency order. */
  readonly persist: SignedObject[];
  /** Whether the head moved. */
  readonly headChanged: boolean;
}

/** A replicated page. */
export interface Replica {
  /** Page id. */
  readonly pageId: string;
  /** The verifying log. */
  readonly log: PageLog;
  /** Ids of the objects held verified (persisted). */
  readonly ids: IdSet;
  /** The page's summary. */
  summary(): PageSummary;
  /** A held object by id. */
  get(id: string): SignedObject | undefined;
  /**
   * Whether an object was received and is held waiting for what it depends on (an orphan event,
   * an approval of an unknown event) or is covered by the root checkpoint: not asked for again.
   */
  waiting(id: string): boolean;
  /**
   * The newest verified checkpoint chain with the state at its last checkpoint, for a node that
   * starts this page from it; undefined without checkpoints.
   */
  snapshot():
    | { genesis: SignedObject; checkpoints: CheckpointLink[]; state: PageState }
    | undefined;
  /**
   * Held objects that a node started from checkpoint `checkpointId` needs: events above its
   * height, their approvals, later evidence and checkpoints; in an order a log takes.
   */
  after(checkpointId: string): SignedObject[];
  /** Held objects among `ids` (default: all), in an order a fresh log takes without orphans. */
  ordered(ids?: Iterable<string>): SignedObject[];
  /** Verifies and takes received objects (of this page). */
  ingest(objects: readonly SignedObject[]): Ingested;
}

/** Most checkpoints waiting for their approvals, and approvals per checkpoint. */
const MAX_PENDING_CHECKPOINTS = 16;
const MAX_PENDING_CP_APPROVALS = 1024;
/** Most events held whose parent is not linked yet. */
const MAX_HELD_EVENTS = 4096;

const RANK: Record<SignedObject["type"], number> = {
  genesis: 0,
  event: 1,
  approval: 2,
  evidence: 3,
  checkpoint: 4,
  "checkpoint-approval": 5,
  "checkpoint-evidence": 6,
};

/** The page an object belongs to (evidence: its approvals' page; genesis: its own id). */
export function pageOf(obj: SignedObject): string {
  if (obj.type === "genesis") return objectId(obj);
  if (obj.type === "evidence" || obj.type === "checkpoint-evidence") return obj.first.page;
  return obj.page;
}

/**
 * A replica over `log`, holding `stored` (verified objects already persisted: at least the
 * genesis, and whatever a store holds for the page).
 */
export function createReplica(log: PageLog, stored: Iterable<SignedObject>): Replica {
  const objects = new Map<string, SignedObject>();
  const ids = createIdSet();
  const put = (o: SignedObject) => {
    const id = objectId(o);
    objects.set(id, o);
    ids.add(id);
  };
  put(log.genesis);
  for (const o of stored) put(o);
  const heldEvents = new Map<string, PageEvent>();
  /** The log's root: the genesis, or the event of the checkpoint it was opened from. */
  const root = log.headChain()[0];
  /** Ids received that the root checkpoint covers (its event, votes on it): not asked again. */
  const covered = new Set<string>();
  const waiting = new Map<string, string[]>(); // parent id → held children
  /** Events that were held and are now in the log: stored with the batch that linked them. */
  const linked: PageEvent[] = [];

  /** Feeds held descendants of a newly linked event to the log. */
  function linkWaiting(id: string): void {
    const stack = [id];
    while (stack.length > 0) {
      const parentId = stack.pop()!;
      const kids = waiting.get(parentId);
      if (!kids) continue;
      waiting.delete(parentId);
      for (const k of kids) {
        const ev = heldEvents.get(k)!;
        heldEvents.delete(k);
        try {
          log.addEvent(ev);
          linked.push(ev);
          stack.push(k);
        } catch (e) {
          if (!(e instanceof SignedPageError)) throw e;
        }
      }
    }
  }
  const heldApprovals = new Map<string, Approval>();
  const pendingCps = new Map<
    string,
    { cp?: Checkpoint; approvals: Map<string, CheckpointApproval> }
  >();

  function height(id: string): number | undefined {
    return log.height(id);
  }

  function approvalKept(a: Approval): boolean {
    return log.approvals(a.event).some((b) => b.key === a.key && b.sig === a.sig);
  }

  function pendingOf(cpId: string) {
    let p = pendingCps.get(cpId);
    if (p === undefined) {
      if (pendingCps.size >= MAX_PENDING_CHECKPOINTS) return undefined;
      p = { approvals: new Map() };
      pendingCps.set(cpId, p);
    }
    return p;
  }

  /** Tries to complete a pending checkpoint; returns the objects to persist when it verified. */
  function tryCheckpoint(cpId: string): SignedObject[] | undefined {
    const p = pendingCps.get(cpId);
    if (p?.cp === undefined) return undefined;
    log.head(); // states of new events are computed lazily
    try {
      log.addCheckpoint({ checkpoint: p.cp, approvals: [...p.approvals.values()] });
    } catch (e) {
      if (!(e instanceof SignedPageError)) throw e;
      return undefined; // not enough approvals yet, or its event not here yet: keep waiting
    }
    pendingCps.delete(cpId);
    return [p.cp, ...p.approvals.values()];
  }

  function take(o: SignedObject): ObjectResult {
    const id = objectId(o);
    if (objects.has(id)) return { id, outcome: "duplicate" };
    switch (o.type) {
      case "genesis":
        return { id, outcome: "invalid", code: "wrong-page", reason: "another page's genesis" };
      case "event": {
        if (heldEvents.has(id)) return { id, outcome: "held" };
        // The event a checkpoint-started log begins at: covered by the checkpoint.
        if (id === root) {
          covered.add(id);
          return { id, outcome: "duplicate" };
        }
        // An event is handed to the log only once its parent is linked there; orphans wait in
        // this pool (bounded) and are fed, parents first, when their parent arrives. (It began
        // as a workaround: an earlier log marked a child of an orphan as linked.)
        if (height(o.parent) === undefined) {
          if (heldEvents.size >= MAX_HELD_EVENTS) {
            return { id, outcome: "dropped", code: "limit", reason: "too many orphan events" };
          }
          checkObject(o, "event");
          if (o.page !== log.pageId) throw new SignedPageError("wrong-page", "event");
          heldEvents.set(id, o);
          const kids = waiting.get(o.parent) ?? [];
          kids.push(id);
          waiting.set(o.parent, kids);
          return { id, outcome: "held" };
        }
        const r: string = log.addEvent(o);
        if (r === "duplicate") return { id, outcome: "duplicate" };
        linkWaiting(id);
        return { id, outcome: "added" };
      }
      case "approval": {
        // Votes on the root are not counted: the checkpoint stands for them.
        if (o.event === root) {
          if (covered.size < MAX_HELD_EVENTS * 16) covered.add(id);
          return { id, outcome: "duplicate" };
        }
        const r: string = log.addApproval(o);
        if (r === "duplicate") return { id, outcome: heldApprovals.has(id) ? "held" : "duplicate" };
        if (height(o.event) === undefined) {
          heldApprovals.set(id, o);
          return { id, outcome: "held" };
        }
        return { id, outcome: "added" };
      }
      case "evidence":
        return { id, outcome: log.addEvidence(o) === "added" ? "added" : "duplicate" };
      case "checkpoint-evidence":
        return { id, outcome: log.addCheckpointEvidence(o) === "added" ? "added" : "duplicate" };
      case "checkpoint": {
        const p = pendingOf(id);
        if (p === undefined) return { id, outcome: "dropped", code: "limit" };
        p.cp = o;
        return { id, outcome: "held" };
      }
      case "checkpoint-approval": {
        if (!verifyCheckpointApproval(o)) {
          return { id, outcome: "invalid", code: "bad-signature", reason: "checkpoint approval" };
        }
        const p = pendingOf(o.checkpoint);
        if (p === undefined || p.approvals.size >= MAX_PENDING_CP_APPROVALS) {
          return { id, outcome: "dropped", code: "limit" };
        }
        p.approvals.set(o.key, o);
        return { id, outcome: "held" };
      }
    }
  }

  return {
    pageId: log.pageId,
    log,
    ids,
    summary() {
      const head = log.head();
      const cps = log.checkpoints();
      const { fp, n } = ids.fingerprint("", "~");
      return {
        page: log.pageId,
        head,
        height: log.height(head) ?? 0,
        checkpoint: cps.length > 0 ? objectId(cps[cps.length - 1].checkpoint) : null,
        n,
        fp,
      };
    },
    get: (id) => objects.get(id),
    snapshot() {
      const chain = log.checkpoints();
      if (chain.length === 0) return undefined;
      const state = log.stateAt(chain[chain.length - 1].checkpoint.event);
      return state === undefined ? undefined : { genesis: log.genesis, checkpoints: chain, state };
    },
    after(checkpointId) {
      const link = log.checkpoints().find((l) => objectId(l.checkpoint) === checkpointId);
      if (!link) return [];
      const h = link.checkpoint.height;
      const later = (eventId: string) => (log.height(eventId) ?? -1) > h;
      return this.ordered().filter((o) => {
        switch (o.type) {
          case "genesis":
            return true;
          case "event":
            return later(objectId(o));
          case "approval":
            return later(o.event);
          case "evidence":
            return (log.height(o.first.parent) ?? -1) >= h;
          default:
            return true; // checkpoints, their approvals and evidence
        }
      });
    },
    waiting: (id) => heldEvents.has(id) || heldApprovals.has(id) || covered.has(id),
    ordered(which) {
      const list: SignedObject[] = [];
      for (const id of which ?? objects.keys()) {
        const o = objects.get(id);
        if (o) list.push(o);
      }
      const depth = (o: SignedObject) =>
        o.type === "event" ? log.height(objectId(o)) ?? Infinity : 0;
      return list.sort((a, b) => RANK[a.type] - RANK[b.type] || depth(a) - depth(b));
    },
    ingest(given) {
      const before = log.head();
      const results: ObjectResult[] = new Array(given.length);
      const persist: SignedObject[] = [];
      const added = new Set<string>();
      const cpTouched = new Set<string>();
      // Events first, then the rest: approvals in the same batch never wait for their event.
      const order = given.map((o, i) => ({ o, i }));
      order.sort((a, b) => RANK[a.o.type] - RANK[b.o.type]);
      for (const { o, i } of order) {
        let r: ObjectResult;
        try {
          const obj = checkObject(o);
          if (pageOf(obj) !== log.pageId) {
            r = { id: objectId(obj), outcome: "invalid", code: "wrong-page" };
          } else {
            r = take(obj);
            if (r.outcome === "added") {
              added.add(r.id);
              persist.push(obj);
            }
            if (obj.type === "checkpoint") cpTouched.add(r.id);
            if (obj.type === "checkpoint-approval") cpTouched.add(obj.checkpoint);
          }
        } catch (e) {
          if (!(e instanceof SignedPageError)) throw e;
          let id = "";
          try {
            id = objectId(o);
          } catch { /* not an object */ }
          r = e.code === "limit"
            ? { id, outcome: "dropped", code: "limit", reason: e.message }
            : { id, outcome: "invalid", code: e.code, reason: e.message };
        }
        results[i] = r;
      }
      // Held objects whose dependencies arrived are verified now: store them too.
      persist.push(...linked.splice(0));
      for (const [id, a] of heldApprovals) {
        if (height(a.event) !== undefined) {
          heldApprovals.delete(id);
          if (approvalKept(a)) persist.push(a);
        }
      }
      // An approval added but then not kept (its key is not a participant): not stored.
      for (let i = persist.length - 1; i >= 0; i--) {
        const o = persist[i];
        if (o.type === "approval" && !approvalKept(o)) persist.splice(i, 1);
      }
      for (const cpId of cpTouched) {
        const done = tryCheckpoint(cpId);
        if (done) {
          persist.push(...done);
          results.forEach((r, i) => {
            if (r.outcome === "held" && done.some((d) => objectId(d) === r.id)) {
              results[i] = { id: r.id, outcome: "added" };
            }
          });
        }
      }
      // Evidence the log derived from approvals is an object like any other.
      for (const ev of log.evidence()) {
        if (!objects.has(objectId(ev))) persist.push(ev);
      }
      const seen = new Set<string>();
      const unique = persist.filter((o) => {
        const id = objectId(o);
        if (seen.has(id) || objects.has(id)) return false;
        seen.add(id);
        return true;
      });
      for (const o of unique) put(o);
      return {
        results,
        persist: unique.sort((a, b) => RANK[a.type] - RANK[b.type]),
        headChanged: log.head() !== before,
      };
    },
  };
}
