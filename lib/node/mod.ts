/**
 * The running djdns node, assembled in one place (as hnsd's daemon.c): the data directory's
 * store, the registry (page files, the trust anchor, verified signed pages), the replicas and
 * the libp2p network when gossip is on, the resolver over them with the upstream forwarder, the
 * DNS responder and its UDP/TCP servers. {@linkcode startNode} starts it; the returned
 * {@linkcode RunningNode} reloads and stops it. The CLI (lib/cli/run.ts) only parses flags.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Multiaddr } from "@multiformats/multiaddr";
import { TESTNET_PAGE_ID } from "../anchor/root_anchor.ts";
import { allowed, type Cidr, LOOPBACK } from "../dns/ip.ts";
import { createRrl } from "../server/rrl.ts";
import { formatUpstream, type Forwarder, type Upstream } from "../forwarder/mod.ts";
import { createQueryCounters, observedResponder, type QueryCounters } from "../metrics/mod.ts";
import type { Network } from "../net/mod.ts";
import { peerAddr } from "../net/addr.ts";
import type { PageState, TrustAnchor } from "../page/mod.ts";
import { createResponder, type Responder } from "../server/responder.ts";
import { serveTcp } from "../server/tcp.ts";
import { serveHttps } from "../server/https.ts";
import { serveTls, type TlsKeyPair } from "../server/tls.ts";
import { serveUdp } from "../server/udp.ts";
import { serveUdpNative } from "../server/ffi_udp_server.ts";
import { openStore, type Store } from "../store/mod.ts";
import { openPageSet, type PageSet } from "./pages.ts";
import {
  createDamageBook,
  type DamageBook,
  startStoreCheck,
  type StoreCheck,
  type StoreCheckStatus,
} from "./store_check.ts";
import {
  EMBEDDED_ANCHOR,
  forwardFor,
  loadRegistry,
  type Registry,
  resolverFor,
} from "./registry.ts";

export { EMBEDDED_ANCHOR, type Registry, resolverFor } from "./registry.ts";
export type { PageSet } from "./pages.ts";
export type { StoreCheckStatus } from "./store_check.ts";

/** The network's status document, as served on `/djdns/status/1` and shown by `djdns status`. */
export interface NetStatus {
  peerId?: string;
  addrs: string[];
  connected: { id: string; addr: string }[];
  peers: { id: string; addr?: string; score: number; bannedUntil?: string }[];
  pages: {
    page: string;
    head: string;
    height: number;
    objects: number;
    lag: number;
    root: boolean;
  }[];
  counters: Record<string, number>;
  /** The background check of the data directory's stored records. */
  store?: StoreCheckStatus;
}

/** A host and port. */
export interface Endpoint {
  host: string;
  port: number;
}

/** The network part of a node's configuration. */
export interface GossipConfig {
  /** Listen address of the libp2p node. */
  listen: Multiaddr;
  /** Bootstrap peers. */
  peers: Multiaddr[];
  /** Follow the root and used pages (default), or every linked page. */
  follow: "used" | "all";
  /** A used page is dropped after this long without use (ms). */
  unusedMs: number;
  /** Catch-up period with a random peer (ms). */
  syncIntervalMs: number;
  /** Deadline of an on-demand page fetch while a query waits (ms). */
  fetchDeadlineMs: number;
  /** Peers learned from others are dialed while fewer are connected (default 8). */
  targetPeers?: number;
}

/** Everything a node needs, parsed and validated by the CLI. */
export interface NodeConfig {
  /** Legacy page directory (its root file is the root). */
  pagesDir?: string;
  /** Root file inside `pagesDir`. */
  rootFile?: string;
  /** Data directory (store and node key); required with gossip. */
  dataDir?: string;
  /** The root trust anchor (default: embedded). */
  anchor?: TrustAnchor;
  /** DNS addresses. */
  listen: Endpoint[];
  /** Clients allowed recursion. */
  acl: readonly Cidr[];
  udpSize: number;
  cacheEntries: number;
  idleMs: number;
  maxConnections: number;
  /** Most TCP connections from one address (/32, /64); loopback counts only towards the total. */
  maxPerSource: number;
  /**
   * UDP on a native socket with batched reads and writes (`--udp-native`, needs --allow-ffi)
   * instead of a node:dgram socket.
   */
  udpNative?: boolean;
  /** Response rate limiting for clients outside loopback; undefined: off. */
  rrl?: { rate: number; slip: number };
  /** Upstreams (empty: forward nothing). */
  upstreams: Upstream[];
  /** DNS over TLS and over HTTPS listeners (off when absent or empty), with their key pair. */
  encrypted?: { tls: Endpoint[]; https: Endpoint[]; keyPair?: TlsKeyPair };
  forwarder: Forwarder;
  /** The network, when on. */
  gossip?: GossipConfig;
  /** Starts the operator's port (metrics/status) when configured. */
  operator?: (
    parts: OperatorParts,
  ) => { close(): Promise<void>; url: string } | Promise<{ close(): Promise<void>; url: string }>;
}

