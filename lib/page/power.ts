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

/**
 * The vote power (micro-weight) approving one event under `table`: `approvers` are the keys that
 * approved it (a set, or a map keyed by them), `excluded` the equivocators at its parent (their own power, and power delegated
 * through them, counts for nobody). Keys that are not participants are ignored.
 */
export function countPower(
  table: VoteTable,
  approvers: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  excluded: ReadonlySet<string>,
): number {
  let total = 0;
  for (const key of approvers.keys()) {
    const p = table.power.get(key);
    if (p !== undefined && !excluded.has(key)) total += p;
  }
  if (table.delegations.size === 0) return total;
  const path: string[] = [];
  const flow = (node: string, amount: number, hops: number): number => {
    const edges = table.delegations.get(node);
    if (edges === undefined || hops >= MAX_DELEGATION_HOPS) return 0;
    path.push(node);
    let sum = 0;
    for (const [to, ppm] of edges) {
      if (!table.power.has(to) || excluded.has(to) || path.includes(to)) continue;
      const share = scale(amount, ppm);
      if (share === 0) continue;
      sum += approvers.has(to) ? share : flow(to, share, hops + 1);
    }
    path.pop();
    return sum;
  };
  for (const [key] of table.delegations) {
    if (approvers.has(key) || excluded.has(key)) continue;
    total += flow(key, table.power.get(key)!, 0);
  }
  return total;
}

/** True when `power` (micro-weight) reaches `ppm` parts per million of the total weight. */
export function reaches(table: VoteTable, power: number, ppm: number): boolean {
  // Both sides are integers below 2^53 (total weight ≤ 10^9, ppm ≤ 10^6): exact comparison.
  return power >= ppm * table.totalWeight;
}
