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
  const done = (req: Uint8Array, reply: Uint8Array | null, t: number, start: number) => {
    if (reply === null || reply.length < 4) {
      counters.dropped[t]++;
    } else {
      countQuery(counters, t, wireQtype(req), reply[3] & 15, (now() - start) / 1000);
    }
    return reply;
  };
  return {
    handle(request, origin) {
      const start = now();
      const t = slot(origin);
      const r = inner.handle(request, origin);
      if (r instanceof Promise) return r.then((reply) => done(request, reply, t, start));
      return done(request, r, t, start);
    },
    registryChanged: () => inner.registryChanged(),
    get stats() {
      return inner.stats;
    },
  };
}
