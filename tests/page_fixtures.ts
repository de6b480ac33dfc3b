/**
 * Shared fixtures of the signed-page tests: deterministic keys, a seeded PRNG, small pages.
 *
 * @module
 */
import { publicKeyOf, sha256 } from "../lib/crypto/mod.ts";
import {
  approve,
  createGenesis,
  type Genesis,
  type Governance,
  type JsonObject,
  type PageEvent,
  type Participant,
} from "../lib/page/mod.ts";

/** A deterministic key pair with its hex public key. */
export interface TestKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  hex: string;
}

const keyCache = new Map<number, TestKey>();

/** The i-th deterministic test key (secret = SHA-256("djdns test key i")). */
export function key(i: number): TestKey {
  let k = keyCache.get(i);
  if (!k) {
    const secretKey = sha256(new TextEncoder().encode(`djdns test key ${i}`));
    const publicKey = publicKeyOf(secretKey);
    k = { secretKey, publicKey, hex: publicKey.toHex() };
    keyCache.set(i, k);
  }
  return k;
}

/** Mulberry32, seeded, so property-test failures reproduce from the seed. */
export { prng } from "./helpers/prng.ts";

/** Integer in [0, n). */
export function pick(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

/** Fisher-Yates shuffle (new array). */
export function shuffle<T>(rand: () => number, xs: readonly T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = pick(rand, i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A branch answering `name` with an A record. */
export function branch(name: string, ip = "192.0.2.1"): JsonObject {
  return {
    selector: `^${name.replaceAll(".", "\\.")}$`,
    targets: [],
    records: [{ domain_name: name, rtype: "A", rdata: ip }],
  };
}

/**
 * A genesis with participants key(0..n-1), weights given (default 1 each) and optional
 * per-participant extra fields (delegations).
 */
export function genesisOf(
  n: number,
  opts: {
    weights?: number[];
    extra?: Record<number, Partial<Participant>>;
    content?: number;
    membership?: number;
    branches?: JsonObject[];
    nonce?: string;
  } = {},
): Genesis {
  const participants: Record<string, Participant> = {};
  for (let i = 0; i < n; i++) {
    participants[key(i).hex] = { weight: opts.weights?.[i] ?? 1, ...opts.extra?.[i] };
  }
  return createGenesis({
    participants,
    thresholds: { content: opts.content, membership: opts.membership },
    branches: opts.branches ?? [branch("a.example")],
    nonce: opts.nonce,
  });
}

/** Approvals of `event` by the keys with the given indexes. */
export function approvals(event: PageEvent, who: number[]) {
  return who.map((i) => approve(key(i).secretKey, event));
}

/**
 * Vote power by the rules of docs/PROTOCOL.md §7, written from the text alone and as plainly as
 * possible (no tables, no pruning, every simple path walked): the independent reference the
 * engine's counting is checked against. Fractions are read as parts per million; every share is
 * rounded down at each hop; power reaching a key that is not a participant or an equivocator, or
 * going around a cycle or beyond 4 hops, is lost.
 */
export function referencePower(
  g: Governance,
  approvers: ReadonlySet<string>,
  excluded: ReadonlySet<string>,
): number {
  const ps = g.participants;
  const isP = (k: string) => Object.hasOwn(ps, k);
  let total = 0n;
  const walk = (k: string, amount: bigint, hops: number, path: string[]): bigint => {
    const d = ps[k].delegations;
    if (d === undefined || hops >= 4) return 0n;
    let sum = 0n;
    for (const to of Object.keys(d).sort()) {
      if (!isP(to) || excluded.has(to) || path.includes(to) || to === k) continue;
      const share = amount * BigInt(Math.round(d[to] * 1e6)) / 1_000_000n;
      if (share === 0n) continue;
      sum += approvers.has(to) ? share : walk(to, share, hops + 1, [...path, k]);
    }
    return sum;
  };
  for (const k of Object.keys(ps)) {
    if (excluded.has(k)) continue;
    const own = BigInt(ps[k].weight) * 1_000_000n;
    total += approvers.has(k) ? own : walk(k, own, 0, []);
  }
  return Number(total);
}
