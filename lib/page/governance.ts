/**
 * The governance section of a page state: who may vote, with what weight, to whom each hands its
 * power while away, and the two thresholds. Validation is strict (unknown fields refused) because
 * everything that decides vote power lives here and every node must read it the same way.
 *
 * @module
 */
import type { Json } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import {
  MAX_DELEGATES,
  MAX_ENDPOINTS,
  MAX_LABEL_LENGTH,
  MAX_PARTICIPANTS,
  MAX_TOTAL_WEIGHT,
  PPM,
} from "./limits.ts";

/** Default Track 1 (content) threshold: a little over 30 % of the vote power. */
export const DEFAULT_CONTENT_THRESHOLD = 0.34;
/** Default Track 2 (membership) threshold: about 70 % of the vote power. */
export const DEFAULT_MEMBERSHIP_THRESHOLD = 0.7;

/** One participant's entry, keyed in `participants` by its lowercase hex Ed25519 public key. */
export interface Participant {
  /** Vote weight, an integer in [0, {@linkcode MAX_TOTAL_WEIGHT}]. */
  readonly weight: number;
  /** Optional human name. */
  readonly name?: string;
  /** Optional network endpoints where this participant's node gossips (free-form strings). */
  readonly endpoints?: readonly string[];
  /** Delegate public key (hex) → fraction of power in (0, 1], multiples of 10^-6, sum ≤ 1. */
  readonly delegations?: { readonly [key: string]: number };
}

/** The two thresholds, fractions of the total vote weight in (0, 1], multiples of 10^-6. */
export interface Thresholds {
  /** Track 1: changes to `meta` and `branches`. */
  readonly content: number;
  /** Track 2: changes to `governance` (and checkpoints). */
  readonly membership: number;
}

/** The governance section of a page state. */
export interface Governance {
  /** Participants keyed by lowercase hex public key; at least one, total weight ≥ 1. */
  readonly participants: { readonly [key: string]: Participant };
  /** Thresholds of the two tracks. */
  readonly thresholds: Thresholds;
}

/**
 * Governance compiled for counting votes: weights in micro-units (weight × 10^6) so that
 * fractions of 10^-6 stay integers, and delegation edges as arrays.
 */
export interface VoteTable {
  /** Total weight (integer, not scaled). */
  readonly totalWeight: number;
  /** Threshold numerators in parts per million. */
  readonly contentPpm: number;
  /** Membership threshold in parts per million. */
  readonly membershipPpm: number;
  /** Participant key → weight × 10^6. */
  readonly power: ReadonlyMap<string, number>;
  /** Participant key → its delegations as [delegate, ppm] pairs sorted by delegate key. */
  readonly delegations: ReadonlyMap<string, ReadonlyArray<readonly [string, number]>>;
  /** Delegate key → the participants delegating to it, as [delegator, ppm] pairs. */
  readonly delegators: ReadonlyMap<string, ReadonlyArray<readonly [string, number]>>;
}

/** 64 lowercase hex digits: a raw 32-byte key or SHA-256 id. */
export const HEX32 = /^[0-9a-f]{64}$/;

function fail(where: string, what: string): never {
  throw new SignedPageError("invalid-state", `${where}: ${what}`);
}

function isObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(where, `unknown field '${k}'`);
  }
}

/**
 * Parts per million of a fraction in (0, 1] written with at most six decimals. Exact: 0.34 is
 * 340000, never 339999.99…; anything finer (0.3333333) is refused rather than rounded.
 */
export function fractionPpm(value: unknown, where: string): number {
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    fail(where, "must be a number in (0, 1]");
  }
  const ppm = Math.round(value * PPM);
  if (ppm / PPM !== value) fail(where, "must be a multiple of 0.000001");
  return ppm;
}

function label(v: unknown, where: string): void {
  // Control characters would let a name or endpoint forge lines in logs and `page show`.
  if (
    typeof v !== "string" || v.length === 0 || v.length > MAX_LABEL_LENGTH ||
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f]/.test(v)
  ) {
    fail(where, `must be 1..${MAX_LABEL_LENGTH} characters without control characters`);
  }
}