/** What the operator's port reads. */
export interface OperatorParts {
  registry: Registry;
  responder: Responder;
  counters: QueryCounters;
  listen: string[];
  /** The network's status document (the one `djdns status` prints), when gossip is on. */
  netStatus?: () => NetStatus;
  /** The background check of stored records, when there is a data directory. */
  storeCheck?: () => StoreCheckStatus | undefined;
}

/** A started node. */
export interface RunningNode {
  /** DNS addresses served, as `host:port` (bracketed IPv6). */
  readonly listening: string[];
  /** The network, when on. */
  readonly network?: Network;
  /** Reloads page files and signed pages (serialized and coalesced). */
  reload(why: string): void;
  /** The background check of stored records, when there is a data directory. */
  readonly storeCheck?: StoreCheck;
  /**
   * Stops everything and releases the data directory. With `exiting` (the process ends right
   * after, as `djdns run` does), the page watcher is left open: closing it joins its thread, which
   * a FIFO in the page directory can block for good, and the process would never exit.
   */
  stop(opts?: { exiting?: boolean }): Promise<void>;
}

/** How long a stopping node keeps answering the queries it has already received. */
export const STOP_GRACE_MS = 2500;

/** A node that could not start: the message is for the operator. */
export class NodeStartError extends Error {
  override name = "NodeStartError";
}

function fmt(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Participants' endpoints in a verified state that name a TCP peer (`tcp://HOST:PORT`, multiaddr). */
export function participantEndpoints(state: PageState): Multiaddr[] {
  const out: Multiaddr[] = [];
  for (const p of Object.values(state.governance.participants)) {
    for (const e of p.endpoints ?? []) {
      const text = e.startsWith("tcp://") ? e.slice(6).replace(/\/$/, "") : e;
      try {
        out.push(peerAddr(text));
      } catch { /* another kind of endpoint */ }
      if (out.length >= 32) return out;
    }
  }
  return out;
}

/** Starts a node. Throws {@linkcode NodeStartError} when a part cannot start. */
export async function startNode(cfg: NodeConfig): Promise<RunningNode> {
  const log = getLogger(["djdns"]);
  const closers: (() => Promise<void> | void)[] = [() => cfg.forwarder.close()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log.warning("while stopping: {err}", { err: (e as Error).message });
      }
    }
  };
  try {
    return await start(cfg, closers, closeAll);
  } catch (e) {
    await closeAll();
    throw e;
  }
}

