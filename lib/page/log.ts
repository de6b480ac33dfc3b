/**
 * The incremental page engine: holds the events, approvals, evidence and checkpoints of one page
 * received so far, in any order and batches, with duplicates, and keeps the accepted head and
 * its state current. The result is a pure function of the set of objects held (see
 * docs/PROTOCOL.md §6): every node holding the same set computes the same head and state.
 *
 * Work is incremental: an event is applied once, when its parent's state is known; an approval
 * re-counts only its event; a new acceptance moves the head from where it changed. Nothing
 * replays history.
 *
 * @module
 */
import { type Applied, applyEvent } from "./apply.ts";
import {
  checkCheckpointState,
  type CheckpointLink,
  type CheckpointTip,
  genesisTip,
  verifyCheckpointLink,
} from "./checkpoint.ts";
import { SignedPageError, type SignedPageErrorCode } from "./errors.ts";
import { voteTable } from "./governance.ts";
import type { Track } from "./handlers.ts";
import {
  type Approval,
  checkApproval,
  checkEvent,
  checkObject,
  type Evidence,
  type Genesis,
  objectId,
  type PageEvent,
  verifyApproval,
} from "./objects.ts";
import { countPower, reaches } from "./power.ts";
import { type PageState, stateHash } from "./state.ts";

/** Most events held whose parent is not known. */
export const MAX_ORPHAN_EVENTS = 4096;
/** Most approvals held for events that are not known. */
export const MAX_ORPHAN_APPROVALS = 65_536;
/** Approval keys a log remembers as validated (see KnownIds). */
const KNOWN_KEYS = 4;

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
   * Why pending or rejected: `missing-parent`, `parent-pending`, `insufficient-power`,
   * `parent-rejected`, or the error code of the failed application.
   */
  readonly code?:
    | "missing-parent"
    | "parent-pending"
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
  /** Adds equivocation evidence (also derived automatically from approvals). */
  addEvidence(evidence: Evidence, options?: AddOptions): AddResult;
  /**
   * Adds the next checkpoint of the chain after verifying it and that it matches the state
   * computed here at its event; the head chain then always passes through its event.
   */
  addCheckpoint(link: CheckpointLink, options?: AddOptions): AddResult;
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
  /** The checkpoint chain verified by this log. */
  checkpoints(): CheckpointLink[];
}

/**
 * What one key signed under one parent: the approval, or once it approved two children of that
 * parent (equivocation), all its approvals there by event.
 */
type Claim = Approval | { readonly key: string; readonly byEvent: Map<string, Approval> };

/**
 * The claims under one parent, at most one per key: a few (the approvals of its children), kept
 * in an array searched by key, or a Map past {@linkcode SMALL_CLAIMS}.
 */
type Claims = readonly Claim[] | Map<string, Claim>;

/** Claims a parent keeps in an array before they move to a Map. */
const SMALL_CLAIMS = 8;

function findClaim(claims: Claims, key: string): Claim | undefined {
  if (claims instanceof Map) return claims.get(key);
  for (const c of claims) if (c.key === key) return c;
  return undefined;
}

/** `claims` with `claim` added, or replacing the claim of its key: a new array, or the Map. */
function withClaim(claims: Claims, claim: Claim): Claims {
  if (claims instanceof Map) return claims.set(claim.key, claim);
  for (let i = 0; i < claims.length; i++) {
    if (claims[i].key === claim.key) return claims.with(i, claim);
  }
  // Arrays of exactly their size (a pushed array keeps room for 16 more, per parent).
  const grown = [...claims, claim];
  return grown.length > SMALL_CLAIMS ? new Map(grown.map((c) => [c.key, c])) : grown;
}

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
  /** Approval by key; its keys are the approvers counted by countPower. */
  readonly approvals: Map<string, Approval>;
  power: number;
  accepted: boolean;
  finalized: boolean;
  onChain: boolean;
  queued: boolean;
  /** In the dirty set (each approval marks its event: a flag test is cheaper than a Set add). */
  dirty: boolean;
  /** The claims under this event as parent (see the log's `recordClaim`). */
  claims: Claims | undefined;
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
    power: 0,
    accepted: false,
    finalized: false,
    onChain: false,
    queued: false,
    dirty: false,
    claims: undefined,
  };
}

const NO_KEYS: ReadonlySet<string> = new Set();

