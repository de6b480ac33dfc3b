/**
 * The incremental page engine: holds the events, approvals, evidence and checkpoints of one page
 * received so far, in any order and batches, with duplicates, and keeps the accepted head and
 * its state current. The result is a pure function of the set of objects held (see
 * docs/PROTOCOL.md §6): every node holding the same set computes the same head and state.
 *
 * Work is incremental: an event is applied once, when its parent's state is known and a
 * participant of it approved the event (an event nobody entitled to vote approved costs no
 * state); an approval adds only the delegation paths through its signer to its event's count; a
 * new acceptance moves the head from where it changed. Nothing replays history.
 *
 * Every `add…` call classifies what it is given (see {@linkcode AddResult}): `"added"` (valid and
 * new: forward it), `"duplicate"` or `"held"` (ignore it, without penalty), or a thrown
 * `SignedPageError` (invalid: reject it). What cannot be judged yet is held in bounded pools,
 * charged to its source (`{ source }`), oldest first evicted from the source holding most, so a
 * flood from one source never keeps another's objects out (docs/PROTOCOL.md §11).
 *
 * @module
 */
import { type Applied, applyEvent } from "./apply.ts";
import {
  checkCheckpointLink,
  checkCheckpointState,
  type CheckedCheckpoint,
  type CheckpointLink,
  checkpointPower,
  type CheckpointTip,
  genesisTip,
  tipOf,
  verifyCheckpointLink,
} from "./checkpoint.ts";
import { checkpointEquivocators, checkpointEvidenceOf, createClaimTable } from "./equivocation.ts";
import { SignedPageError, type SignedPageErrorCode } from "./errors.ts";
import { voteTable } from "./governance.ts";
import type { Track } from "./handlers.ts";
import {
  type Approval,
  checkApproval,
  checkEvent,
  checkObject,
  type CheckpointApproval,
  type CheckpointEvidence,
  encodedSize,
  type Evidence,
  type Genesis,
  objectId,
  type PageEvent,
  verifyApproval,
  verifyCheckpointApproval,
} from "./objects.ts";
import { MAX_EVENT_BYTES } from "./limits.ts";
import { createPool, NO_SOURCE } from "./pool.ts";
import { addApprover, countPower, reaches } from "./power.ts";
import { type PageState, stateHash } from "./state.ts";

/** Where an event stands. */
export interface EventStatus {
  /** Event id. */
  readonly id: string;
  /**
   * `accepted`: on the head chain (the genesis or checkpoint root too); `lost-fork`: accepted but
   * on a branch the fork choice did not take — propose it again on the head; `pending`: may
   * still be accepted; `rejected`: can never be accepted here; `unknown`: not held.
   */
  readonly status: "accepted" | "lost-fork" | "pending" | "rejected" | "unknown";
  /**
   * Why pending or rejected: `missing-parent`, `parent-pending`, `unapproved` (no participant
   * of the parent state approved it yet: it is not applied before one does),
   * `insufficient-power`, `parent-rejected`, or the error code of the failed application.
   */
  readonly code?:
    | "missing-parent"
    | "parent-pending"
    | "unapproved"
    | "insufficient-power"
    | "parent-rejected"
    | SignedPageErrorCode;
  /** Human-readable detail of `code`. */
  readonly reason?: string;
  /** The track, once the event applied. */
  readonly track?: Track;
  /** Approving power after delegation, without equivocators, in micro-weight (weight × 10^6). */
  readonly power?: number;
  /** Power the track's threshold needs, in micro-weight. */
  readonly needed?: number;
  /** True when a verified checkpoint covers the event. */
  readonly finalized?: boolean;
}

/**
 * What an `add…` call did with a valid object — the three-way classification a gossip validator
 * needs (docs/PROTOCOL.md §11):
 *
 * - `"added"`: valid and new here; it may change the outcome. Accept it and forward it.
 * - `"duplicate"`: valid, and this log holds it (or what it says) already. Ignore it: do not
 *   forward it, do not penalize the sender.
 * - `"held"`: valid as far as can be told, but it cannot be judged until something else arrives
 *   (an event whose parent is not known, an approval of an event not known, a claim under a
 *   parent whose state is not known): kept in a bounded pool (oldest first evicted per source).
 *   Ignore it: do not forward it, do not penalize the sender.
 *
 * Anything invalid throws {@linkcode SignedPageError} (its `code` says why): reject it and
 * penalize the sender — except `"limit"`, which says this node's pools are full (do not
 * penalize) and `"not-ready"` (a checkpoint whose event is not known yet: retry later).
 */
export type AddResult = "added" | "duplicate" | "held";

/** Options of the `add…` calls. */
export interface AddOptions {
  /**
   * Who sent the object (a peer id, a file name): held objects are bounded per source and the
   * oldest of the source holding most is evicted first, so that a flood from one source cannot
   * crowd out the objects of others. Objects without a source share one quota.
   */
  readonly source?: string;
  /**
   * The node's own store or its operator vouches for the objects (they are verified all the
   * same, but not bounded by the pools): a page reloaded from disk may hold more events than a
   * pool before their approvals are read.
   */
  readonly trusted?: boolean;
}