async function start(
  cfg: NodeConfig,
  closers: (() => Promise<void> | void)[],
  closeAll: () => Promise<void>,
): Promise<RunningNode> {
  const log = getLogger(["djdns"]);
  let store: Store | undefined;
  let damage: DamageBook | undefined;
  let check: StoreCheck | undefined;
  if (cfg.dataDir !== undefined) {
    try {
      // The file is checked at open (header, version, quick_check); every stored record is
      // checked in the background once the node answers (store_check.ts), and what start-up
      // reads (the pages' states) is checked as it is read.
      store = openStore(cfg.dataDir, { checkRecords: false });
      damage = createDamageBook(store.dir);
    } catch (e) {
      throw new NodeStartError(`cannot load the registry: ${(e as Error).message}`);
    }
    const s = store;
    closers.push(() => s.close());
  }

  let pages: PageSet | undefined;
  let registry: Registry | undefined;
  const box: { responder?: Responder } = {};
  // Heads moved (gossip, sync, fetch): a new snapshot; the cache forgets old answers.
  const onChange = () => {
    if (!registry) return;
    void registry.reload().then(() => box.responder?.registryChanged()).catch((e) =>
      log.error("reload failed: {err}", { err: (e as Error).message })
    );
  };
  const netLog = (level: "debug" | "info" | "warning" | "error", msg: string) =>
    log[level]("{msg}", { msg });
  if (cfg.gossip) {
    if (!store) throw new NodeStartError("--gossip needs a data directory");
    try {
      pages = openPageSet({
        store,
        anchor: cfg.anchor ?? EMBEDDED_ANCHOR,
        follow: cfg.gossip.follow,
        unusedMs: cfg.gossip.unusedMs,
        fetchDeadlineMs: cfg.gossip.fetchDeadlineMs,
        now: Date.now,
        onChange,
        log: netLog,
        damage,
        storeCheck: () => check?.status(),
      });
    } catch (e) {
      throw new NodeStartError(`cannot open the pages: ${(e as Error).message}`);
    }
  }
  try {
    const p = pages;
    registry = await loadRegistry({
      pagesDir: cfg.pagesDir,
      rootFile: cfg.rootFile,
      dataDir: cfg.dataDir,
      store: p ? undefined : store,
      anchor: cfg.anchor,
      signed: p ? () => p.pages() : undefined,
      damage,
    });
  } catch (e) {
    throw new NodeStartError(`cannot load the registry: ${(e as Error).message}`);
  }
  const reg = registry;
  for (const err of reg.snapshot.errors) log.error("page not loaded: {err}", { err });
  if (cfg.pagesDir === undefined && cfg.anchor && cfg.anchor.page !== EMBEDDED_ANCHOR.page) {
    log.warning(
      "root anchor {page} given at run time replaces the one embedded in this build ({embedded}): " +
        "every answer now traces back to that file",
      { page: cfg.anchor.page, embedded: EMBEDDED_ANCHOR.page },
    );
  }
  if (cfg.pagesDir === undefined && (cfg.anchor ?? EMBEDDED_ANCHOR).page === TESTNET_PAGE_ID) {
    log.warning(
      "root anchor: the public TESTNET root {page} (its keys are published; anyone can change " +
        "its names); build with 'deno task compile --anchor FILE' for a production root",
      { page: TESTNET_PAGE_ID },
    );
  }
  log.info("registry: {describe}, {n} page(s)", {
    describe: reg.describe,
    n: reg.snapshot.pages.size,
  });
  if (cfg.upstreams.length === 0) {
    log.warning("no upstream resolver: names outside the registry will be REFUSED");
  } else {
    log.info("upstreams: {list}", {
      list: cfg.upstreams.map(formatUpstream).join(", "),
    });
  }

  const ps = pages;
  const resolve = resolverFor(
    reg,
    cfg.forwarder,
    cfg.upstreams.length > 0,
    ps && cfg.gossip
      ? {
        onMissing: (pageId, from) => ps.fetchMissing(pageId, from),
        onUse: (pageId) => ps.touch(pageId),
        waitMs: cfg.gossip.fetchDeadlineMs,
      }
      : undefined,
  );
  const counters = cfg.operator ? createQueryCounters() : undefined;
  const inner = createResponder({
    resolve,
    forward: cfg.upstreams.length > 0 ? forwardFor(cfg.forwarder) : undefined,
    udpSize: cfg.udpSize,
    cacheEntries: cfg.cacheEntries,
  });
  const resp = counters ? observedResponder(inner, counters) : inner;
  box.responder = resp;
  const recursion = (addr: string) => allowed(addr, cfg.acl);
  const isLoopback = (addr: string) => allowed(addr, LOOPBACK);
  // One limiter for every listener: a network's budget is the server's, not the socket's.
  const rateLimit = cfg.rrl
    ? { limiter: createRrl({ rate: cfg.rrl.rate, slip: cfg.rrl.slip }), exempt: isLoopback }
    : undefined;
  const listening: string[] = [];
  // The DNS servers stop together, each answering what it has already read (a stop is not a
  // crash: clients get their answers, up to STOP_GRACE_MS).
  const dnsServers: { close(graceMs?: number): Promise<void> }[] = [];
  closers.push(async () => {
    await Promise.all(dnsServers.map((s) => s.close(STOP_GRACE_MS)));
  });
  const cannotListen = (l: Endpoint, e: unknown, what: string) =>
    Object.assign(
      new NodeStartError(`cannot listen on ${fmt(l.host, l.port)}${what}: ${(e as Error).message}`),
      { cause: e, endpoint: l },
    );
  for (const l of cfg.listen) {
    // UDP and TCP share one port. With port 0 the kernel picks a free UDP port, which another
    // program may hold over TCP: then both are given up and another port is picked.
    for (let attempt = 1;; attempt++) {
      let udp;
      try {
        udp = cfg.udpNative
          ? await serveUdpNative(l.host, l.port, resp, recursion, rateLimit)
          : await serveUdp(l.host, l.port, resp, recursion, rateLimit);
      } catch (e) {
        throw cannotListen(l, e, "");
      }
      let tcp;
      try {
        tcp = serveTcp(l.host, udp.port, resp, recursion, {
          idleMs: cfg.idleMs,
          maxConnections: cfg.maxConnections,
          maxPerSource: cfg.maxPerSource,
        }, isLoopback);
      } catch (e) {
        await udp.close();
        if (l.port === 0 && e instanceof Deno.errors.AddrInUse && attempt < 8) continue;
        throw cannotListen(l, e, " (tcp)");
      }
      dnsServers.push(udp, tcp);
      log.info("listening on {addr} (udp, tcp)", { addr: fmt(l.host, udp.port) });
      listening.push(fmt(l.host, udp.port));
      break;
    }
  }
  const { tls = [], https = [], keyPair } = cfg.encrypted ?? {};
  for (
    const [kind, l] of [
      ...tls.map((l) => ["tls", l] as const),
      ...https.map((l) => ["https", l] as const),
    ]
  ) {
    let server;
    try {
      server = kind === "tls"
        ? serveTls(l.host, l.port, keyPair!, resp, recursion, {
          idleMs: cfg.idleMs,
          maxConnections: cfg.maxConnections,
          maxPerSource: cfg.maxPerSource,
        }, isLoopback)
        : serveHttps(l.host, l.port, keyPair!, resp, recursion);
    } catch (e) {
      throw Object.assign(
        new NodeStartError(`cannot listen on ${fmt(l.host, l.port)}: ${(e as Error).message}`),
        { cause: e, endpoint: l },
      );
    }
    closers.push(() => server.close());
    log.info(`listening on {addr} (${kind})`, { addr: fmt(l.host, server.port) });
  }
  if (cfg.operator && counters) {
    const op = await cfg.operator({
      registry: reg,
      responder: inner,
      counters,
      listen: listening,
      netStatus: ps ? () => ps.status() as NetStatus : undefined,
      storeCheck: () => check?.status(),
    });
    closers.push(() => op.close());
    log.info("metrics and status page on {url}", { url: op.url });
  }
  if (store && damage) {
    // Stopped (closers run in reverse) before the store closes.
    check = startStoreCheck({
      path: store.path,
      book: damage,
      onQuarantine: (ids) => {
        ps?.quarantine(ids);
        onChange();
      },
      log: netLog,
    });
    const c = check;
    closers.push(() => c.stop());
  }

  let network: Network | undefined;
  const timers: ReturnType<typeof setInterval>[] = [];
  if (cfg.gossip && ps && cfg.dataDir) {
    // libp2p is loaded only by nodes that run the network: a DNS-only node starts faster and
    // idles in less memory without it.
    const { loadNodeKey, startNetwork } = await import("../net/mod.ts");
    const privateKey = await loadNodeKey(cfg.dataDir);
    const rootReplica = ps.replica((cfg.anchor ?? EMBEDDED_ANCHOR).page);
    const endpoints = rootReplica ? participantEndpoints(rootReplica.log.state()) : [];
    const stored = ps.peers.list().filter((p) => p.addrs.length > 0 && p.score >= 0).slice(0, 8)
      .map((p) => peerAddr(p.addrs[0]));
    try {
      network = await startNetwork({
        privateKey,
        listen: [cfg.gossip.listen],
        bootstrap: [...cfg.gossip.peers, ...endpoints, ...stored],
        host: ps,
        syncIntervalMs: cfg.gossip.syncIntervalMs,
        targetPeers: cfg.gossip.targetPeers,
        log: netLog,
      });
    } catch (e) {
      throw new NodeStartError(
        `cannot start the network on ${cfg.gossip.listen}: ${(e as Error).message}`,
      );
    }
    const net = network;
    closers.push(() => net.stop());
    ps.attach(net);
    for (const a of net.addrs()) log.info("gossip on {addr}", { addr: a });
    timers.push(setInterval(() => ps.sweep(), 60_000));
    timers.push(setInterval(() => ps.savePeers(), 60_000));
    closers.push(() => ps.savePeers());
  }
  closers.push(() => timers.forEach(clearInterval));

  // Reloads are serialized and coalesced: a burst of file events makes one reload.
  let reloading: Promise<void> | null = null;
  let again = false;
  const reload = (why: string) => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        try {
          const snap = await reg.reload();
          resp.registryChanged();
          for (const err of snap.errors) log.error("page not loaded: {err}", { err });
          log.info("pages reloaded ({why}): {n} page(s)", { why, n: snap.pages.size });
        } catch (e) {
          log.error("reload failed, still serving the previous pages: {err}", {
            err: (e as Error).message,
          });
        }
      } while (again);
      reloading = null;
    })();
  };
  let watcher: Deno.FsWatcher | undefined;
  let stopping = false;
  let exiting = false;
  if (reg.snapshot.dir) {
    watcher = Deno.watchFs(reg.snapshot.dir, { recursive: true });
    const w = watcher;
    closers.push(() => {
      if (!exiting) w.close();
    });
    (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        for await (const ev of w) {
          if (ev.kind === "access") continue;
          clearTimeout(timer);
          timer = setTimeout(() => reload("files changed"), 200);
        }
      } catch (e) {
        if (!stopping) log.warning("page watch failed: {err}", { err: (e as Error).message });
      }
      // The directory was removed or replaced, or the watcher failed: say so, since changes are
      // now picked up only on SIGHUP.
      if (!stopping) log.warning("no longer watching the page directory; reload with SIGHUP");
    })();
  }
  return {
    listening,
    network,
    storeCheck: check,
    reload,
    async stop(opts = {}) {
      stopping = true;
      exiting = opts.exiting ?? false;
      await closeAll();
    },
  };
}
