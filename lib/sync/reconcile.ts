/**
 * Range-based set reconciliation over object ids (the shape of Negentropy): two peers find the
 * ids one holds and the other lacks by exchanging fingerprints of id ranges, splitting only the
 * ranges whose fingerprints differ. A round trip costs O(d · B) ranges for d differences, and
 * a reconciliation takes O(log_B n) round trips, so the bytes are proportional to the difference
 * (times a logarithm), never to the size of the set.
 *
 * Pure logic: no I/O, no clock.
 *
 * A message is a list of consecutive ranges covering every id: range i is [upper of range i-1,
 * upper of range i), the first starting at "" and the last ending at {@linkcode END}. Each range
 * is `skip` (nothing to do), `fp` (the sender's fingerprint and count over the range) or `ids`
 * (every id the sender holds in the range). See docs/PROTOCOL.md §15.
 *
 * @module
 */
import { sha256 } from "../crypto/mod.ts";

/** Upper bound above every id (ids are lowercase hex, and "~" sorts after them). */
export const END = "~";
/** A side whose range holds at most this many ids sends them instead of splitting. */
export const ID_LIST_THRESHOLD = 32;
/** Sub-ranges a differing range is split into. */
export const BRANCHING = 16;
/** Most ranges accepted in one message. */
export const MAX_RANGES = 4096;
/** Most ids accepted in one message (over all its ranges). */
export const MAX_IDS = 8192;

/** One range of a reconciliation message. */
export type Range =
  | { readonly u: string; readonly m: "skip" }
  | { readonly u: string; readonly m: "fp"; readonly fp: string; readonly n: number }
  | { readonly u: string; readonly m: "ids"; readonly ids: readonly string[] };

const ID = /^[0-9a-f]{64}$/;
const FP = /^[0-9a-f]{32}$/;
const MOD = 1n << 256n;

/** A sorted set of ids with range fingerprints (prefix sums, rebuilt after changes). */
export interface IdSet {
  /** Number of ids. */
  readonly size: number;
  /** Whether the set holds `id`. */
  has(id: string): boolean;
  /** Adds an id (64 hex); returns false when it was there. */
  add(id: string): boolean;
  /** Removes an id; returns whether it was there. */
  delete(id: string): boolean;
  /** The ids in [lo, hi), sorted. */
  slice(lo: string, hi: string): string[];
  /** Fingerprint and count of [lo, hi). */
  fingerprint(lo: string, hi: string): { fp: string; n: number };
  /** All ids, sorted. */
  all(): readonly string[];
}