/** An incremental, order-independent verifier of one page. */
export interface PageLog {
  /** The page id (genesis id). */
  readonly pageId: string;
  /** The genesis. */
  readonly genesis: Genesis;
  /**
   * Adds an event (its approvals may come before or after): `"added"` when its parent is held,
   * `"held"` when not (orphan), `"duplicate"` when held already. Throws `SignedPageError` for a
   * malformed event or one of another page; an event that does not apply is kept and reported
   * by {@linkcode PageLog.status} as rejected.
   */
  addEvent(event: PageEvent, options?: AddOptions): AddResult;
  /**
   * Adds an approval: `"added"` when it is counted (or is a new signed claim), `"held"` while its
   * event (or its event's parent state) is not known, `"duplicate"` when the same claim is held.
   * Throws `SignedPageError`: "bad-signature", "not-participant" (of the approved event's parent
   * state, when known), "event-mismatch" (signed over another parent than the event's; the
   * claim is still remembered for equivocation, §8), "wrong-page", "malformed", "limit".
   */
  addApproval(approval: Approval, options?: AddOptions): AddResult;
  /**
   * Adds equivocation evidence (also derived automatically from approvals): `"added"` when it
   * is new here, `"held"` while its parent's state is not known. Throws `SignedPageError` for a
   * bad signature or a signer that is not a participant of the parent state.
   */
  addEvidence(evidence: Evidence, options?: AddOptions): AddResult;
  /**
   * Adds a checkpoint (with approvals; more approvals of a held checkpoint are merged) after
   * verifying it against the tip it extends and the state computed here at its event. The chain
   * is then chosen by the rule of PROTOCOL §9 (conflicting checkpoints: equivocators excluded,
   * most power, lowest id), and the head chain always passes through its events. Approvals that
   * do not count are ignored. Throws `SignedPageError`: "bad-checkpoint" (not enough power, a
   * state that differs), "not-ready" (its previous checkpoint or event not known yet: retry).
   */
  addCheckpoint(link: CheckpointLink): AddResult;
  /**
   * Adds checkpoint equivocation evidence: two approvals by one key of two checkpoints. With
   * both checkpoints held and extending one `prev`, the key counts for neither (PROTOCOL §9);
   * approvals of checkpoints not held are kept (bounded) until they arrive.
   */
  addCheckpointEvidence(evidence: CheckpointEvidence, options?: AddOptions): AddResult;
  /** Id of the head: the last event of the chain chosen by the fork-choice rule. */
  head(): string;
  /** State at the head. */
  state(): PageState;
  /** {@linkcode stateHash} of the state at the head. */
  stateHash(): string;
  /** Event ids from the root (genesis or checkpoint event) to the head. */
  headChain(): string[];
  /** State after an event, if it applied (accepted or not); undefined otherwise. */
  stateAt(eventId: string): PageState | undefined;
  /** Status of an event. */
  status(eventId: string): EventStatus;
  /** Number of events from the genesis to a linked event (genesis: 0); undefined otherwise. */
  height(eventId: string): number | undefined;
  /** All held events, parents before children (orphans last), for persistence. */
  events(): PageEvent[];
  /** Approvals held for an event (at most one per key). */
  approvals(eventId: string): Approval[];
  /** Evidence of every equivocation detected by a participant of the parent state. */
  evidence(): Evidence[];
  /** Keys that equivocated at a parent event (their power counts for none of its children). */
  equivocators(parentId: string): string[];
  /** The checkpoint chain verified by this log (with every approval held that counts). */
  checkpoints(): CheckpointLink[];
  /** Every checkpoint held after the root chain, chosen or not (for persistence and gossip). */
  checkpointCandidates(): CheckpointLink[];
  /** Evidence of every checkpoint equivocation among the checkpoints held. */
  checkpointEvidence(): CheckpointEvidence[];
  /** How many objects the log holds undecided, per pool (bounded, see PROTOCOL §11). */
  held(): { events: number; approvals: number; checkpointApprovals: number };
}

/**
 * Bytes of events held that are not applied (orphans, and events no participant approved yet):
 * canonical bytes counted in {@linkcode HELD_EVENT_UNIT}-byte units, at least one per event.
 */
export const MAX_HELD_EVENT_BYTES = 4 * 1024 * 1024;
/** The unit events are charged in: an event of up to this many bytes costs one. */
export const HELD_EVENT_UNIT = 512;
/** Units of the largest event. */
const MAX_EVENT_UNITS = Math.ceil(MAX_EVENT_BYTES / HELD_EVENT_UNIT);
/** Most events held that are not applied (all of the smallest size). */
export const MAX_HELD_EVENTS = MAX_HELD_EVENT_BYTES / HELD_EVENT_UNIT;
/**
 * Most approvals held undecided: of events not known, or under a parent whose state is not known
 * (the signer may not be a participant).
 */
export const MAX_HELD_APPROVALS = 65_536;
/** Most checkpoint approvals held for checkpoints not known. */
export const MAX_HELD_CHECKPOINT_APPROVALS = 4096;
/** @deprecated Use {@linkcode MAX_HELD_EVENTS}. */
export const MAX_ORPHAN_EVENTS = MAX_HELD_EVENTS;
/** @deprecated Use {@linkcode MAX_HELD_APPROVALS}. */
export const MAX_ORPHAN_APPROVALS = MAX_HELD_APPROVALS;
/** Approval keys a log remembers as validated (see KnownIds). */
const KNOWN_KEYS = 4;

interface Node {
  readonly id: string;
  readonly event: PageEvent | null;
  readonly parentId: string | null;
  parent: Node | null;
  readonly children: Node[];
  depth: number;
  linked: boolean;
  state?: PageState;
  track?: Track;
  error?: SignedPageError;
  /**
   * Approvals naming this event and its parent, by key. Once the parent's state is known, only
   * participants' (checked on arrival, or when the state becomes known: `filtered`).
   */
  readonly approvals: Map<string, Approval>;
  /** The parent's state was known and `approvals` holds only participants. */
  filtered: boolean;
  /** Approvers counted in `power`, and the version of the parent's equivocators it used. */
  counted: Set<string> | undefined;
  countedVersion: number;
  /** Approvers stored since the last count (added to it incrementally). */
  fresh: string[];
  power: number;
  accepted: boolean;
  finalized: boolean;
  onChain: boolean;
  queued: boolean;
  /** In the dirty set (each approval marks its event: a flag test is cheaper than a Set add). */
  dirty: boolean;
}

