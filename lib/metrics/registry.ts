/**
 * The Prometheus exposition of a node, on prom-client (the maintained Prometheus client for
 * Node.js; it runs under Deno with the binary's permissions). Values live where they are
 * produced (query counters, responder and store statistics, the network's counters) and are
 * read at scrape time through `collect` callbacks, so nothing on the request path touches
 * prom-client.
 *
 * @module
 */
import { Counter, Gauge, Registry } from "prom-client";
import {
  COUNTED_TYPES,
  LATENCY_BUCKETS,
  type QueryCounters,
  RCODES,
  TRANSPORTS,
} from "./queries.ts";

/** Labelled values a collector reports at scrape time. */
export type Samples = Array<[labels: Record<string, string>, value: number]>;

/** A node's metrics registry. */
export interface Metrics {
  /** The Prometheus text exposition. */
  text(): Promise<string>;
  /** Content type of {@linkcode Metrics.text}. */
  contentType: string;
  /** Adds a counter (monotone) read at scrape time. */
  counter(name: string, help: string, labels: string[], read: () => Samples): void;
  /** Adds a gauge read at scrape time. */
  gauge(name: string, help: string, labels: string[], read: () => Samples): void;
}

/** Creates the registry, with the query metrics read from `queries`. */
export function createMetrics(queries: QueryCounters): Metrics {
  const registry = new Registry();
  const metrics: Metrics = {
    text: async () => (await registry.metrics()) + latencyHistogram(queries),
    contentType: registry.contentType,
    counter(name, help, labelNames, read) {
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const [labels, v] of read()) if (v > 0) this.inc(labels, v);
        },
      });
    },
    gauge(name, help, labelNames, read) {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const [labels, v] of read()) this.set(labels, v);
        },
      });
    },
  };
  const types = [...COUNTED_TYPES, "other"];
  metrics.counter(
    "djdns_queries_total",
    "DNS queries answered, by transport and query type.",
    ["transport", "type"],
    () =>
      queries.byType.flatMap((row, t) =>
        row.map((v, i) => [{ transport: TRANSPORTS[t], type: types[i] }, v] as Samples[0])
      ),
  );
  metrics.counter(
    "djdns_responses_total",
    "DNS responses sent, by transport and response code.",
    ["transport", "rcode"],
    () =>
      queries.byRcode.flatMap((row, t) =>
        row.map((v, i) => [{ transport: TRANSPORTS[t], rcode: RCODES[i] }, v] as Samples[0])
      ),
  );
  metrics.counter(
    "djdns_requests_dropped_total",
    "DNS requests that got no reply (not a query, or dropped by a limit).",
    ["transport"],
    () => queries.dropped.map((v, t) => [{ transport: TRANSPORTS[t] }, v]),
  );
  return metrics;
}

// The latency histogram is written here from the request path's bucket counts: prom-client's
// Histogram can only be fed one observation at a time (a labelled lookup per query) and has no
// way to set buckets at scrape time. The format is Prometheus's text format 0.0.4; the test
// runs promtool over the whole exposition.
function latencyHistogram(q: QueryCounters): string {
  const name = "djdns_response_seconds";
  const lines = [
    `# HELP ${name} Time from a request's arrival to its reply.`,
    `# TYPE ${name} histogram`,
  ];
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((b, i) => {
    cumulative += q.latency[i];
    lines.push(`${name}_bucket{le="${b}"} ${cumulative}`);
  });
  lines.push(`${name}_bucket{le="+Inf"} ${q.latencyCount}`);
  lines.push(`${name}_sum ${q.latencySum}`, `${name}_count ${q.latencyCount}`, "");
  return "\n" + lines.join("\n");
}
