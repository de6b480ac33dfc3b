/**
 * Equivocation (docs/PROTOCOL.md §8): what each key signed under each parent. A key that signed
 * approvals of two different events with the same page and parent equivocates at that parent;
 * every valid signed claim counts, wherever it points (an approval refused for counting because
 * its parent is not its event's, or one that names the log's root, was still signed). For each
 * (parent, key) the table keeps the claims with the two lowest event ids, updated in O(1) per
 * claim, so the evidence it reports does not depend on arrival order.
 *
 * Claims under a parent whose state is not known yet are undecided: the log cannot tell whether
 * their keys are participants. When the state is known, {@linkcode ClaimTable.decide} keeps the
 * participants' claims and drops the others (outsiders' equivocations never matter).
 *
 * @module
 */
import {
  type Approval,
  checkObject,
  type CheckpointApproval,
  type CheckpointEvidence,
  type Evidence,
} from "./objects.ts";

/** The claims of one key under one parent: the lowest event id, and the next if it equivocated. */
export interface KeyClaims {
  /** The approval with the lowest event id. */
  readonly first: Approval;
  /** The approval with the second lowest event id, once the key equivocated. */
  readonly second: Approval | undefined;
}

/** The claims under one parent. */
export interface ParentClaims {
  /** Claims by key. */
  readonly byKey: ReadonlyMap<string, KeyClaims>;
  /** Keys that equivocated here (their power counts for none of the parent's children). */
  readonly excluded: ReadonlySet<string>;
  /** Grows whenever `excluded` changes: a count made under an older version is stale. */
  readonly version: number;
  /** True once the parent's state is known (only participants' claims kept). */
  readonly decided: boolean;
}

/** What recording a claim did. */
export interface Recorded {
  /** The claim (parent, key, event) was not held before. */
  readonly fresh: boolean;
  /** The key just became an equivocator at the parent. */
  readonly equivocated: boolean;
}

/** The signed claims of one page log. */
export interface ClaimTable {
  /** The claims under `parent`, if any. */
  at(parent: string): ParentClaims | undefined;
  /** True when this exact claim (same parent, key and event) is held. */
  holds(a: Approval): boolean;
  /** Records a signed (verified) claim. */
  record(a: Approval): Recorded;
  /**
   * Forgets one claim of an undecided parent (a held object evicted from its pool). Returns true
   * when the approval was held as a claim.
   */
  forget(a: Approval): boolean;
  /**
   * Marks `parent` decided: drops the claims of keys for which `keep` is false and returns the
   * approvals dropped and kept.
   */
  decide(parent: string, keep: (key: string) => boolean): { dropped: Approval[]; kept: Approval[] };
  /** Evidence of every equivocation at a decided parent. */
  evidence(): Evidence[];
  /** Equivocating keys at a decided parent, sorted. */
  equivocators(parent: string): string[];
}

interface MutableParentClaims {
  byKey: Map<string, KeyClaims>;
  /** Shared and empty until the first equivocation here (most parents have none). */
  excluded: Set<string>;
  version: number;
  decided: boolean;
}

// The excluded set of every parent without equivocators; never written (writers copy first).
const NONE: Set<string> = new Set();

/** Builds an evidence object from two approvals by one key of two children of one parent. */
export function evidenceOf(a: Approval, b: Approval): Evidence {
  const [first, second] = a.event < b.event ? [a, b] : [b, a];
  return checkObject({ type: "evidence", v: 1, first, second }, "evidence");
}