function checkParticipant(key: string, p: unknown, where: string): number {
  if (!HEX32.test(key)) fail(where, "participant key must be 64 lowercase hex digits");
  if (!isObject(p)) fail(where, "participant must be an object");
  onlyKeys(p, ["weight", "name", "endpoints", "delegations"], where);
  const w = p.weight;
  if (typeof w !== "number" || !Number.isInteger(w) || w < 0 || w > MAX_TOTAL_WEIGHT) {
    fail(`${where}.weight`, `must be an integer in [0, ${MAX_TOTAL_WEIGHT}]`);
  }
  if (p.name !== undefined) label(p.name, `${where}.name`);
  if (p.endpoints !== undefined) {
    const e = p.endpoints;
    if (!Array.isArray(e) || e.length > MAX_ENDPOINTS) {
      fail(`${where}.endpoints`, `must be a list of at most ${MAX_ENDPOINTS} strings`);
    }
    e.forEach((s, i) => label(s, `${where}.endpoints[${i}]`));
  }
  if (p.delegations !== undefined) {
    const d = p.delegations;
    if (!isObject(d)) fail(`${where}.delegations`, "must be an object");
    const keys = Object.keys(d);
    if (keys.length === 0 || keys.length > MAX_DELEGATES) {
      fail(`${where}.delegations`, `must name 1..${MAX_DELEGATES} delegates`);
    }
    let sum = 0;
    for (const k of keys) {
      if (!HEX32.test(k)) fail(`${where}.delegations`, `delegate '${k}' is not a 64-hex key`);
      if (k === key) fail(`${where}.delegations`, "a participant cannot delegate to itself");
      sum += fractionPpm(d[k], `${where}.delegations.${k}`);
    }
    if (sum > PPM) fail(`${where}.delegations`, "fractions add up to more than 1");
  }
  return w;
}

/**
 * Validates a governance section. Throws `SignedPageError` ("invalid-state") naming the field at
 * fault (`state.governance.participants.<key>.weight: ...`). Delegates need not be participants:
 * power handed to a key that is not (or no longer) a participant is simply lost, so removing a
 * participant never needs the consent of those who delegated to it.
 */
export function validateGovernance(value: unknown, where = "governance"): Governance {
  return checkGovernance(value, where, undefined);
}

/**
 * {@linkcode validateGovernance} for the governance left by an event applied to a state whose
 * governance `prev` is valid: participant entries shared with `prev` (copy-on-write keeps every
 * entry the event did not touch) are not checked again, so the cost follows what changed, not
 * the size of the participant table.
 */
export function validateNextGovernance(
  prev: Governance,
  value: unknown,
  where = "governance",
): Governance {
  const g = checkGovernance(value, where, prev);
  // Its vote table, when asked for, is derived from prev's (see voteTable).
  if (g !== prev) derivedFrom.set(g, prev);
  return g;
}

/** Governance made by an event → the valid governance it was made from. */
const derivedFrom = new WeakMap<Governance, Governance>();

function checkGovernance(value: unknown, where: string, prev: Governance | undefined): Governance {
  if (!isObject(value)) fail(where, "must be an object");
  onlyKeys(value, ["participants", "thresholds"], where);
  const ps = value.participants;
  if (!isObject(ps)) fail(`${where}.participants`, "must be an object keyed by public key");
  const before = prev?.participants as Record<string, unknown> | undefined;
  if (ps !== before) {
    const keys = Object.keys(ps);
    if (keys.length === 0) fail(`${where}.participants`, "a page needs at least one participant");
    if (keys.length > MAX_PARTICIPANTS) {
      fail(`${where}.participants`, `more than ${MAX_PARTICIPANTS} participants`);
    }
    let total = 0;
    for (const k of keys) {
      const p = ps[k];
      // An entry shared with the valid previous governance, under the same key, is valid.
      total += before !== undefined && before[k] === p && Object.hasOwn(before, k)
        ? (p as unknown as Participant).weight
        : checkParticipant(k, p, `${where}.participants.${k}`);
    }
    if (total < 1 || total > MAX_TOTAL_WEIGHT) {
      fail(`${where}.participants`, `total weight must be in [1, ${MAX_TOTAL_WEIGHT}]`);
    }
  }
  const t = value.thresholds;
  if (!isObject(t)) fail(`${where}.thresholds`, "must be an object");
  onlyKeys(t, ["content", "membership"], `${where}.thresholds`);
  fractionPpm(t.content, `${where}.thresholds.content`);
  fractionPpm(t.membership, `${where}.thresholds.membership`);
  return value as unknown as Governance;
}

