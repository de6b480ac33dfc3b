/**
 * Counts of what each upstream did (answers, and failed tries by kind), for the operator's
 * metrics. Bounded: per-query upstreams come from pages (`dns://` targets), so the table keeps
 * at most a fixed number of upstreams and forgets the least recently used.
 *
 * @module
 */
import { canonicalHost } from "../dns/ip.ts";
import type { Upstream } from "./types.ts";

/** Kinds of failed tries, as metric labels. */
export const FAILURE_KINDS = [
  "timeout",
  "SERVFAIL",
  "REFUSED",
  "FORMERR",
  "NOTIMP",
  "network",
  "other",
] as const;
/** One of {@linkcode FAILURE_KINDS}. */
export type FailureKind = typeof FAILURE_KINDS[number];

/** What one upstream did. */
export interface UpstreamCounts {
  /** `host:port` (IPv6 in brackets). */
  upstream: string;
  answers: number;
  failures: Record<FailureKind, number>;
}

/** The kind of a failed try's reason text (`"timeout"`, `"SERVFAIL"`, `"network error: …"`). */
export function failureKind(reason: string): FailureKind {
  if (reason === "timeout") return "timeout";
  if ((FAILURE_KINDS as readonly string[]).includes(reason)) return reason as FailureKind;
  if (/^(network error|refused \(tcp\)|connection closed)/.test(reason)) return "network";
  return "other";
}

/** The table. */
export interface UpstreamStats {
  answer(u: Upstream): void;
  failure(u: Upstream, reason: string): void;
  /** A copy of the counts, in no particular order. */
  list(): UpstreamCounts[];
}

/** Creates an empty table of at most `maxTracked` upstreams. */
export function createUpstreamStats(maxTracked = 64): UpstreamStats {
  const table = new Map<string, UpstreamCounts>();
  const entry = (u: Upstream): UpstreamCounts => {
    const host = canonicalHost(u.host);
    const key = host.includes(":") ? `[${host}]:${u.port}` : `${host}:${u.port}`;
    let e = table.get(key);
    if (e) {
      table.delete(key); // re-inserted below: most recently used last
    } else {
      if (table.size >= maxTracked) table.delete(table.keys().next().value!);
      e = {
        upstream: key,
        answers: 0,
        failures: Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<
          FailureKind,
          number
        >,
      };
    }
    table.set(key, e);
    return e;
  };
  return {
    answer: (u) => void entry(u).answers++,
    failure: (u, reason) => void entry(u).failures[failureKind(reason)]++,
    list: () => [...table.values()].map((e) => ({ ...e, failures: { ...e.failures } })),
  };
}
