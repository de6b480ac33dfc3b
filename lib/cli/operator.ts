/**
 * Wiring of the operator's port (`--metrics ADDR:PORT`): the Prometheus metrics and the status
 * page of a running `djdns run`, read from the parts of the node at request time.
 *
 * @module
 */
import { createMetrics, type QueryCounters, RCODES, type Samples } from "../metrics/mod.ts";
import type { Responder } from "../server/responder.ts";
import { buildTree, serveStatus, type StatusServer, type StatusView } from "../status/mod.ts";
import { VERSION } from "../version.ts";
import type { Registry } from "./registry.ts";
import { FAILURE_KINDS, type Forwarder } from "../forwarder/mod.ts";
import type { NetStatus, StoreCheckStatus } from "../node/mod.ts";
import { DATABASE_FILE } from "../store/mod.ts";

/** What the operator's port reads. */
export interface OperatorSources {
  registry: Registry;
  responder: Responder;
  counters: QueryCounters;
  /** Addresses DNS is served on, as printed. */
  listen: string[];
  /** `performance.now()` at start. */
  startedMs: number;
  /** The upstream forwarder (answers and failures per upstream). */
  forwarder?: Forwarder;
  /** The network's status document, when gossip is on. */
  netStatus?: () => NetStatus;
  /** The data directory (its database's size is reported). */
  dataDir?: string;
  /** The background check of stored records. */
  storeCheck?: () => StoreCheckStatus | undefined;
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

  if (src.forwarder) {
    const fwd = src.forwarder;
    metrics.counter(
      "djdns_upstream_answers_total",
      "Answers accepted from each upstream resolver.",
      ["upstream"],
      () => fwd.upstreamStats().map((u) => [{ upstream: u.upstream }, u.answers]),
    );
    metrics.counter(
      "djdns_upstream_errors_total",
      "Failed tries of each upstream resolver, by kind (timeout, an error rcode, network).",
      ["upstream", "kind"],
      () =>
        fwd.upstreamStats().flatMap((u) =>
          FAILURE_KINDS.map((k) => [{ upstream: u.upstream, kind: k }, u.failures[k]] as Samples[0])
        ).filter(([, v]) => v > 0),
    );
  }
  if (src.dataDir !== undefined) {
    const db = `${src.dataDir}/${DATABASE_FILE}`;
    metrics.gauge(
      "djdns_store_bytes",
      "Size of the data directory's database, with its write-ahead log.",
      [],
      () => {
        let bytes = 0;
        for (const f of [db, `${db}-wal`]) {
          try {
            bytes += Deno.statSync(f).size;
          } catch { /* not there */ }
        }
        return [[{}, bytes]];
      },
    );
  }
  if (src.storeCheck) {
    const check = src.storeCheck;
    metrics.gauge(
      "djdns_store_damaged_records",
      "Stored records found damaged (bytes that no longer hash to their id, states to their " +
        "hash) since start; their pages are not served. Fix: djdns store verify, djdns store repair.",
      [],
      () => [[{}, check()?.damaged ?? 0]],
    );
    metrics.gauge(
      "djdns_store_check_complete",
      "1 once the background check of every stored record has finished, else 0.",
      [],
      () => [[{}, check()?.state === "done" ? 1 : 0]],
    );
  }
  if (src.netStatus) {
    const net = src.netStatus;
    metrics.counter(
      "djdns_network_events_total",
      "Network events by kind: gossip accepted/ignored/rejected (with the reject reason), " +
        "sync sessions and objects pulled, fetches, peers banned, store writes.",
      ["event"],
      () => Object.entries(net().counters).map(([event, v]) => [{ event }, v]),
    );
    metrics.gauge("djdns_peers", "Peers by state.", ["state"], () => {
      const s = net();
      const now = Date.now();
      return [
        [{ state: "connected" }, s.connected.length],
        [{ state: "known" }, s.peers.length],
        [
          { state: "banned" },
          s.peers.filter((p) => p.bannedUntil && Date.parse(p.bannedUntil) > now).length,
        ],
      ];
    });
    metrics.gauge("djdns_pages_followed", "Signed pages this node follows.", [], () => [[
      {},
      net().pages.length,
    ]]);
    metrics.gauge(
      "djdns_page_lag_max",
      "Largest lag of a followed page behind the best height peers advertised, in events.",
      [],
      () => [[{}, Math.max(0, ...net().pages.map((p) => p.lag))]],
    );
  }

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
      ...netView(src.netStatus?.()),
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

// What the status page shows of the network: the same document `djdns status` prints.
function netView(s: NetStatus | undefined): Partial<StatusView> {
  if (!s) return {};
  const connected = new Set(s.connected.map((c) => c.id));
  return {
    identity: s.peerId,
    gossip: s.addrs,
    peers: s.peers.map((p) => ({
      id: p.id,
      address: p.addr ?? "",
      score: p.score,
      banned: p.bannedUntil !== undefined,
      connected: connected.has(p.id),
    })),
    followed: s.pages,
    netCounters: s.counters,
  };
}
