/**
 * Response rate limiting (RRL), as Knot and NSD do it: a spoofed-source flood must not turn
 * djdns into an amplifier. Responses over UDP to one network (IPv4 /24, IPv6 /56) are limited
 * to `rate` per second (a token bucket holding one second's worth); beyond that, every
 * `slip`-th response is sent truncated (TC=1, no records), so that a real client behind the
 * address retries over TCP and still gets its answer, and the others are dropped. `slip` 0 drops
 * them all, 1 truncates them all. Loopback is exempt (the caller decides who is exempt).
 *
 * Pure logic: the clock is an argument. The table is bounded by `maxEntries`; full, it forgets
 * networks whose bucket has refilled (idle ones), else the oldest.
 *
 * @module
 */
import { prefixKey } from "./prefix.ts";

/** Options of {@linkcode createRrl}. */
export interface RrlOptions {
  /** Responses per second per network; 0 disables the limit. */
  rate: number;
  /** Of the responses over the limit, every `slip`-th goes out truncated; 0: none. */
  slip: number;
  /** IPv4 prefix length of a network (default 24). */
  v4Prefix?: number;
  /** IPv6 prefix length of a network (default 56). */
  v6Prefix?: number;
  /** Networks tracked at most (default 65,536). */
  maxEntries?: number;
}

/** Defaults of the `--rrl-rate` and `--rrl-slip` options. */
export const DEFAULT_RRL = Object.freeze({ rate: 100, slip: 2 });

/** What to do with one response. */
export type RrlAction = "send" | "slip" | "drop";

/** A rate limiter, from {@linkcode createRrl}. */
export interface Rrl {
  /** Decides for a response to `address` at `nowMs` (any monotonic clock in ms). */
  decide(address: string, nowMs: number): RrlAction;
  /** Networks being tracked. */
  readonly entries: number;
  /** Responses slipped (truncated) and dropped so far. */
  readonly stats: { slipped: number; dropped: number };
}

interface Bucket {
  tokens: number;
  at: number;
  limited: number;
}

/** Creates a limiter. */
export function createRrl(options: RrlOptions): Rrl {
  const { rate, slip } = options;
  const v4 = options.v4Prefix ?? 24;
  const v6 = options.v6Prefix ?? 56;
  const maxEntries = options.maxEntries ?? 65_536;
  const buckets = new Map<string, Bucket>();
  const stats = { slipped: 0, dropped: 0 };
  let sweptAt = -Infinity;

  const makeRoom = (now: number) => {
    // A full sweep at most once a second; in between, the oldest network goes.
    if (now - sweptAt >= 1000) {
      sweptAt = now;
      for (const [k, b] of buckets) {
        if (b.tokens + ((now - b.at) * rate) / 1000 >= rate) buckets.delete(k);
      }
    }
    if (buckets.size >= maxEntries) buckets.delete(buckets.keys().next().value!);
  };

  return {
    decide(address, now) {
      if (rate <= 0) return "send";
      const key = prefixKey(address, v4, v6);
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxEntries) makeRoom(now);
        b = { tokens: rate, at: now, limited: 0 };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(rate, b.tokens + (Math.max(0, now - b.at) * rate) / 1000);
        b.at = now;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return "send";
      }
      b.limited++;
      if (slip > 0 && b.limited % slip === 0) {
        stats.slipped++;
        return "slip";
      }
      stats.dropped++;
      return "drop";
    },
    get entries() {
      return buckets.size;
    },
    stats,
  };
}

/**
 * The truncated form of a reply: its header with TC=1 and its question, no records (RFC 1035
 * §4.1.1; the client retries over TCP). The question's name is read label by label; a reply
 * whose question cannot be walked keeps only its header.
 */
export function truncatedReply(reply: Uint8Array): Uint8Array {
  if (reply.length < 12) return reply.slice();
  let end = 12;
  const qdcount = (reply[4] << 8) | reply[5];
  if (qdcount === 1) {
    let at = 12;
    while (at < reply.length && reply[at] !== 0 && reply[at] < 64) at += reply[at] + 1;
    end = at < reply.length && reply[at] === 0 && at + 5 <= reply.length ? at + 5 : 12;
  }
  const out = reply.slice(0, end);
  out[2] |= 0x02; // TC
  out[4] = 0;
  out[5] = end > 12 ? 1 : 0;
  out.fill(0, 6, 12); // ANCOUNT, NSCOUNT, ARCOUNT
  return out;
}
