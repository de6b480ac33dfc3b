/**
 * A link in the request chain that counts what passes (the CoreDNS `prometheus` plugin's
 * place): it wraps a responder, reads the query type from the request and the rcode from the
 * reply bytes, and times the answer. Cached answers stay synchronous.
 *
 * @module
 */
import type { Origin, Responder } from "../server/responder.ts";
import { countQuery, type QueryCounters, TRANSPORTS, wireQtype } from "./queries.ts";

/** Wraps `inner` so every request is counted in `counters`; `now` is in milliseconds. */
export function observedResponder(
  inner: Responder,
  counters: QueryCounters,
  now: () => number = () => performance.now(),
): Responder {
  const slot = (origin: Origin) => Math.max(0, TRANSPORTS.indexOf(origin.transport));
  const done = (qtype: number, reply: Uint8Array | null, t: number, start: number) => {
    if (reply === null || reply.length < 4) {
      counters.dropped[t]++;
    } else {
      countQuery(counters, t, qtype, reply[3] & 15, (now() - start) / 1000);
    }
    return reply;
  };
  return {
    handle(request, origin) {
      const start = now();
      const t = slot(origin);
      // Read now: a UDP face may reuse the request's buffer once `handle` has returned.
      const qtype = wireQtype(request);
      const r = inner.handle(request, origin);
      if (r instanceof Promise) return r.then((reply) => done(qtype, reply, t, start));
      return done(qtype, r, t, start);
    },
    registryChanged: () => inner.registryChanged(),
    get stats() {
      return inner.stats;
    },
  };
}