/** An {@linkcode IdSet} holding `ids`. */
export function createIdSet(ids: Iterable<string> = []): IdSet {
  const sorted = [...new Set(ids)].sort();
  const members = new Set(sorted);
  let prefix: bigint[] | null = null;

  function lowerBound(x: string): number {
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function sums(): bigint[] {
    if (prefix === null) {
      prefix = new Array(sorted.length + 1);
      prefix[0] = 0n;
      for (let i = 0; i < sorted.length; i++) {
        prefix[i + 1] = (prefix[i] + BigInt("0x" + sorted[i])) % MOD;
      }
    }
    return prefix;
  }

  return {
    get size() {
      return sorted.length;
    },
    has: (id) => members.has(id),
    add(id) {
      if (members.has(id)) return false;
      members.add(id);
      sorted.splice(lowerBound(id), 0, id);
      prefix = null;
      return true;
    },
    delete(id) {
      if (!members.delete(id)) return false;
      sorted.splice(lowerBound(id), 1);
      prefix = null;
      return true;
    },
    slice: (lo, hi) => sorted.slice(lowerBound(lo), lowerBound(hi)),
    fingerprint(lo, hi) {
      const i = lowerBound(lo), j = lowerBound(hi);
      const p = sums();
      return { fp: fingerprintOf((p[j] - p[i] + MOD) % MOD, j - i), n: j - i };
    },
    all: () => sorted,
  };
}

/** Fingerprint of a range: SHA-256 of (sum of ids mod 2^256, count), first 16 bytes in hex. */
function fingerprintOf(sum: bigint, n: number): string {
  const text = `${sum.toString(16).padStart(64, "0")}:${n}`;
  return sha256(new TextEncoder().encode(text)).subarray(0, 16).toHex();
}

/** The first message of a reconciliation: the whole set as one range. */
export function initiate(set: IdSet): Range[] {
  return [summarize(set, "", END)];
}

function summarize(set: IdSet, lo: string, hi: string, max = ID_LIST_THRESHOLD): Range {
  const { fp, n } = set.fingerprint(lo, hi);
  return n <= max ? { u: hi, m: "ids", ids: set.slice(lo, hi) } : { u: hi, m: "fp", fp, n };
}

/** [lo, hi) split into up to {@linkcode BRANCHING} ranges of about equal numbers of our ids. */
function split(set: IdSet, lo: string, hi: string): Range[] {
  const ids = set.slice(lo, hi);
  const out: Range[] = [];
  const per = Math.ceil(ids.length / BRANCHING);
  let start = lo;
  for (let i = per; i < ids.length; i += per) {
    // Sub-ranges go as fingerprints (a range of one id costs less as the id itself): most of
    // them match, and only the differing ones come back.
    out.push(summarize(set, start, ids[i], 1));
    start = ids[i];
  }
  out.push(summarize(set, start, hi, 1));
  return out;
}

/** What one side learned: ids the other side holds that we lack, and ids we hold it lacks. */
export interface Diff {
  /** Ids to ask the other side for. */
  readonly need: Set<string>;
  /** Ids to give the other side. */
  readonly have: Set<string>;
}

/**
 * Processes a received message and returns the reply (ranges), merging adjacent skips. The
 * responder (`diff` undefined) answers an id list with its own ids for that range; the
 * initiator (`diff` given) records the difference for an id list and is done with that range.
 * The initiator's reconciliation is complete when the returned message is all `skip`
 * ({@linkcode isDone}). Throws {@linkcode ReconcileError} for a malformed message.
 */
export function reconcile(set: IdSet, message: unknown, diff?: Diff): Range[] {
  const ranges = checkRanges(message);
  const out: Range[] = [];
  let lo = "";
  let ids = 0;
  // A reply stays within the limits the other side accepts: once it is large, differing ranges
  // are answered with our own fingerprint (unsplit), and are split in a later round.
  const full = () => out.length > MAX_RANGES - 2 * BRANCHING || ids > MAX_IDS - 2 * BRANCHING * 32;
  const differ = (lo: string, hi: string) => {
    const { fp, n } = set.fingerprint(lo, hi);
    if (full()) out.push({ u: hi, m: "fp", fp, n });
    else if (n <= ID_LIST_THRESHOLD) {
      ids += n;
      out.push({ u: hi, m: "ids", ids: set.slice(lo, hi) });
    } else {
      for (const r of split(set, lo, hi)) {
        if (r.m === "ids") ids += r.ids.length;
        out.push(r);
      }
    }
  };
  for (const r of ranges) {
    if (r.m === "fp") {
      const mine = set.fingerprint(lo, r.u);
      if (mine.fp === r.fp && mine.n === r.n) out.push({ u: r.u, m: "skip" });
      else differ(lo, r.u);
    } else if (r.m === "ids") {
      const mine = set.slice(lo, r.u);
      if (diff === undefined) {
        differ(lo, r.u);
      } else {
        const theirs = new Set(r.ids);
        for (const id of r.ids) if (!set.has(id)) diff.need.add(id);
        for (const id of mine) if (!theirs.has(id)) diff.have.add(id);
        out.push({ u: r.u, m: "skip" });
      }
    } else {
      out.push({ u: r.u, m: "skip" });
    }
    lo = r.u;
  }
  return mergeSkips(out);
}

/** True when a message asks for nothing more (every range is `skip`). */
export function isDone(ranges: readonly Range[]): boolean {
  return ranges.every((r) => r.m === "skip");
}

function mergeSkips(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (r.m === "skip" && last?.m === "skip") out[out.length - 1] = r;
    else out.push(r);
  }
  return out;
}

/** A malformed reconciliation message. */
export class ReconcileError extends Error {
  override name = "ReconcileError";
}

/** Validates a received message: bounded, well-formed, bounds increasing, ending at END. */
export function checkRanges(message: unknown): Range[] {
  if (!Array.isArray(message) || message.length === 0 || message.length > MAX_RANGES) {
    throw new ReconcileError(`ranges: a list of 1..${MAX_RANGES} ranges`);
  }
  let prev = "";
  let ids = 0;
  message.forEach((r: unknown, i: number) => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw new ReconcileError(`range ${i}: not an object`);
    }
    const o = r as Record<string, unknown>;
    const u = o.u;
    if (typeof u !== "string" || (u !== END && !ID.test(u)) || u <= prev) {
      throw new ReconcileError(`range ${i}: bad or non-increasing upper bound`);
    }
    const lower = prev;
    prev = u;
    const keys = Object.keys(o).sort().join(",");
    if (o.m === "skip") {
      if (keys !== "m,u") throw new ReconcileError(`range ${i}: unknown fields`);
    } else if (o.m === "fp") {
      if (keys !== "fp,m,n,u" || typeof o.fp !== "string" || !FP.test(o.fp)) {
        throw new ReconcileError(`range ${i}: bad fingerprint`);
      }
      if (!Number.isSafeInteger(o.n) || (o.n as number) < 0) {
        throw new ReconcileError(`range ${i}: bad count`);
      }
    } else if (o.m === "ids") {
      if (keys !== "ids,m,u" || !Array.isArray(o.ids)) {
        throw new ReconcileError(`range ${i}: bad id list`);
      }
      ids += o.ids.length;
      if (ids > MAX_IDS) throw new ReconcileError(`more than ${MAX_IDS} ids in one message`);
      let last = "";
      for (const id of o.ids) {
        if (typeof id !== "string" || !ID.test(id) || id <= last || id < lower || id >= u) {
          throw new ReconcileError(`range ${i}: ids must be sorted, unique 64-hex ids in range`);
        }
        last = id;
      }
    } else {
      throw new ReconcileError(`range ${i}: unknown mode`);
    }
  });
  if (prev !== END) throw new ReconcileError(`ranges must end at "${END}"`);
  return message as Range[];
}
