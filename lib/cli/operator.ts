/**
 * Wiring of the operator's port (`--metrics ADDR:PORT`): the Prometheus metrics and the status
 * page of a running `djdns run`, read from the parts of the node at request time.
 *
 * @module
 */
import { createMetrics, type QueryCounters, RCODES } from "../metrics/mod.ts";
import type { Responder } from "../server/responder.ts";
import { buildTree, serveStatus, type StatusServer, type StatusView } from "../status/mod.ts";
import { VERSION } from "../version.ts";
import type { Registry } from "./registry.ts";

/** What the operator's port reads. */
export interface OperatorSources {
  registry: Registry;
  responder: Responder;
  counters: QueryCounters;
  /** Addresses DNS is served on, as printed. */
  listen: string[];
  /** `performance.now()` at start. */
  startedMs: number;
}

// Query totals sampled every 5 s, for the rate over the last minute.
const SAMPLE_MS = 5000;
const SAMPLES = 13;

/** Starts the metrics and status server on `host:port`. */
export function startOperatorPort(host: string, port: number, src: OperatorSources): StatusServer {
  const total = () => src.counters.latencyCount + src.counters.dropped.reduce((a, b) => a + b, 0);
  const samples: number[] = [total()];
  const timer = setInterval(() => {
    samples.push(total());
    if (samples.length > SAMPLES) samples.shift();
  }, SAMPLE_MS);
  Deno.unrefTimer(timer);

  const metrics = createMetrics(src.counters);
  const stats = () => src.responder.stats;
  metrics.counter(
    "djdns_cache_hits_total",
    "Answers served from the answer cache.",
    [],
    () => [[{}, stats().cacheHits]],
  );
  metrics.counter(
    "djdns_forwarded_total",
    "Questions sent to an upstream resolver (cache misses outside the registry).",
    [],
    () => [[{}, stats().forwarded]],
  );
  metrics.counter(
    "djdns_resolution_errors_total",
    "Resolutions that ended in an internal error or an upstream failure (SERVFAIL).",
    [],
    () => [[{}, stats().errors]],
  );
  metrics.gauge(
    "djdns_pages_loaded",
    "Pages of the registry loaded, by kind (file or signed); failed pages by kind error.",
    ["kind"],
    () => {
      let file = 0;
      let signed = 0;
      let failed = 0;
      for (const [key, p] of src.registry.snapshot.pages) {
        if (p instanceof Error) failed++;
        else if (key.startsWith("djdns:")) signed++;
        else file++;
      }
      return [[{ kind: "file" }, file], [{ kind: "signed" }, signed], [{ kind: "error" }, failed]];
    },
  );
  metrics.gauge(
    "djdns_uptime_seconds",
    "Seconds since the node started.",
    [],
    () => [[{}, (performance.now() - src.startedMs) / 1000]],
  );
  metrics.gauge(
    "djdns_build_info",
    "The running version (value is always 1).",
    ["version"],
    () => [[
      { version: VERSION },
      1,
    ]],
  );

  const view = (): StatusView => {
    const snap = src.registry.snapshot;
    const { root, truncated } = buildTree(snap);
    const byRcode: Record<string, number> = {};
    for (const row of src.counters.byRcode) {
      row.forEach((n, i) => byRcode[RCODES[i]] = (byRcode[RCODES[i]] ?? 0) + n);
    }
    const now = total();
    const span = Math.max(1, samples.length - 1) * SAMPLE_MS / 1000;
    return {
      version: VERSION,
      uptimeSeconds: (performance.now() - src.startedMs) / 1000,
      listen: src.listen,
      registry: src.registry.describe,
      pages: [...snap.pages.values()].filter((p) => !(p instanceof Error)).length,
      pageErrors: snap.errors,
      queries: {
        total: now,
        perSecondLastMinute: samples.length > 1 ? (now - samples[0]) / span : 0,
        byRcode,
      },
      cache: { hits: stats().cacheHits },
      signedPages: src.registry.heads(),
      tree: root,
      treeTruncated: truncated,
    };
  };
  const server = serveStatus(host, port, metrics, view);
  return {
    port: server.port,
    close: async () => {
      clearInterval(timer);
      await server.close();
    },
  };
}
