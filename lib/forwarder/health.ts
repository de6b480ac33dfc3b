/**
 * Which upstream to try first: a small per-upstream score of consecutive failures. Upstreams that
 * answered recently keep score 0 and stay in front; a failing one sinks behind them until it
 * answers again (it is still tried when the better ones fail, so it can recover).
 *
 * @module
 */
import { canonicalHost } from "../dns/ip.ts";
import type { Upstream } from "./types.ts";

/** Consecutive failures counted at most; enough to order a handful of upstreams. */
const MAX_FAILURES = 8;

/** Per-upstream health, as returned by {@linkcode createHealth}. */
export interface Health {
  /** `upstreams` ordered best first; ties keep the given order. */
  order(upstreams: readonly Upstream[]): Upstream[];
  /** Records an accepted answer from `upstream`. */
  success(upstream: Upstream): void;
  /** Records a failed try of `upstream`. */
  failure(upstream: Upstream): void;
}

/**
 * Creates an empty health table remembering at most `maxTracked` upstreams (per-query upstreams
 * come from pages, so the table must not grow with them); the oldest entry is forgotten first.
 */
export function createHealth(maxTracked = 256): Health {
  const failures = new Map<string, number>();
  const keyOf = (u: Upstream) => `${u.protocol ?? "dns"}:${canonicalHost(u.host)}#${u.port}`;
  const score = (u: Upstream) => failures.get(keyOf(u)) ?? 0;
  const record = (u: Upstream, value: number) => {
    const key = keyOf(u);
    failures.delete(key);
    if (value === 0) return; // an unknown upstream already counts as healthy
    if (failures.size >= maxTracked) failures.delete(failures.keys().next().value!);
    failures.set(key, value);
  };
  return {
    order(upstreams) {
      return upstreams
        .map((u, i) => ({ u, i, s: score(u) }))
        .sort((a, b) => a.s - b.s || a.i - b.i)
        .map((x) => x.u);
    },
    success(u) {
      record(u, 0);
    },
    failure(u) {
      record(u, Math.min(score(u) + 1, MAX_FAILURES));
    },
  };
}