function newNode(id: string, event: PageEvent | null, parentId: string | null): Node {
  // Every field from the start, the optional ones too: one object shape for all nodes, and no
  // out-of-object property store allocated when an event is applied.
  return {
    id,
    event,
    parentId,
    parent: null,
    children: [],
    depth: 0,
    linked: false,
    state: undefined,
    track: undefined,
    error: undefined,
    approvals: new Map(),
    filtered: false,
    counted: undefined,
    countedVersion: -1,
    fresh: [],
    power: 0,
    accepted: false,
    finalized: false,
    onChain: false,
    queued: false,
    dirty: false,
  };
}

const NO_KEYS: ReadonlySet<string> = new Set();

function applied(n: Node): boolean {
  return n.state !== undefined || n.error !== undefined;
}

/** Who an object is charged to in the pools; null: trusted, not pooled. */
type Source = string | null;

function sourceOf(options: AddOptions | undefined): Source {
  return options?.trusted ? null : options?.source ?? NO_SOURCE;
}

/** The pool id of an approval: one entry per (event, key, parent). */
function claimId(a: Approval): string {
  return a.event + a.key + a.parent;
}

/** Root of a log: the genesis, or a verified checkpoint's event with its state. */
interface Root {
  readonly id: string;
  readonly depth: number;
  readonly state: PageState;
  readonly tip: CheckpointTip;
  readonly chain: CheckpointLink[];
}

/** A checkpoint held by the log (verified alone), with every approval of it that counts. */
interface Candidate extends CheckedCheckpoint {
  /** The tip it extends. */
  readonly prevTip: CheckpointTip;
}