const tables = new WeakMap<object, VoteTable>();

/**
 * The vote table of a validated governance section, cached per (immutable) governance object:
 * a page's governance changes rarely, so consecutive events share one table. The table of a
 * governance an event made from another is derived from that one's table, changing only the
 * participants the event changed (copying the maps is cheap next to building them).
 */
export function voteTable(g: Governance): VoteTable {
  let t = tables.get(g);
  if (t) return t;
  const prev = derivedFrom.get(g);
  const pt = prev && tables.get(prev);
  t = pt !== undefined ? derive(pt, prev!, g) : build(g);
  tables.set(g, t);
  return t;
}

type Edges = Array<readonly [string, number]>;

function edgesOf(p: Participant): Edges | undefined {
  if (!p.delegations) return undefined;
  return Object.keys(p.delegations).sort().map((d) =>
    [d, Math.round(p.delegations![d] * PPM)] as const
  );
}

function build(g: Governance): VoteTable {
  const power = new Map<string, number>();
  const delegations = new Map<string, Edges>();
  const delegators = new Map<string, Edges>();
  let totalWeight = 0;
  for (const [key, p] of Object.entries(g.participants)) {
    totalWeight += p.weight;
    power.set(key, p.weight * PPM);
    const edges = edgesOf(p);
    if (edges) {
      delegations.set(key, edges);
      for (const [d, ppm] of edges) {
        let back = delegators.get(d);
        if (!back) delegators.set(d, back = []);
        back.push([key, ppm]);
      }
    }
  }
  return {
    totalWeight,
    contentPpm: Math.round(g.thresholds.content * PPM),
    membershipPpm: Math.round(g.thresholds.membership * PPM),
    power,
    delegations,
    delegators,
  };
}

function derive(pt: VoteTable, prev: Governance, g: Governance): VoteTable {
  const thresholds = {
    contentPpm: Math.round(g.thresholds.content * PPM),
    membershipPpm: Math.round(g.thresholds.membership * PPM),
  };
  if (g.participants === prev.participants) return { ...pt, ...thresholds };
  const before = prev.participants;
  const after = g.participants;
  const power = new Map(pt.power);
  const delegations = new Map(pt.delegations);
  const delegators = new Map(pt.delegators);
  let totalWeight = pt.totalWeight;
  const remove = (key: string): void => {
    const p = power.get(key);
    if (p === undefined) return;
    totalWeight -= p / PPM;
    power.delete(key);
    const old = delegations.get(key);
    if (old === undefined) return;
    delegations.delete(key);
    for (const [d] of old) {
      const back = delegators.get(d)!.filter(([k]) => k !== key);
      if (back.length > 0) delegators.set(d, back);
      else delegators.delete(d);
    }
  };
  // Entries shared with prev (copy-on-write keeps every entry the event did not touch) are the
  // same participants: only the others change the table.
  for (const key of Object.keys(after)) {
    const p = after[key];
    if (Object.hasOwn(before, key) && before[key] === p) continue;
    remove(key);
    totalWeight += p.weight;
    power.set(key, p.weight * PPM);
    const edges = edgesOf(p);
    if (edges) {
      delegations.set(key, edges);
      for (const [d, ppm] of edges) delegators.set(d, [...(delegators.get(d) ?? []), [key, ppm]]);
    }
  }
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) remove(key);
  return { totalWeight, ...thresholds, power, delegations, delegators };
}
