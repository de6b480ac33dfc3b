/** Vote power with delegation: transitive, cycles lose the cyclic part, exact, monotone. */
import { equal, ok } from "node:assert/strict";
import { countPower, type Governance, validateGovernance } from "../lib/page/mod.ts";
import { voteTable } from "../lib/page/governance.ts";
import { key, pick, prng } from "./page_fixtures.ts";

const K = (i: number) => key(i).hex;
const M = 1_000_000;

function gov(
  weights: number[],
  delegations: Record<number, Record<number, number>> = {},
): Governance {
  const participants: Record<string, unknown> = {};
  weights.forEach((w, i) => {
    const d = delegations[i];
    participants[K(i)] = d
      ? {
        weight: w,
        delegations: Object.fromEntries(Object.entries(d).map(([j, f]) => [K(+j), f])),
      }
      : { weight: w };
  });
  return validateGovernance({ participants, thresholds: { content: 0.34, membership: 0.7 } });
}

function power(g: Governance, approvers: number[], excluded: number[] = []): number {
  return countPower(voteTable(g), new Set(approvers.map(K)), new Set(excluded.map(K)));
}

Deno.test("power: direct approvals count their weight; non-participants count nothing", () => {
  const g = gov([3, 5, 7]);
  equal(power(g, [0, 2]), 10 * M);
  equal(power(g, [9]), 0);
});

Deno.test("power: delegation by fractions, transitive, undelegated rest lost", () => {
  // 0 → 1 (60 %), 0 → 2 (10 %); 1 → 2 (100 %).
  const g = gov([10, 10, 10], { 0: { 1: 0.6, 2: 0.1 }, 1: { 2: 1 } });
  equal(power(g, [1]), 10 * M + 6 * M, "1 gets 60 % of 0");
  equal(power(g, [2]), 10 * M + (10 + 6) * M + 1 * M, "2 gets 1's all and 0's 10 % + 60 % via 1");
  equal(power(g, [1, 2]), 20 * M + 7 * M, "0's 30 % undelegated is lost");
});

Deno.test("power: a participant's own approval overrides its delegation", () => {
  const g = gov([10, 10], { 0: { 1: 1 } });
  equal(power(g, [1]), 20 * M);
  equal(power(g, [0]), 10 * M, "0 approved itself: nothing flows to 1");
  equal(power(g, [0, 1]), 20 * M);
});

Deno.test("power: a cycle loses only the cyclic part", () => {
  // 0 → 1 (100 %), 1 → 0 (50 %), 1 → 2 (50 %): of 0's power half reaches 2, half would loop.
  const g = gov([10, 10, 10], { 0: { 1: 1 }, 1: { 0: 0.5, 2: 0.5 } });
  equal(power(g, [2]), 10 * M + 5 * M + 5 * M);
  // A pure cycle of non-approvers counts nothing.
  const pure = gov([10, 10, 10], { 0: { 1: 1 }, 1: { 0: 1 } });
  equal(power(pure, [2]), 10 * M);
});

Deno.test("power: power travels at most four delegation hops", () => {
  const chain = gov([1, 1, 1, 1, 1, 1], {
    0: { 1: 1 },
    1: { 2: 1 },
    2: { 3: 1 },
    3: { 4: 1 },
    4: { 5: 1 },
  });
  // 0's power reaches 4 in four hops, not 5 in five.
  equal(power(chain, [4]), 5 * M);
  equal(power(chain, [5]), 5 * M, "1..4 reach 5 in at most four hops; 0 is five hops away");
});

Deno.test("power: equivocators' own and passed-through power is excluded", () => {
  const g = gov([10, 10, 10], { 0: { 1: 1 } });
  equal(power(g, [1, 2], [1]), 10 * M);
});

Deno.test("power: amounts are exact micro-weights rounded down per hop", () => {
  const g = gov([1, 1, 1], { 0: { 1: 0.333333 }, 1: { 2: 0.333333 } });
  equal(power(g, [1]), M + 333_333);
  // 0 → 1 → 2: floor(333333 × 0.333333) = 111110; plus 1's own third.
  equal(power(g, [2]), M + 111_110 + 333_333);
});

Deno.test("power: monotone — more approvals never lower the count (seeded random graphs)", () => {
  const runs = Number(Deno.env.get("PAGE_PROPERTY_RUNS") ?? 300);
  for (let seed = 1; seed <= runs; seed++) {
    const rand = prng(seed);
    const n = 2 + pick(rand, 9);
    const weights = Array.from({ length: n }, () => pick(rand, 20));
    weights[0] += 1;
    const dels: Record<number, Record<number, number>> = {};
    for (let i = 0; i < n; i++) {
      if (rand() < 0.6) {
        const d: Record<number, number> = {};
        let left = 1000;
        for (let t = 0; t < 1 + pick(rand, 3); t++) {
          const j = pick(rand, n);
          const share = 1 + pick(rand, left);
          if (j === i || d[j] !== undefined || left - share < 0) continue;
          d[j] = share / 1000;
          left -= share;
        }
        if (Object.keys(d).length > 0) dels[i] = d;
      }
    }
    const g = gov(weights, dels);
    const total = weights.reduce((a, b) => a + b, 0) * M;
    const order = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
    const excluded = rand() < 0.3 ? [pick(rand, n)] : [];
    let prev = 0;
    for (let k = 0; k <= n; k++) {
      const p = power(g, order.slice(0, k), excluded);
      ok(p >= prev, `seed ${seed}: ${p} < ${prev} after adding ${order[k - 1]}`);
      ok(p <= total, `seed ${seed}: ${p} exceeds total ${total}`);
      prev = p;
    }
    const all = weights.reduce((a, w, i) => a + (excluded.includes(i) ? 0 : w), 0) * M;
    equal(prev, all, `seed ${seed}: everyone approving counts every non-excluded weight`);
  }
});
