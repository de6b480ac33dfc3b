/**
 * Query counters kept cheap enough for the request path: plain integer arrays indexed by
 * transport, rcode and a small set of query types, and a fixed-bucket latency histogram. The
 * Prometheus registry reads them only when scraped (see `registry.ts`), so a query costs a few
 * array increments, not a labelled-metric lookup.
 *
 * @module
 */

/** Query types counted by name; every other type is counted as "other". */
export const COUNTED_TYPES = [
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "TXT",
  "NS",
  "SRV",
  "SOA",
  "PTR",
  "CAA",
  "HTTPS",
  "SVCB",
  "DS",
  "DNSKEY",
  "ANY",
] as const;
const TYPE_CODES = [1, 28, 5, 15, 16, 2, 33, 6, 12, 257, 65, 64, 43, 48, 255];

/** Transports counted. */
export const TRANSPORTS = ["udp", "tcp", "tls", "https"] as const;
/** A transport of {@linkcode TRANSPORTS}. */
export type Transport = typeof TRANSPORTS[number];

/** Response codes by their number (0-15); higher ones do not occur in the header. */
export const RCODES = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
  "RCODE11",
  "RCODE12",
  "RCODE13",
  "RCODE14",
  "RCODE15",
] as const;

/** Upper bounds of the latency buckets, in seconds (a cache hit is tens of microseconds). */
export const LATENCY_BUCKETS = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

const OTHER = COUNTED_TYPES.length;
const typeIndex = new Map(TYPE_CODES.map((c, i) => [c, i]));

/** The counters. */
export interface QueryCounters {
  /** `[transport][typeIndex]`, typeIndex {@linkcode COUNTED_TYPES} then "other". */
  byType: number[][];
  /** `[transport][rcode]`. */
  byRcode: number[][];
  /** Per bucket of {@linkcode LATENCY_BUCKETS}, then +Inf: counts (not cumulative). */
  latency: number[];
  latencySum: number;
  latencyCount: number;
  /** Replies not sent (dropped requests). */
  dropped: number[];
}

/** Creates zeroed counters. */
export function createQueryCounters(): QueryCounters {
  const grid = (n: number) => TRANSPORTS.map(() => new Array<number>(n).fill(0));
  return {
    byType: grid(COUNTED_TYPES.length + 1),
    byRcode: grid(RCODES.length),
    latency: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
    latencySum: 0,
    latencyCount: 0,
    dropped: TRANSPORTS.map(() => 0),
  };
}

/** The index of a query type in {@linkcode QueryCounters.byType}. */
export function typeSlot(qtype: number): number {
  return typeIndex.get(qtype) ?? OTHER;
}

/** Counts one answered query. */
export function countQuery(
  c: QueryCounters,
  transport: number,
  qtype: number,
  rcode: number,
  seconds: number,
): void {
  c.byType[transport][typeSlot(qtype)]++;
  c.byRcode[transport][rcode & 15]++;
  let i = 0;
  while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
  c.latency[i]++;
  c.latencySum += seconds;
  c.latencyCount++;
}

/**
 * The QTYPE of a DNS message's first question, read straight from the wire (the name's labels
 * are skipped, not decoded), or -1 when the message has no whole question.
 */
export function wireQtype(msg: Uint8Array): number {
  if (msg.length < 12 || ((msg[4] << 8) | msg[5]) === 0) return -1;
  let i = 12;
  while (i < msg.length) {
    const len = msg[i];
    if (len === 0) {
      i++;
      break;
    }
    // A question name never holds a compression pointer; treat one as malformed.
    if (len >= 0xc0) return -1;
    i += len + 1;
  }
  return i + 2 <= msg.length ? (msg[i] << 8) | msg[i + 1] : -1;
}
