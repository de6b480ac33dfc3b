/**
 * The Prometheus exposition of a node (text format 0.0.4). Values live where they are produced
 * (query counters, responder and store statistics, the network's counters) and are read at
 * scrape time through callbacks, so nothing on the request path formats or looks anything up.
 *
 * Written here rather than with prom-client, the maintained Node.js client: prom-client runs
 * under Deno, but `deno compile` of any module graph that includes it dies with a stack
 * overflow (Deno 2.9.6, measured: a one-line file importing prom-client's Registry), and the
 * binary is the product. The format is small; tests run `promtool check metrics` over the
 * whole output.
 *
 * @module
 */
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

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
const escapeLabel = (v: string) =>
  v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
const escapeHelp = (v: string) => v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");

function number(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  labels: string[];
  read: () => Samples;
}

/** Creates the registry, with the query metrics read from `queries`. */
export function createMetrics(queries: QueryCounters): Metrics {
  const families: Family[] = [];
  const add = (f: Family) => {
    if (!NAME.test(f.name) || families.some((g) => g.name === f.name)) {
      throw new Error(`bad or duplicate metric name ${f.name}`);
    }
    for (const l of f.labels) if (!LABEL.test(l)) throw new Error(`bad label name ${l}`);
    families.push(f);
  };
  const render = (f: Family): string => {
    const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
    for (const [labels, v] of f.read()) {
      const parts = f.labels.map((l) => `${l}="${escapeLabel(labels[l] ?? "")}"`);
      lines.push(`${f.name}${parts.length ? `{${parts.join(",")}}` : ""} ${number(v)}`);
    }
    return lines.join("\n");
  };
  const metrics: Metrics = {
    text: () => Promise.resolve(families.map(render).join("\n") + "\n" + latencyHistogram(queries)),
    contentType: "text/plain; version=0.0.4; charset=utf-8",
    counter: (name, help, labels, read) => add({ name, help, type: "counter", labels, read }),
    gauge: (name, help, labels, read) => add({ name, help, type: "gauge", labels, read }),
  };
  const types = [...COUNTED_TYPES, "other"];
  metrics.counter(
    "djdns_queries_total",
    "DNS queries answered, by transport and query type.",
    ["transport", "type"],
    () =>
      queries.byType.flatMap((row, t) =>
        row.map((v, i) => [{ transport: TRANSPORTS[t], type: types[i] }, v] as Samples[0])
      ).filter(([, v]) => v > 0),
  );
  metrics.counter(
    "djdns_responses_total",
    "DNS responses sent, by transport and response code.",
    ["transport", "rcode"],
    () =>
      queries.byRcode.flatMap((row, t) =>
        row.map((v, i) => [{ transport: TRANSPORTS[t], rcode: RCODES[i] }, v] as Samples[0])
      ).filter(([, v]) => v > 0),
  );
  metrics.counter(
    "djdns_requests_dropped_total",
    "DNS requests that got no reply (not a query, or dropped by a limit).",
    ["transport"],
    () => queries.dropped.map((v, t) => [{ transport: TRANSPORTS[t] }, v]),
  );
  return metrics;
}

// The latency histogram, from the request path's bucket counts (not cumulative there).
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
  lines.push(`${name}_sum ${q.latencySum}`, `${name}_count ${q.latencyCount}`);
  return lines.join("\n") + "\n";
}