/** Builds an evidence object from two approvals by one key of two children of one parent. */
export function evidenceOf(a: Approval, b: Approval): Evidence {
  const [first, second] = a.event < b.event ? [a, b] : [b, a];
  return checkObject({ type: "evidence", v: 1, first, second }, "evidence");
}

/** Root of a log: the genesis, or a verified checkpoint's event with its state. */
interface Root {
  readonly id: string;
  readonly depth: number;
  readonly state: PageState;
  readonly tip: CheckpointTip;
  readonly chain: CheckpointLink[];
}

function createLog(genesis: Genesis, root: Root): PageLog {
  const pageId = objectId(genesis);
  const nodes = new Map<string, Node>();
  const waiting = new Map<string, Node[]>(); // parent id → orphan children
  let orphanEvents = 0;
  const heldApprovals = new Map<string, Map<string, Approval>>(); // unknown event → key → approval
  let heldCount = 0;
  // Every signed approval claim (parent, key) → event → approval, matching or not: equivocation
  // is a property of what a key signed, so it must not depend on which objects arrived first.
  // The claims under a parent are kept on its node (`Node.claims`: found without a lookup in a
  // large map, for the approvals of the last event), or here while the parent is not held.
  const orphanClaims = new Map<string, Claims>(); // parent id without a node → its claims
  const excluded = new Map<string, Set<string>>(); // parent → equivocating keys
  const found = new Map<string, Evidence>(); // `${parent}/${key}` → evidence
  const chain = [...root.chain];
  let tip = root.tip;
  const dirty = new Set<Node>();
  const forkDirty = new Set<Node>();
  const headChain: Node[] = [];
  // Ids validated here (see KnownIds): the page's, the last event's and its parent's, and the
  // last few approval keys.
  const known = { page: pageId, event: pageId, parent: pageId, keys: [] as string[] };

  const rootNode = newNode(root.id, null, null);
  rootNode.linked = true;
  rootNode.depth = root.depth;
  rootNode.state = root.state;
  rootNode.accepted = true;
  rootNode.finalized = true;
  rootNode.onChain = true;
  nodes.set(root.id, rootNode);
  headChain.push(rootNode);

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

  function link(n: Node, parent: Node): void {
    n.parent = parent;
    parent.children.push(n);
    if (waiting.size === 0) {
      // No orphans that could be waiting for n: the loop below, for n alone.
      n.linked = true;
      n.depth = parent.depth + 1;
      markDirty(n);
      return;
    }
    const stack = [n];
    while (stack.length > 0) {
      const c = stack.pop()!;
      c.linked = true;
      c.depth = c.parent!.depth + 1;
      markDirty(c);
      const kids = waiting.get(c.id);
      if (kids) {
        waiting.delete(c.id);
        orphanEvents -= kids.length;
        for (const k of kids) {
          k.parent = c;
          c.children.push(k);
          stack.push(k);
        }
      }
    }
  }

  function recordClaim(a: Approval): void {
    // The parent is usually the last event's parent.
    const pn = lastNode.parentId === a.parent && lastNode.parent !== null
      ? lastNode.parent
      : nodeOf(a.parent);
    const held = pn !== undefined ? pn.claims : orphanClaims.get(a.parent);
    const prev = held && findClaim(held, a.key);
    let next: Claims | undefined;
    let byEvent: Map<string, Approval> | undefined;
    // Nearly every claim is the only one of its (parent, key): keep just the approval.
    if (prev === undefined) next = withClaim(held ?? [], a);
    else if ("byEvent" in prev) byEvent = prev.byEvent;
    else {
      if (prev.event === a.event) return;
      byEvent = new Map([[prev.event, prev]]);
      next = withClaim(held!, { key: a.key, byEvent });
    }
    if (next !== undefined && next !== held) {
      if (pn !== undefined) pn.claims = next;
      else orphanClaims.set(a.parent, next);
    }
    if (byEvent === undefined) return;
    if (byEvent.has(a.event)) return;
    byEvent.set(a.event, a);
    // The two lowest event ids: the same evidence whatever order the claims arrived in.
    const [x, y] = [...byEvent.keys()].sort();
    found.set(`${a.parent}/${a.key}`, evidenceOf(byEvent.get(x)!, byEvent.get(y)!));
    if (byEvent.size === 2) {
      let set = excluded.get(a.parent);
      if (!set) excluded.set(a.parent, set = new Set());
      set.add(a.key);
      if (pn) { for (const c of pn.children) markDirty(c); }
    }
  }

  /**
   * Whether an equivocation matters: the key is a participant of the parent's state. Only those
   * are reported, because whether an outsider's approval was kept depends on arrival order.
   */
  function counts(parentId: string, key: string): boolean {
    const s = nodes.get(parentId)?.state;
    return s !== undefined && Object.hasOwn(s.governance.participants, key);
  }

  function isParticipant(n: Node, key: string): boolean | undefined {
    const s = n.parent?.state;
    return s === undefined ? undefined : Object.hasOwn(s.governance.participants, key);
  }

  function store(n: Node, a: Approval): void {
    n.approvals.set(a.key, a);
    markDirty(n);
  }

  /** Adds a signature-checked approval; `strict` throws for claims that cannot count. */
  function takeApproval(a: Approval, strict: boolean): AddResult {
    const n = nodeOf(a.event);
    if (n !== undefined && n.event === null) {
      if (!strict) return "duplicate";
      throw new SignedPageError("event-mismatch", `approval: ${a.event} is a root, not an event`);
    }
    // One approval per (event, key) is enough: any other signature by that key says the same.
    const seen = n ? n.approvals.get(a.key) : heldApprovals.get(a.event)?.get(a.key);
    if (seen !== undefined && (n === undefined || seen.parent === a.parent)) {
      recordClaim(a);
      return "duplicate";
    }
    if (n !== undefined && n.event!.parent !== a.parent) {
      recordClaim(a);
      if (!strict) return "added";
      throw new SignedPageError(
        "event-mismatch",
        `approval: signed for parent ${a.parent}, but event ${a.event} has parent ${
          n.event!.parent
        }`,
      );
    }
    if (n !== undefined && isParticipant(n, a.key) === false) {
      if (!strict) return "duplicate";
      throw new SignedPageError(
        "not-participant",
        `approval: ${a.key} is not a participant of the state event ${a.event} applies to`,
      );
    }
    if (n === undefined) {
      if (heldCount >= MAX_ORPHAN_APPROVALS) {
        throw new SignedPageError("limit", "approval: too many approvals held for unknown events");
      }
      let m = heldApprovals.get(a.event);
      if (!m) heldApprovals.set(a.event, m = new Map());
      m.set(a.key, a);
      heldCount++;
      recordClaim(a);
      return "held";
    }
    store(n, a);
    recordClaim(a);
    return "added";
  }

  function needed(n: Node): number {
    const t = voteTable(n.parent!.state!.governance);
    const ppm = n.track!.kind === "content" ? t.contentPpm : t.membershipPpm;
    return ppm * t.totalWeight;
  }

  function evaluate(n: Node, queue: Node[]): void {
    const p = n.parent!;
    if (n.state === undefined && n.error === undefined && p.state !== undefined) {
      let applied: Applied | undefined;
      try {
        applied = applyEvent(p.state, n.event!);
      } catch (e) {
        if (!(e instanceof SignedPageError)) throw e;
        n.error = e;
      }
      if (applied) {
        n.state = applied.state;
        n.track = applied.track;
        // Approvals held before the parent state was known: drop those of non-participants
        // (deleting the current entry while iterating a Map is well-defined).
        for (const key of n.approvals.keys()) {
          if (!Object.hasOwn(p.state.governance.participants, key)) n.approvals.delete(key);
        }
      }
      for (const c of n.children) enqueue(c, queue);
    }
    let accepted = false;
    let power = 0;
    if (n.state !== undefined) {
      const table = voteTable(p.state!.governance);
      const eq = excluded.get(p.id) ?? NO_KEYS;
      power = countPower(table, n.approvals, eq);
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
        evaluate(n, queue);
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

  /** The approval of (event, key) already held with these exact bytes, if any. */
  function held(a: Approval): boolean {
    const n = nodeOf(a.event);
    const m = n ? n.approvals : heldApprovals.get(a.event);
    const h = m?.get(a.key);
    return h !== undefined && h.sig === a.sig && h.parent === a.parent;
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
    if (held(a)) return a;
    if (!verifyApproval(a)) {
      throw new SignedPageError(
        "bad-signature",
        `${where}: signature by ${a.key} does not verify for event ${a.event}`,
      );
    }
    return a;
  }

  return {
    pageId,
    genesis,

    addEvent(raw) {
      const event = checkEvent(raw, known);
      checkPage(event.page, "event");
      const id = objectId(event);
      known.event = id;
      known.parent = event.parent;
      if (nodes.has(id)) return "duplicate";
      const parent = nodeOf(event.parent); // in a chain, the last event added
      if (parent === undefined && orphanEvents >= MAX_ORPHAN_EVENTS) {
        throw new SignedPageError("limit", "event: too many events held without their parent");
      }
      const n = newNode(id, event, event.parent);
      nodes.set(id, n);
      lastNode = n;
      // Claims made under this event before it was held move to its node.
      const claims = orphanClaims.size > 0 ? orphanClaims.get(id) : undefined;
      if (claims) {
        orphanClaims.delete(id);
        n.claims = claims;
      }
      const held = heldApprovals.get(id);
      if (held) {
        heldApprovals.delete(id);
        heldCount -= held.size;
        for (const a of held.values()) if (a.parent === event.parent) store(n, a);
      }
      if (parent === undefined) {
        let list = waiting.get(event.parent);
        if (!list) waiting.set(event.parent, list = []);
        list.push(n);
        orphanEvents++;
        return "held";
      }
      link(n, parent);
      return "added";
    },

    addApproval(raw) {
      return takeApproval(checkedApproval(raw, "approval"), true);
    },

    addEvidence(raw) {
      const e = checkObject(raw, "evidence");
      const a = checkedApproval(e.first, "evidence.first");
      const b = checkedApproval(e.second, "evidence.second");
      const before = found.has(`${a.parent}/${a.key}`);
      takeApproval(a, false);
      takeApproval(b, false);
      return before ? "duplicate" : "added";
    },

    addCheckpoint(link) {
      const cp = checkObject(link.checkpoint, "checkpoint");
      const id = objectId(cp);
      if (chain.some((l) => objectId(l.checkpoint) === id)) return "duplicate";
      const next = verifyCheckpointLink(pageId, tip, link);
      const n = nodes.get(cp.event);
      if (n === undefined || !n.linked || n.state === undefined) {
        throw new SignedPageError(
          "not-ready",
          `checkpoint ${id}: event ${cp.event} is not known or not applied here yet`,
        );
      }
      if (n.depth !== cp.height) {
        throw new SignedPageError(
          "bad-checkpoint",
          `checkpoint ${id}: event is at height ${n.depth}, not ${cp.height}`,
        );
      }
      let a: Node | null = n;
      while (a !== null && a.id !== tip.event) a = a.parent;
      if (a === null) {
        throw new SignedPageError(
          "bad-checkpoint",
          `checkpoint ${id}: event does not descend from the previous checkpoint's event`,
        );
      }
      // A full node holds the state and checks the statement itself.
      checkCheckpointState(cp, n.state);
      chain.push({ checkpoint: cp, approvals: link.approvals.slice() });
      tip = next;
      for (let m: Node | null = n; m !== null && !m.finalized; m = m.parent) {
        m.finalized = true;
        markDirty(m);
        if (m.parent) forkDirty.add(m.parent);
      }
      return "added";
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
        return {
          id,
          status: "pending",
          code: "missing-parent",
          reason: `parent ${n.parentId} is not known`,
        };
      }
      if (n.error) return { id, status: "rejected", code: n.error.code, reason: n.error.message };
      if (n.state === undefined) {
        return {
          id,
          status: "rejected",
          code: "parent-rejected",
          reason: `parent ${n.parentId} was rejected`,
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
      if (!n.parent!.accepted) {
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
          `(${needed(n) / 1e6} of total weight ${
            voteTable(n.parent!.state!.governance).totalWeight
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
      const m = n ? n.approvals : heldApprovals.get(eventId);
      return m ? [...m.values()] : [];
    },

    evidence() {
      settle();
      const out: Evidence[] = [];
      for (const [claim, e] of found) {
        if (counts(claim.slice(0, 64), claim.slice(65))) out.push(e);
      }
      return out;
    },

    equivocators(parentId) {
      settle();
      return [...(excluded.get(parentId) ?? [])].filter((k) => counts(parentId, k)).sort();
    },

    checkpoints: () => chain.slice(),
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
