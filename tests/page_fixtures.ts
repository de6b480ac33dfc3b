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