/** A new, empty claim table. `isDecided(parent)` says whether a parent's state is known. */
export function createClaimTable(isDecided: (parent: string) => boolean): ClaimTable {
  const parents = new Map<string, MutableParentClaims>();

  function holds(a: Approval): boolean {
    const c = parents.get(a.parent)?.byKey.get(a.key);
    return c !== undefined && (c.first.event === a.event || c.second?.event === a.event);
  }

  return {
    at: (parent) => parents.get(parent),
    holds,

    record(a) {
      let pc = parents.get(a.parent);
      if (pc === undefined) {
        pc = { byKey: new Map(), excluded: NONE, version: 0, decided: isDecided(a.parent) };
        parents.set(a.parent, pc);
      }
      const c = pc.byKey.get(a.key);
      if (c === undefined) {
        pc.byKey.set(a.key, { first: a, second: undefined });
        return { fresh: true, equivocated: false };
      }
      if (c.first.event === a.event || c.second?.event === a.event) {
        return { fresh: false, equivocated: false };
      }
      // Keep the two lowest event ids: a third claim changes nothing unless it is lower.
      let next: KeyClaims;
      if (a.event < c.first.event) next = { first: a, second: c.first };
      else if (c.second === undefined || a.event < c.second.event) {
        next = { first: c.first, second: a };
      } else return { fresh: true, equivocated: false };
      pc.byKey.set(a.key, next);
      if (c.second !== undefined) return { fresh: true, equivocated: false };
      if (pc.excluded === NONE) pc.excluded = new Set();
      pc.excluded.add(a.key);
      pc.version++;
      return { fresh: true, equivocated: true };
    },

    forget(a) {
      const pc = parents.get(a.parent);
      const c = pc?.byKey.get(a.key);
      if (pc === undefined || c === undefined) return false;
      if (c.first.event === a.event) {
        if (c.second === undefined) pc.byKey.delete(a.key);
        else pc.byKey.set(a.key, { first: c.second, second: undefined });
      } else if (c.second?.event === a.event) {
        pc.byKey.set(a.key, { first: c.first, second: undefined });
      } else return false;
      if (c.second !== undefined) {
        pc.excluded.delete(a.key);
        pc.version++;
      }
      if (pc.byKey.size === 0 && !pc.decided) parents.delete(a.parent);
      return true;
    },

    decide(parent, keep) {
      const dropped: Approval[] = [];
      const kept: Approval[] = [];
      // A parent without claims needs no entry: a claim recorded later asks isDecided().
      const pc = parents.get(parent);
      if (pc === undefined) return { dropped, kept };
      if (pc.decided) return { dropped, kept };
      pc.decided = true;
      for (const [key, c] of pc.byKey) {
        const out = keep(key) ? kept : dropped;
        out.push(c.first);
        if (c.second !== undefined) out.push(c.second);
        if (out === dropped) {
          pc.byKey.delete(key);
          pc.excluded.delete(key);
        }
      }
      pc.version++;
      return { dropped, kept };
    },

    evidence() {
      const out: Evidence[] = [];
      for (const pc of parents.values()) {
        if (!pc.decided) continue;
        for (const key of pc.excluded) {
          const c = pc.byKey.get(key)!;
          out.push(evidenceOf(c.first, c.second!));
        }
      }
      return out;
    },

    equivocators(parent) {
      const pc = parents.get(parent);
      return pc?.decided ? [...pc.excluded].sort() : [];
    },
  };
}

/**
 * Builds checkpoint equivocation evidence: two approvals by one key of two different checkpoints
 * (lower checkpoint id first). It proves equivocation together with the two checkpoints, when
 * they extend the same `prev` (docs/PROTOCOL.md §9).
 */
export function checkpointEvidenceOf(
  a: CheckpointApproval,
  b: CheckpointApproval,
): CheckpointEvidence {
  const [first, second] = a.checkpoint < b.checkpoint ? [a, b] : [b, a];
  return checkObject({ type: "checkpoint-evidence", v: 1, first, second }, "checkpoint-evidence");
}

/**
 * Keys that approved two or more of `candidates` (checkpoints extending one `prev`), with the two
 * approvals of the lowest checkpoint ids of each.
 */
export function checkpointEquivocators(
  candidates: ReadonlyArray<
    { readonly id: string; readonly approvals: ReadonlyMap<string, CheckpointApproval> }
  >,
): Map<string, [CheckpointApproval, CheckpointApproval]> {
  const seen = new Map<string, CheckpointApproval[]>();
  for (const c of [...candidates].sort((x, y) => (x.id < y.id ? -1 : 1))) {
    for (const [key, a] of c.approvals) {
      let list = seen.get(key);
      if (!list) seen.set(key, list = []);
      if (list.length < 2) list.push(a);
    }
  }
  const out = new Map<string, [CheckpointApproval, CheckpointApproval]>();
  for (const [key, list] of seen) if (list.length === 2) out.set(key, [list[0], list[1]]);
  return out;
}
