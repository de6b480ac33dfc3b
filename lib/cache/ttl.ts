/**
 * How long a DNS answer may be cached (RFC 1035, RFC 2181 §8, RFC 2308). Pure functions over
 * decoded `dns-packet` records; every result is in seconds and 0 means "do not cache".
 *
 * @module
 */
import type { Answer, DecodedPacket } from "dns-packet";

/** Upper bound for positive answers: one day, as BIND's `max-cache-ttl` default is a week and
 * shorter bounds keep a stale upstream answer from living long. */
export const MAX_POSITIVE_TTL_SECONDS = 86_400;

/** Upper bound for NXDOMAIN/NODATA: three hours (RFC 2308 §5 suggests 1–3 hours). */
export const MAX_NEGATIVE_TTL_SECONDS = 10_800;

/** How long a SERVFAIL may be remembered: RFC 2308 §7 allows at most five minutes; keep it short
 * so a transient upstream failure is retried soon, but long enough to damp retry storms. */
export const SERVFAIL_TTL_SECONDS = 5;

// RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
function effectiveTtl(ttl: number | undefined): number {
  if (ttl === undefined || !Number.isFinite(ttl) || ttl < 0 || ttl >= 0x80000000) return 0;
  return Math.floor(ttl);
}

/**
 * The cache lifetime of a positive answer: the smallest TTL among `records` (OPT pseudo-records
 * ignored), capped at {@linkcode MAX_POSITIVE_TTL_SECONDS}. 0 when there is no record.
 */
export function positiveTtl(records: readonly Answer[]): number {
  let min = Infinity;
  for (const record of records) {
    if (record.type === "OPT") continue;
    min = Math.min(min, effectiveTtl(record.ttl));
  }
  return min === Infinity ? 0 : Math.min(min, MAX_POSITIVE_TTL_SECONDS);
}

/**
 * The cache lifetime of a negative answer (NXDOMAIN or NODATA) per RFC 2308 §5: min(SOA TTL,
 * SOA MINIMUM) of the SOA in the authority section, capped at
 * {@linkcode MAX_NEGATIVE_TTL_SECONDS}. Without an SOA the answer is not cached (0), as §5 says
 * such responses SHOULD NOT be cached.
 */
export function negativeTtl(authorities: readonly Answer[]): number {
  for (const record of authorities) {
    if (record.type !== "SOA") continue;
    const ttl = Math.min(effectiveTtl(record.ttl), effectiveTtl(record.data.minimum));
    return Math.min(ttl, MAX_NEGATIVE_TTL_SECONDS);
  }
  return 0;
}

/**
 * The cache lifetime of a whole response, by its RCODE: NOERROR with answers is positive,
 * NOERROR without answers (NODATA) and NXDOMAIN are negative, SERVFAIL gets
 * {@linkcode SERVFAIL_TTL_SECONDS}, anything else (REFUSED, FORMERR, truncated, …) is 0.
 */
export function responseTtl(packet: DecodedPacket): number {
  // dns-packet's decoded header carries `rcode` though its type declarations omit it.
  const rcode = (packet as DecodedPacket & { rcode?: string }).rcode;
  if (packet.flag_tc) return 0;
  const answers = packet.answers ?? [];
  if (rcode === "NOERROR") {
    return answers.length > 0 ? positiveTtl(answers) : negativeTtl(packet.authorities ?? []);
  }
  if (rcode === "NXDOMAIN") return negativeTtl(packet.authorities ?? []);
  if (rcode === "SERVFAIL") return SERVFAIL_TTL_SECONDS;
  return 0;
}
