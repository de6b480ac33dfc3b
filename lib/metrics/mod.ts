/**
 * Prometheus metrics of a node: cheap counters on the request path
 * ({@linkcode createQueryCounters}, {@linkcode observedResponder}) and the exposition read from
 * them and from other parts at scrape time ({@linkcode createMetrics}).
 *
 * @module
 */
export {
  COUNTED_TYPES,
  countQuery,
  createQueryCounters,
  LATENCY_BUCKETS,
  type QueryCounters,
  RCODES,
  type Transport,
  TRANSPORTS,
  wireQtype,
} from "./queries.ts";
export { observedResponder } from "./observe.ts";
export { createMetrics, type Metrics, type Samples } from "./registry.ts";