function createLog(genesis: Genesis, root: Root): PageLog {
  const pageId = objectId(genesis);
  const nodes = new Map<string, Node>();
  const waiting = new Map<string, Node[]>(); // parent id → orphan children
  // Approvals of events not known, per event: one per (key, parent).
  const heldApprovals = new Map<string, Approval[]>();
  const claims = createClaimTable((parent) => nodes.get(parent)?.state !== undefined);
  const dirty = new Set<Node>();
  const forkDirty = new Set<Node>();
  const headChain: Node[] = [];
  // Ids validated here (see KnownIds): the page's, the last event's and its parent's, and the
  // last few approval keys.
  const known = { page: pageId, event: pageId, parent: pageId, keys: [] as string[] };

  // Held events: every event enters when added and leaves when applied (or finalized).
  const eventPool = createPool<Node>(MAX_HELD_EVENTS, (_, n) => evictEvent(n));
  // Held approvals: of unknown events, or claims under parents whose state is not known.
  const approvalPool = createPool<Approval>(MAX_HELD_APPROVALS, (_, a) => evictApproval(a));

  // Checkpoints: the chain this node started from (fixed), the candidates held after it, and
  // approvals held for checkpoints not known.
  const rootChain = [...root.chain];
  const candidates = new Map<string, Candidate>();
  const byPrev = new Map<string, Candidate[]>(); // prev id ("" for null) → candidates
  const heldCheckpointApprovals = new Map<string, Map<string, CheckpointApproval>>();
  const checkpointPool = createPool<CheckpointApproval>(
    MAX_HELD_CHECKPOINT_APPROVALS,
    (_, a) => {
      const m = heldCheckpointApprovals.get(a.checkpoint);
      m?.delete(a.key);
      if (m?.size === 0) heldCheckpointApprovals.delete(a.checkpoint);
    },
  );
  let chain: Candidate[] = []; // chosen candidates after the root chain

  const rootNode = newNode(root.id, null, null);
  rootNode.linked = true;
  rootNode.depth = root.depth;
  rootNode.state = root.state;
  rootNode.accepted = true;
  rootNode.finalized = true;
  rootNode.onChain = true;
  rootNode.filtered = true;
  nodes.set(root.id, rootNode);
  headChain.push(rootNode);
  claims.decide(root.id, () => true);

  // The node of the last event added: its approvals usually come next, and comparing their event
  // id with it costs less than hashing the id into `nodes` (nodes are never replaced).
  let lastNode: Node = rootNode;

  /** nodes.get(id), short-cutting the last event added. */
  function nodeOf(id: string): Node | undefined {
    return id === lastNode.id ? lastNode : nodes.get(id);
  }

  function markDirty(n: Node): void {
    if (!n.dirty && n.linked && n !== rootNode) {
      n.dirty = true;
      dirty.add(n);
    }
  }

  /** Makes `n` a child of `parent`; links its subtree when `parent` is linked to the root. */
  function attach(n: Node, parent: Node): void {
    n.parent = parent;
    parent.children.push(n);
    if (!parent.linked) return;
    const stack = [n];
    while (stack.length > 0) {
      const c = stack.pop()!;
      c.linked = true;
      c.depth = c.parent!.depth + 1;
      markDirty(c);
      const kids = waiting.size > 0 ? waiting.get(c.id) : undefined;
      if (kids) {
        waiting.delete(c.id);
        for (const k of kids) {
          k.parent = c;
          c.children.push(k);
        }
      }
      for (const k of c.children) stack.push(k);
    }
  }

  /** Drops a held event (evicted from its pool): its descendants become orphans again. */
  function evictEvent(n: Node): void {
    nodes.delete(n.id);
    if (lastNode === n) lastNode = rootNode;
    if (n.dirty) {
      n.dirty = false;
      dirty.delete(n);
    }
    const p = n.parent;
    if (p !== null) {
      p.children.splice(p.children.indexOf(n), 1);
    } else {
      const list = waiting.get(n.parentId!);
      if (list) {
        list.splice(list.indexOf(n), 1);
        if (list.length === 0) waiting.delete(n.parentId!);
      }
    }
    // Its children wait for it again, unlinked (none is applied: an event is applied only after
    // its parent).
    const kids = n.children.splice(0);
    if (kids.length > 0) {
      waiting.set(n.id, kids);
      const stack = [...kids];
      while (stack.length > 0) {
        const c = stack.pop()!;
        if (c.parent === n) c.parent = null;
        c.linked = false;
        c.depth = 0;
        if (c.dirty) {
          c.dirty = false;
          dirty.delete(c);
        }
        for (const k of c.children) stack.push(k);
      }
    }
    // Its approvals wait for it again (still held, in their own pool).
    for (const a of n.approvals.values()) {
      if (approvalPool.has(claimId(a))) holdForEvent(a);
    }
  }

  /** Drops a held approval (evicted from its pool) from wherever it is held. */
  function evictApproval(a: Approval): void {
    const list = heldApprovals.get(a.event);
    if (list) {
      const i = list.indexOf(a);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) heldApprovals.delete(a.event);
    }
    const n = nodes.get(a.event);
    if (n !== undefined && n.approvals.get(a.key) === a && !applied(n)) n.approvals.delete(a.key);
    if (claims.at(a.parent)?.decided === false) claims.forget(a);
  }

  function holdForEvent(a: Approval): void {
    let list = heldApprovals.get(a.event);
    if (!list) heldApprovals.set(a.event, list = []);
    list.push(a);
  }

  /** Releases an approval from its pool once it is decided and not waiting for its event. */
  function release(a: Approval): void {
    if (approvalPool.size > 0) approvalPool.delete(claimId(a));
  }

  /** `parent`'s state is known: keep only participants' claims under it. */
  function decide(p: Node): void {
    const participants = p.state!.governance.participants;
    const { dropped, kept } = claims.decide(p.id, (k) => Object.hasOwn(participants, k));
    for (const a of dropped) {
      approvalPool.delete(claimId(a));
      evictApproval(a);
    }
    for (const a of kept) {
      if (!heldApprovals.get(a.event)?.includes(a)) release(a);
    }
  }

  /** Records a verified signed claim; returns whether it was new. */
  function recordClaim(a: Approval, source: Source, pooled: boolean): boolean {
    const r = claims.record(a);
    const pc = claims.at(a.parent)!;
    if (source !== null && r.fresh && (pooled || !pc.decided)) {
      approvalPool.add(claimId(a), source, a);
    }
    if (r.equivocated && pc.decided) {
      const pn = nodeOf(a.parent);
      if (pn) { for (const c of pn.children) markDirty(c); }
    }
    return r.fresh;
  }

  /** Stores a matching approval on its (known) event. */
  function store(n: Node, a: Approval): void {
    n.approvals.set(a.key, a);
    if (n.counted !== undefined) n.fresh.push(a.key);
    markDirty(n);
  }

  function isParticipant(state: PageState, key: string): boolean {
    return Object.hasOwn(state.governance.participants, key);
  }

  /** The state of a parent event, after applying what is pending (undefined: not known). */
  function decidedState(p: Node | undefined): PageState | undefined {
    if (p === undefined) return undefined;
    if (p.state === undefined && p.error === undefined && p.linked && dirty.size > 0) settle();
    return p.state;
  }

  /**
   * Adds a signature-checked approval. `strict`: throws for claims that cannot count (an
   * approval), rather than answering `duplicate` (a half of evidence).
   */
  function takeApproval(a: Approval, strict: boolean, source: Source): AddResult {
    // A full pool first applies what it can (decided approvals leave it).
    if (approvalPool.size >= approvalPool.max && dirty.size > 0) settle();
    const n = nodeOf(a.event);
    const pn = n !== undefined && n.parentId === a.parent
      ? n.parent ?? undefined
      : nodeOf(a.parent);
    const pstate = decidedState(pn);
    if (pstate !== undefined && !isParticipant(pstate, a.key)) {
      // Neither a vote nor a claim that can matter: refused, nothing kept.
      if (!strict) return "duplicate";
      if (n !== undefined && (n.event === null || n.event.parent !== a.parent)) mismatch(a, n);
      throw new SignedPageError(
        "not-participant",
        `approval: ${a.key} is not a participant of the state event ${a.event} applies to`,
      );
    }
    if (n !== undefined && (n.event === null || n.event.parent !== a.parent)) {
      // A claim that cannot count; still signed (PROTOCOL §8). The root of a node started from
      // a checkpoint has a parent this node does not know: it cannot tell.
      const fresh = recordClaim(a, source, false);
      if (n.event === null && n.id !== pageId && pstate === undefined) {
        return fresh ? "held" : "duplicate";
      }
      if (strict) mismatch(a, n);
      return fresh ? (pstate === undefined ? "held" : "added") : "duplicate";
    }
    if (n === undefined) {
      const list = heldApprovals.get(a.event);
      if (list?.some((h) => h.key === a.key && h.parent === a.parent)) return "duplicate";
      holdForEvent(a);
      recordClaim(a, source, true);
      return "held";
    }
    if (n.approvals.has(a.key)) return "duplicate";
    store(n, a);
    recordClaim(a, source, false);
    if (pstate === undefined) {
      if (source !== null) approvalPool.add(claimId(a), source, a);
      return "held";
    }
    // A participant's approval: the event is endorsed, so it is applied (no longer held).
    if (!applied(n)) eventPool.delete(n.id);
    return "added";
  }

  function mismatch(a: Approval, n: Node): never {
    throw new SignedPageError(
      "event-mismatch",
      n.event === null
        ? `approval: ${a.event} is the root of this log, not an event with parent ${a.parent}`
        : `approval: signed for parent ${a.parent}, but event ${a.event} has parent ${n.event.parent}`,
    );
  }

  function needed(n: Node): number {
    const t = voteTable(n.parent!.state!.governance);
    const ppm = n.track!.kind === "content" ? t.contentPpm : t.membershipPpm;
    return ppm * t.totalWeight;
  }

  /** Applies `n` (its parent's state is known); true when it applied. */
  function applyNode(n: Node, queue: Node[] | undefined): void {
    const p = n.parent!;
    let result: Applied | undefined;
    try {
      result = applyEvent(p.state!, n.event!);
    } catch (e) {
      if (!(e instanceof SignedPageError)) throw e;
      n.error = e;
    }
    eventPool.delete(n.id);
    if (result) {
      n.state = result.state;
      n.track = result.track;
      decide(n);
    }
    for (const c of n.children) queue ? enqueue(c, queue) : markDirty(c);
  }

  /** The parent's state is known: keep only participants' approvals. */
  function filter(n: Node): void {
    n.filtered = true;
    const ps = n.parent!.state!;
    // Deleting the current entry while iterating a Map is well-defined.
    for (const [key, a] of n.approvals) {
      if (!isParticipant(ps, key)) {
        n.approvals.delete(key);
        release(a);
      } else release(a);
    }
    if (n.approvals.size > 0) eventPool.delete(n.id);
  }

  function evaluate(n: Node, queue: Node[]): void {
    const p = n.parent!;
    if (!applied(n) && p.state !== undefined) {
      if (!n.filtered) filter(n);
      // Applied once a participant approved it (or a checkpoint covers it): an event nobody
      // entitled to vote approved costs no state.
      if (n.approvals.size > 0 || n.finalized) applyNode(n, queue);
    }
    let accepted = false;
    let power = n.power;
    if (n.state !== undefined) {
      const table = voteTable(p.state!.governance);
      const pc = claims.at(p.id);
      const eq = pc?.excluded ?? NO_KEYS;
      const version = pc?.version ?? 0;
      if (n.counted === undefined || n.countedVersion !== version) {
        n.counted = new Set(n.approvals.keys());
        n.countedVersion = version;
        power = countPower(table, n.counted, eq);
      } else {
        for (const key of n.fresh) {
          if (n.counted.has(key)) continue;
          power += addApprover(table, n.counted, eq, key);
          n.counted.add(key);
        }
      }
      n.fresh = [];
      const track = n.track!;
      const enough = track.kind === "content"
        ? reaches(table, power, table.contentPpm)
        : reaches(table, power, table.membershipPpm) ||
          (track.kind === "delegation" && n.approvals.has(track.delegator) &&
            !eq.has(track.delegator));
      accepted = p.accepted && (enough || n.finalized);
    }
    if (accepted !== n.accepted || power !== n.power) {
      if (accepted !== n.accepted) { for (const c of n.children) enqueue(c, queue); }
      n.accepted = accepted;
      n.power = power;
      forkDirty.add(p);
    }
  }

  function enqueue(n: Node, queue: Node[]): void {
    if (!n.queued) {
      n.queued = true;
      queue.push(n);
    }
  }

  function better(a: Node, b: Node): boolean {
    if (a.finalized !== b.finalized) return a.finalized;
    if (a.power !== b.power) return a.power > b.power;
    return a.id < b.id;
  }

  function bestChild(p: Node): Node | undefined {
    let best: Node | undefined;
    for (const c of p.children) {
      if (c.accepted && (best === undefined || better(c, best))) best = c;
    }
    return best;
  }

  function settle(): void {
    if (dirty.size > 0) {
      // Parents first, so that each event is applied and counted once per change. Events
      // usually arrive parents first: sort only when they did not.
      const queue = [...dirty];
      for (let i = 1; i < queue.length; i++) {
        if (queue[i - 1].depth > queue[i].depth) {
          queue.sort((a, b) => a.depth - b.depth);
          break;
        }
      }
      dirty.clear();
      for (const n of queue) {
        n.dirty = false;
        n.queued = true;
      }
      for (let i = 0; i < queue.length; i++) {
        const n = queue[i];
        n.queued = false;
        if (n.linked) evaluate(n, queue);
      }
    }
    if (forkDirty.size === 0) return;
    let from = Infinity;
    for (const p of forkDirty) {
      if (p.onChain) from = Math.min(from, p.depth - rootNode.depth);
    }
    forkDirty.clear();
    if (from === Infinity) return;
    for (const n of headChain.splice(from + 1)) n.onChain = false;
    for (;;) {
      const next = bestChild(headChain[headChain.length - 1]);
      if (next === undefined) break;
      next.onChain = true;
      headChain.push(next);
    }
  }

  function headNode(): Node {
    settle();
    return headChain[headChain.length - 1];
  }

  function checkPage(page: string, what: string): void {
    if (page !== pageId) {
      throw new SignedPageError("wrong-page", `${what}: belongs to page ${page}, not ${pageId}`);
    }
  }

  /** True when this approval is held with these exact bytes (its signature was verified). */
  function heldSame(a: Approval): boolean {
    const n = nodeOf(a.event);
    const h = n?.approvals.get(a.key);
    if (h !== undefined) return h.sig === a.sig && h.parent === a.parent;
    const c = claims.at(a.parent)?.byKey.get(a.key);
    if (c !== undefined) {
      if (c.first.event === a.event) return c.first.sig === a.sig;
      if (c.second?.event === a.event) return c.second.sig === a.sig;
    }
    return false;
  }

  function checkedApproval(raw: Approval, where: string): Approval {
    const a = checkApproval(raw, where, known);
    // A committee's keys recur: remember the last few (validated) for the next approvals.
    if (!known.keys.includes(a.key)) {
      known.keys.unshift(a.key);
      if (known.keys.length > KNOWN_KEYS) known.keys.pop();
    }
    checkPage(a.page, where);
    // Each signature is verified once per log: a copy of a held approval (gossip duplicates,
    // evidence that repeats it) is recognised by its bytes.
    if (heldSame(a)) return a;
    if (!verifyApproval(a)) {
      throw new SignedPageError(
        "bad-signature",
        `${where}: signature by ${a.key} does not verify for event ${a.event}`,
      );
    }
    return a;
  }

  // --- checkpoints ------------------------------------------------------------------------

  /** The tip a checkpoint with this `prev` extends, if this log holds it. */
  function tipFor(prev: string | null): CheckpointTip | undefined {
    const last = rootChain.at(-1);
    if (prev === (last ? objectId(last.checkpoint) : null)) return root.tip;
    return prev === null ? undefined : candidates.get(prev) && tipOf(candidates.get(prev)!);
  }

  /**
   * Applies every event from the nearest applied ancestor down to `n` (a checkpoint covers it:
   * its approvals need not be held here). Throws `not-ready`/`bad-checkpoint` when it cannot.
   */
  function forceApply(n: Node, what: string): void {
    if (!n.linked) {
      throw new SignedPageError("not-ready", `${what}: event ${n.id} has no known parent chain`);
    }
    const path: Node[] = [];
    for (let m: Node = n; !applied(m); m = m.parent!) path.push(m);
    for (const m of path.reverse()) {
      if (m.parent!.state === undefined) break;
      if (!m.filtered) filter(m);
      applyNode(m, undefined);
    }
    if (n.state === undefined) {
      throw new SignedPageError("bad-checkpoint", `${what}: event ${n.id} does not apply here`);
    }
  }

  /** Checks a candidate's statement against the history held here. */
  function checkAgainstHistory(c: Candidate): void {
    const cp = c.checkpoint;
    const n = nodes.get(cp.event);
    if (n === undefined) {
      throw new SignedPageError(
        "not-ready",
        `checkpoint ${c.id}: event ${cp.event} is not known here yet`,
      );
    }
    if (!n.linked) {
      throw new SignedPageError(
        "not-ready",
        `checkpoint ${c.id}: event ${cp.event} is not linked to this log's root yet`,
      );
    }
    if (n.depth !== cp.height) {
      throw new SignedPageError(
        "bad-checkpoint",
        `checkpoint ${c.id}: event is at height ${n.depth}, not ${cp.height}`,
      );
    }
    let a: Node | null = n;
    while (a !== null && a.id !== c.prevTip.event) a = a.parent;
    if (a === null) {
      throw new SignedPageError(
        "bad-checkpoint",
        `checkpoint ${c.id}: event does not descend from the previous checkpoint's event`,
      );
    }
    forceApply(n, `checkpoint ${c.id}`);
    // A full node holds the state and checks the statement itself.
    checkCheckpointState(cp, n.state);
  }

  /**
   * The checkpoint chain after the root chain, from the candidates held (PROTOCOL §9): at each
   * tip, the keys that approved two candidates extending it are equivocators and count for
   * none; of the candidates still reaching the membership threshold without them, the one with
   * most power, then the lowest id, is next.
   */
  function chooseChain(): void {
    const next: Candidate[] = [];
    let at = root.tip;
    for (;;) {
      const options = byPrev.get(at.id ?? "") ?? [];
      if (options.length === 0) break;
      const eq = new Set(checkpointEquivocators(options).keys());
      let best: { c: Candidate; power: number } | undefined;
      for (const c of options) {
        const { power, enough } = checkpointPower(at, c.approvals, eq);
        if (!enough) continue;
        if (best === undefined || power > best.power || power === best.power && c.id < best.c.id) {
          best = { c, power };
        }
      }
      if (best === undefined) break;
      next.push(best.c);
      at = tipOf(best.c);
    }
    const same = next.length === chain.length && next.every((c, i) => c === chain[i]);
    if (same) return;
    chain = next;
    // Finality follows the chain: clear it everywhere, then mark the path to each checkpoint.
    for (const n of nodes.values()) {
      if (n !== rootNode && n.finalized) {
        n.finalized = false;
        markDirty(n);
        if (n.parent) forkDirty.add(n.parent);
      }
    }
    for (const c of chain) {
      for (let m: Node | null = nodes.get(c.checkpoint.event)!; m !== null && !m.finalized;) {
        m.finalized = true;
        markDirty(m);
        if (m.parent) forkDirty.add(m.parent);
        m = m.parent;
      }
    }
  }

  /** Adds checkpoint approvals (verified) to a held candidate; true when any was new. */
  function mergeApprovals(c: Candidate, approvals: Iterable<CheckpointApproval>): boolean {
    const table = voteTable(c.prevTip.governance);
    let added = false;
    for (const a of approvals) {
      if (!table.power.has(a.key) || c.approvals.has(a.key)) continue;
      c.approvals.set(a.key, a);
      added = true;
    }
    return added;
  }

  return {
    pageId,
    genesis,

    addEvent(raw, options) {
      const event = checkEvent(raw, known);
      checkPage(event.page, "event");
      const id = objectId(event);
      known.event = id;
      known.parent = event.parent;
      if (nodes.has(id)) return "duplicate";
      // A full pool first applies what it can (applied events leave it).
      if (eventPool.size + MAX_EVENT_UNITS > eventPool.max && dirty.size > 0) settle();
      const n = newNode(id, event, event.parent);
      const source = sourceOf(options);
      if (source !== null) {
        eventPool.add(id, source, n, Math.ceil(encodedSize(event) / HELD_EVENT_UNIT));
      }
      const parent = nodeOf(event.parent); // in a chain, the last event added
      nodes.set(id, n);
      lastNode = n;
      const list = heldApprovals.get(id);
      if (list) {
        heldApprovals.delete(id);
        const decided = parent?.state !== undefined;
        for (const a of list) {
          if (a.parent === event.parent) {
            n.approvals.set(a.key, a);
            if (decided) release(a);
          } else if (claims.at(a.parent)?.decided !== false || !claims.holds(a)) release(a);
        }
      }
      if (parent === undefined) {
        let orphans = waiting.get(event.parent);
        if (!orphans) waiting.set(event.parent, orphans = []);
        orphans.push(n);
        return "held";
      }
      attach(n, parent);
      return n.linked ? "added" : "held";
    },

    addApproval(raw, options) {
      return takeApproval(checkedApproval(raw, "approval"), true, sourceOf(options));
    },

    addEvidence(raw, options) {
      const e = checkObject(raw, "evidence");
      const a = checkedApproval(e.first, "evidence.first");
      const b = checkedApproval(e.second, "evidence.second");
      const source = sourceOf(options);
      const pstate = decidedState(nodeOf(a.parent));
      if (pstate !== undefined && !isParticipant(pstate, a.key)) {
        throw new SignedPageError(
          "not-participant",
          `evidence: ${a.key} is not a participant of the state of ${a.parent}`,
        );
      }
      const before = claims.holds(a) && claims.holds(b);
      takeApproval(a, false, source);
      takeApproval(b, false, source);
      if (before) return "duplicate";
      return claims.at(a.parent)?.decided ? "added" : "held";
    },

    addCheckpoint(link) {
      settle();
      const cp = checkObject(link.checkpoint, "checkpoint");
      const id = objectId(cp);
      if (rootChain.some((l) => objectId(l.checkpoint) === id)) return "duplicate";
      const have = candidates.get(id);
      if (have !== undefined) {
        const before = have.approvals.size;
        checkCheckpointLink(pageId, have.prevTip, link, have.approvals);
        if (have.approvals.size === before) return "duplicate";
        chooseChain();
        return "added";
      }
      const prevTip = tipFor(cp.prev);
      if (prevTip === undefined) {
        const rootIds = rootChain.slice(0, -1).map((l) => objectId(l.checkpoint));
        if (cp.prev === null ? rootChain.length > 0 : rootIds.includes(cp.prev)) {
          throw new SignedPageError(
            "bad-checkpoint",
            `checkpoint ${id}: conflicts with the checkpoint chain this node started from`,
          );
        }
        throw new SignedPageError(
          "not-ready",
          `checkpoint ${id}: its previous checkpoint ${cp.prev} is not known here`,
        );
      }
      const checked = checkCheckpointLink(pageId, prevTip, link);
      const c: Candidate = { ...checked, prevTip };
      // Approvals that came alone (in evidence) before the checkpoint.
      const early = heldCheckpointApprovals.get(id);
      if (early) {
        heldCheckpointApprovals.delete(id);
        for (const a of early.values()) checkpointPool.delete(a.checkpoint + a.key);
        mergeApprovals(c, early.values());
      }
      const { power, enough } = checkpointPower(prevTip, c.approvals, new Set());
      if (!enough) {
        throw new SignedPageError(
          "bad-checkpoint",
          `checkpoint ${id}: approving power ${power / 1e6} is below the membership threshold ` +
            `(counting ${c.approvals.size} valid approvals by participants)`,
        );
      }
      checkAgainstHistory(c);
      candidates.set(id, c);
      const key = cp.prev ?? "";
      byPrev.set(key, [...(byPrev.get(key) ?? []), c]);
      chooseChain();
      return "added";
    },

    addCheckpointEvidence(raw, options) {
      const e = checkObject(raw, "checkpoint-evidence");
      let fresh = false;
      let heldAny = false;
      for (const [a, where] of [[e.first, "first"], [e.second, "second"]] as const) {
        checkPage(a.page, `checkpoint-evidence.${where}`);
        const c = candidates.get(a.checkpoint);
        if (c?.approvals.get(a.key)?.sig === a.sig) continue;
        if (heldCheckpointApprovals.get(a.checkpoint)?.get(a.key)?.sig === a.sig) continue;
        if (!verifyCheckpointApproval(a)) {
          throw new SignedPageError(
            "bad-signature",
            `checkpoint-evidence.${where}: signature by ${a.key} does not verify`,
          );
        }
        if (c !== undefined) {
          if (mergeApprovals(c, [a])) fresh = true;
        } else if (
          !rootChain.some((l) => objectId(l.checkpoint) === a.checkpoint) &&
          !heldCheckpointApprovals.get(a.checkpoint)?.has(a.key)
        ) {
          let m = heldCheckpointApprovals.get(a.checkpoint);
          if (!m) heldCheckpointApprovals.set(a.checkpoint, m = new Map());
          m.set(a.key, a);
          const source = sourceOf(options);
          if (source !== null) checkpointPool.add(a.checkpoint + a.key, source, a);
          heldAny = true;
        }
      }
      if (fresh) {
        chooseChain();
        return "added";
      }
      return heldAny ? "held" : "duplicate";
    },

    head: () => headNode().id,
    state: () => headNode().state!,
    stateHash: () => stateHash(headNode().state!),
    headChain() {
      settle();
      return headChain.map((n) => n.id);
    },

    stateAt(eventId) {
      settle();
      return nodes.get(eventId)?.state;
    },

    status(id): EventStatus {
      settle();
      const n = nodes.get(id);
      if (n === undefined) return { id, status: "unknown" };
      if (n === rootNode) return { id, status: "accepted", finalized: true };
      if (!n.linked) {
        let m = n;
        while (m.parent !== null) m = m.parent;
        return {
          id,
          status: "pending",
          code: "missing-parent",
          reason: `event ${m.parentId} is not known (parent of ${m === n ? "this event" : m.id})`,
        };
      }
      if (n.error) return { id, status: "rejected", code: n.error.code, reason: n.error.message };
      const p = n.parent!;
      if (n.state === undefined) {
        let a = p;
        while (a.state === undefined && a.error === undefined) a = a.parent!;
        if (a.error !== undefined) {
          return {
            id,
            status: "rejected",
            code: "parent-rejected",
            reason: `parent ${n.parentId} was rejected`,
          };
        }
        if (p.state === undefined) {
          return {
            id,
            status: "pending",
            code: "parent-pending",
            reason: `parent ${n.parentId} is not applied yet (no participant approved it)`,
          };
        }
        return {
          id,
          status: "pending",
          code: "unapproved",
          reason: "no participant of the parent state approved it yet (applied once one does)",
          power: 0,
        };
      }
      const base = {
        id,
        track: n.track!,
        power: n.power,
        needed: needed(n),
        finalized: n.finalized,
      };
      if (n.accepted) return { ...base, status: n.onChain ? "accepted" : "lost-fork" };
      if (!p.accepted) {
        return {
          ...base,
          status: "pending",
          code: "parent-pending",
          reason: `parent ${n.parentId} is not accepted`,
        };
      }
      return {
        ...base,
        status: "pending",
        code: "insufficient-power",
        reason: `approving power ${n.power / 1e6} is below the ${n.track!.kind} threshold ` +
          `(needs ${needed(n) / 1e6} of total weight ${
            voteTable(p.state!.governance).totalWeight
          })`,
      };
    },

    height(eventId) {
      const n = nodes.get(eventId);
      return n?.linked ? n.depth : undefined;
    },

    events() {
      const out: PageEvent[] = [];
      const linked = [...nodes.values()].filter((n) => n.linked && n.event !== null);
      linked.sort((a, b) => a.depth - b.depth || (a.id < b.id ? -1 : 1));
      for (const n of linked) out.push(n.event!);
      for (const n of nodes.values()) if (!n.linked) out.push(n.event!);
      return out;
    },

    approvals(eventId) {
      const n = nodes.get(eventId);
      if (n) return [...n.approvals.values()];
      return [...(heldApprovals.get(eventId) ?? [])];
    },

    evidence() {
      settle();
      return claims.evidence();
    },

    equivocators(parentId) {
      settle();
      return claims.equivocators(parentId);
    },

    checkpoints: () => [
      ...rootChain,
      ...chain.map((c) => ({ checkpoint: c.checkpoint, approvals: [...c.approvals.values()] })),
    ],

    checkpointCandidates: () =>
      [...candidates.values()].map((c) => ({
        checkpoint: c.checkpoint,
        approvals: [...c.approvals.values()],
      })),

    checkpointEvidence() {
      const out: CheckpointEvidence[] = [];
      for (const options of byPrev.values()) {
        for (const [a, b] of checkpointEquivocators(options).values()) {
          out.push(checkpointEvidenceOf(a, b));
        }
      }
      return out;
    },

    held: () => ({
      events: eventPool.size,
      approvals: approvalPool.size,
      checkpointApprovals: checkpointPool.size,
    }),
  };
}

/** Opens the log of a page from its genesis (validated; its id is the page id). */
export function createPageLog(genesis: Genesis): PageLog {
  const g = checkObject(genesis, "genesis");
  const id = objectId(g);
  return createLog(g, { id, depth: 0, state: g.state, tip: genesisTip(g), chain: [] });
}

/**
 * Opens the log of a page from a verified checkpoint chain and the state at its last checkpoint,
 * without older history: events after that checkpoint are then verified as usual. Throws
 * `SignedPageError` if the chain or the state does not verify.
 */
export function openFromCheckpoint(
  genesis: Genesis,
  chain: readonly CheckpointLink[],
  state: unknown,
): PageLog {
  const g = checkObject(genesis, "genesis");
  const page = objectId(g);
  if (chain.length === 0) return createPageLog(g);
  let tip = genesisTip(g);
  for (const link of chain) tip = verifyCheckpointLink(page, tip, link);
  const last = chain[chain.length - 1].checkpoint;
  const s = checkCheckpointState(last, state);
  return createLog(g, { id: last.event, depth: last.height, state: s, tip, chain: [...chain] });
}
