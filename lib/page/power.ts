/**
 * Counting vote power with delegation ("digitally distributed democracy").
 *
 * Power flows on the delegation graph fixed by the parent state. A participant that approved
 * counts its own power directly (its approval overrides its delegations for this event). One that
 * did not passes its power to its delegates by their fractions; a delegate that did not approve
 * passes on what it received the same way, for at most {@linkcode MAX_DELEGATION_HOPS} edges.
 * Power that would come back to a participant already on its path (a cycle), that goes to a key
 * that is not a participant, to an equivocator, beyond the hop limit, or that is not delegated at
 * all, is lost. Amounts are integers in micro-weight (weight × 10^6), rounded down at each hop,
 * so every node computes the same number.
 *
 * Monotone: a new approval by X stops at X every path through X, and X then counts all that
 * reached it instead of at most that much further on; so more approvals never lower the count.
 *
 * Work is proportional to the approvals, not to the page (docs/PROTOCOL.md §7): a count walks
 * the delegation paths backwards from the approvers (no approvals, no work), and
 * {@linkcode addApprover} gives the change one more approval makes by walking only the paths
 * through the new approver.
 *
 * @module
 */
import type { VoteTable } from "./governance.ts";
import { MAX_DELEGATION_HOPS, PPM } from "./limits.ts";

/** `amount × ppm / 10^6` rounded down, exact for amount ≤ 2^53 (splits to stay below 2^53). */
function scale(amount: number, ppm: number): number {
  const hi = Math.floor(amount / PPM);
  const lo = amount - hi * PPM;
  const p = lo * ppm;
  return hi * ppm + (p - (p % PPM)) / PPM;
}

/** A work counter: delegation edges looked at (for tests and benchmarks). */
export interface PowerWork {
  /** Delegation edges examined so far. */
  steps: number;
}

type Keys = ReadonlySet<string> | ReadonlyMap<string, unknown>;

/**
 * The power `amount` starting at `from` (after `hops` edges, with `path` the keys before it)
 * brings to approvers, walking forwards.
 */
function flow(
  table: VoteTable,
  approvers: Keys,
  excluded: ReadonlySet<string>,
  from: string,
  amount: number,
  hops: number,
  path: string[],
  work: PowerWork,
): number {
  const edges = table.delegations.get(from);
  if (edges === undefined || hops >= MAX_DELEGATION_HOPS) return 0;
  path.push(from);
  let sum = 0;
  for (const [to, ppm] of edges) {
    work.steps++;
    if (!table.power.has(to) || excluded.has(to) || path.includes(to)) continue;
    const share = scale(amount, ppm);
    if (approvers.has(to)) sum += share;
    else if (share !== 0) sum += flow(table, approvers, excluded, to, share, hops + 1, path, work);
  }
  path.pop();
  return sum;
}

/**
 * Calls `visit(source, amount, chain)` for every delegation path that ends at `to`, walking
 * backwards: `chain` is `to` then the keys before it, nearest first, every one of them a key that
 * passes power on (not in `approvers`, not in `excluded`, each once), at most
 * {@linkcode MAX_DELEGATION_HOPS} edges; `amount` is the share of the source's power that
 * arrives at `to` along it, rounded down hop by hop from the source.
 */
function eachPathInto(
  table: VoteTable,
  approvers: Keys,
  excluded: ReadonlySet<string>,
  to: string,
  work: PowerWork,
  visit: (amount: number, chain: readonly string[]) => void,
): void {
  const chain: string[] = [to];
  const ppms: number[] = []; // ppms[i]: the fraction of the edge chain[i + 1] → chain[i]
  const back = (): void => {
    const edges = table.delegators.get(chain[chain.length - 1]);
    if (edges === undefined) return;
    for (const [d, ppm] of edges) {
      work.steps++;
      if (approvers.has(d) || excluded.has(d) || chain.includes(d)) continue;
      chain.push(d);
      ppms.push(ppm);
      let amount = table.power.get(d)!;
      for (let i = ppms.length - 1; i >= 0 && amount > 0; i--) amount = scale(amount, ppms[i]);
      // A zero share stops a path going forwards: nothing arrives along it.
      if (amount > 0) visit(amount, chain);
      if (ppms.length < MAX_DELEGATION_HOPS) back();
      chain.pop();
      ppms.pop();
    }
  };
  back();
}

const NO_WORK: PowerWork = { steps: 0 };

/**
 * The vote power (micro-weight) approving one event under `table`: `approvers` are the keys that
 * approved it (a set, or a map keyed by them), `excluded` the equivocators at its parent (their
 * own power, and power delegated through them, counts for nobody). Keys that are not participants
 * are ignored. `work`, when given, counts the delegation edges examined.
 *
 * Every path of delegated power ends at the first approver it reaches, so the count walks the
 * paths backwards from each approver (through keys that pass power on, within the hop limit): it
 * examines only the delegations that bring something, and nothing when nobody approved.
 */
export function countPower(
  table: VoteTable,
  approvers: Keys,
  excluded: ReadonlySet<string>,
  work: PowerWork = NO_WORK,
): number {
  let total = 0;
  for (const key of approvers.keys()) {
    const own = table.power.get(key);
    if (own === undefined || excluded.has(key)) continue;
    total += own;
    eachPathInto(table, approvers, excluded, key, work, (amount) => total += amount);
  }
  return total;
}

/**
 * How much the power of an event changes when `key` approves it too: `approvers` (without
 * `key`) and `excluded` as for {@linkcode countPower}, so that
 * `countPower(t, A ∪ {key}, Q) = countPower(t, A, Q) + addApprover(t, A, Q, key)`.
 * Walks only the delegation paths that pass through `key` (backwards to their sources within
 * the hop limit, and on from `key` as they went before).
 */
export function addApprover(
  table: VoteTable,
  approvers: Keys,
  excluded: ReadonlySet<string>,
  key: string,
  work: PowerWork = NO_WORK,
): number {
  const own = table.power.get(key);
  if (own === undefined || excluded.has(key) || approvers.has(key)) return 0;
  // With no approvers before, nothing went on from `key`: what arrives there is all new.
  const before = approvers.size > 0;
  // `key` counts its own power now, instead of what it passed on.
  let delta = own - (before ? flow(table, approvers, excluded, key, own, 0, [], work) : 0);
  // Every path p → … → key (through keys that passed power on) now stops at `key`: what arrived
  // there counts, instead of what went on from there.
  eachPathInto(table, approvers, excluded, key, work, (amount, chain) => {
    delta += amount;
    if (before) {
      const path = chain.slice(1).reverse(); // the source … the key just before `key`
      delta -= flow(table, approvers, excluded, key, amount, path.length, path, work);
    }
  });
  return delta;
}

/** True when `power` (micro-weight) reaches `ppm` parts per million of the total weight. */
export function reaches(table: VoteTable, power: number, ppm: number): boolean {
  // Both sides are integers below 2^53 (total weight ≤ 10^9, ppm ≤ 10^6): exact comparison.
  return power >= ppm * table.totalWeight;
}
