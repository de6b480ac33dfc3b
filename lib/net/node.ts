/**
 * The libp2p node of djdns: TCP + Noise + Yamux, identify and ping, gossipsub (StrictNoSign,
 * message id = SHA-256(topic ‖ data), a topic validator per followed page that runs the
 * verifier), and the `/djdns/sync/1`, `/djdns/fetch/1` and `/djdns/status/1` streams. A thin
 * layer: every decision about pages and peers is made by the host (lib/node over lib/sync).
 *
 * Limits (a small router): at most {@linkcode LIMITS}.maxConnections connections, 8 inbound
 * handshakes in flight, 20 inbound connections per second per remote host, 2 inbound streams
 * per protocol and connection, frames of at most 9 MiB, gossip RPCs of at most 2 MiB.
 * docs/PROTOCOL.md §14–17.
 *
 * @module
 */
import { gossipsub, StrictNoSign, TopicValidatorResult } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Connection, PeerId, PrivateKey } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { sha256 } from "../crypto/mod.ts";
import { objectId, type SignedObject } from "../page/mod.ts";
import {
  type Call,
  parseRequest,
  parseResponse,
  type PeerBook,
  type PeerEvent,
  ProtocolError,
  respond,
  type SyncHost,
  type SyncReport,
  syncWith,
  topicOf,
} from "../sync/mod.ts";
import { isLoopback } from "./addr.ts";
import { type RpcClient, rpcClient, serveStream } from "./rpc.ts";

/** Stream protocol ids. */
export const PROTOCOLS = {
  sync: "/djdns/sync/1",
  fetch: "/djdns/fetch/1",
  status: "/djdns/status/1",
} as const;

/** Connection and stream limits (documented in docs/PROTOCOL.md §14). */
export const LIMITS = {
  maxConnections: 64,
  maxIncomingPendingConnections: 8,
  inboundConnectionThreshold: 20,
  maxInboundStreams: 2,
  maxOutboundStreams: 4,
  gossipMaxRpcBytes: 2 * 1024 * 1024,
  /** Peers the node tries to keep connected (it dials peers learned from others up to this). */
  targetPeers: 8,
  /** Addresses accepted in one peer-exchange answer. */
  maxExchangedAddrs: 16,
} as const;

/** What a gossip message was judged to be. */
export type Verdict = "accept" | "ignore" | "reject";

/** What the network needs from the node. */
export interface NetHost extends SyncHost {
  /** Judges a gossip message on a page topic (runs the verifier; stores what is new). */
  validate(pageId: string, data: Uint8Array, peer: string): Verdict;
  /** The status document served on `/djdns/status/1`. */
  status(): unknown;
  /** Peer standing (lib/sync). */
  readonly peers: PeerBook;
  /** Counts an event (`gossip.reject.bad-signature`, `stream.garbage`, …). */
  count(what: string, n?: number): void;
}

/** Options of {@linkcode startNetwork}. */
export interface NetOptions {
  /** The node key. */
  privateKey: PrivateKey;
  /** Listen multiaddrs. */
  listen: Multiaddr[];
  /** Bootstrap peers, dialed at start and again while not connected. */
  bootstrap: Multiaddr[];
  /** The node. */
  host: NetHost;
  /** Catch-up period with a random connected peer (default 15 s). */
  syncIntervalMs?: number;
  /** Peers learned from others are dialed while fewer are connected (default 8; 0: none). */
  targetPeers?: number;
  /** Clock (ms since the epoch). */
  now?: () => number;
  /** Logs a line. */
  log?: (level: "debug" | "info" | "warning", msg: string) => void;
}

/** A running network node. */
export interface Network {
  /** This node's peer id. */
  readonly peerId: string;
  /** Addresses it listens on (with /p2p/). */
  addrs(): string[];
  /** Subscribes to a page's topic (with its validator). */
  follow(pageId: string): void;
  /** Leaves a page's topic. */
  unfollow(pageId: string): void;
  /** Gossips verified objects of a page. */
  publish(pageId: string, objects: readonly SignedObject[], bytes: Uint8Array[]): Promise<void>;
  /** Connected peers. */
  connected(): { id: string; addr: string }[];
  /** Peers in the mesh of a page topic. */
  meshPeers(pageId: string): number;
  /** Asks up to `parallel` connected peers for a whole page; resolves with each peer's answer. */
  fetchPage(
    pageId: string,
    opts: { parallel: number; deadlineMs: number },
  ): Promise<FetchAnswer[]>;
  /** Closes every connection to a peer (after a ban). */
  hangUp(peer: string): void;
  /** Runs a catch-up session with one connected peer now. */
  syncPeer(peer: string): Promise<SyncReport | undefined>;
  /** Stops everything. */
  stop(): Promise<void>;
}

/** One peer's answer to a page fetch (unverified). */
export interface FetchAnswer {
  /** The peer. */
  peer: string;
  /** The page's objects (after `snapshot`'s last checkpoint when there is one). */
  objects: SignedObject[];
  /** The newest checkpoint chain and the state at it, when the peer has one. */
  snapshot?: { genesis: unknown; checkpoints: readonly unknown[]; state: unknown };
}

/** Message id of a gossip message: SHA-256(topic ‖ data). */
export function messageId(topic: string, data: Uint8Array): Uint8Array {
  const t = new TextEncoder().encode(topic);
  const buf = new Uint8Array(t.length + data.length);
  buf.set(t);
  buf.set(data, t.length);
  return sha256(buf);
}

/** Starts the network node. */
export async function startNetwork(opts: NetOptions): Promise<Network> {
  const { host } = opts;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  const node = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen.map((m) => m.toString()) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: LIMITS.maxConnections,
      maxIncomingPendingConnections: LIMITS.maxIncomingPendingConnections,
      inboundConnectionThreshold: LIMITS.inboundConnectionThreshold,
      dialTimeout: 5_000,
    },
    connectionGater: {
      denyDialPeer: (peer: PeerId) => host.peers.banned(peer.toString(), now()),
      denyInboundEncryptedConnection: (peer: PeerId) => host.peers.banned(peer.toString(), now()),
      // Loopback and private addresses are where test networks and LANs live.
      denyDialMultiaddr: () => false,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        msgIdFn: (m) => messageId(m.topic, m.data),
        maxInboundDataLength: LIMITS.gossipMaxRpcBytes,
        // IDONTWANT (gossipsub v1.2) for every message over 512 bytes: an event is announced
        // as unwanted to mesh peers as soon as it arrives, so it is not received many times.
        idontwantMinDataSize: 512,
        emitSelf: false,
      }),
    },
  });
  const pubsub = node.services.pubsub;
  const peerId = node.peerId.toString();
  let stopped = false;

  const note = (peer: string, event: PeerEvent, n = 1) => {
    if (host.peers.note(peer, event, now(), n)) {
      host.count("peers.banned");
      log("warning", `peer ${peer} banned (${event})`);
      hangUp(peer);
    }
  };
  function hangUp(peer: string): void {
    for (const c of node.getConnections()) {
      if (c.remotePeer.toString() === peer) c.abort(new Error("banned"));
    }
  }

  const validators = new Map<
    string,
    (p: PeerId, m: { data: Uint8Array }) => TopicValidatorResult
  >();

  function follow(pageId: string): void {
    const topic = topicOf(pageId);
    if (validators.has(topic)) return;
    const fn = (p: PeerId, m: { data: Uint8Array }) => {
      // The host scores the sender (it knows which objects were invalid).
      const v = host.validate(pageId, m.data, p.toString());
      return v === "accept"
        ? TopicValidatorResult.Accept
        : v === "ignore"
        ? TopicValidatorResult.Ignore
        : TopicValidatorResult.Reject;
    };
    validators.set(topic, fn);
    pubsub.topicValidators.set(topic, fn);
    pubsub.subscribe(topic);
  }

  function unfollow(pageId: string): void {
    const topic = topicOf(pageId);
    validators.delete(topic);
    pubsub.topicValidators.delete(topic);
    pubsub.unsubscribe(topic);
  }

  // Requests on the sync and fetch streams; both speak the same messages (lib/sync/session.ts).
  const handleSync = (value: unknown, peer: string) => {
    if (typeof value === "object" && value !== null && (value as { t?: unknown }).t === "peers") {
      return { t: "peers", addrs: exchangeAddrs(peer) };
    }
    return respond(host, parseRequest(value), peer);
  };
  const reportServe = (peer: string) => (event: string, detail?: string) => {
    if (event === "served") return;
    host.count(`stream.${event}`);
    if (event === "garbage") {
      log("debug", `garbage from ${peer}: ${detail}`);
      note(peer, "garbage");
    }
  };
  const streamOpts = {
    maxInboundStreams: LIMITS.maxInboundStreams,
    maxOutboundStreams: LIMITS.maxOutboundStreams,
  };
  await node.handle(PROTOCOLS.sync, (stream, connection) => {
    const peer = connection.remotePeer.toString();
    return serveStream(stream, connection, handleSync, reportServe(peer));
  }, streamOpts);
  await node.handle(PROTOCOLS.fetch, (stream, connection) => {
    const peer = connection.remotePeer.toString();
    return serveStream(stream, connection, (v) => {
      const req = parseRequest(v);
      if (req.t !== "fetch" && req.t !== "snap") {
        throw new ProtocolError("fetch stream: only fetch and snap requests");
      }
      return respond(host, req, peer);
    }, reportServe(peer));
  }, streamOpts);
  await node.handle(PROTOCOLS.status, (stream, connection) => {
    // The operator's view: served to clients on this machine only.
    if (!isLoopback(connection.remoteAddr)) {
      host.count("status.refused");
      stream.abort(new Error("status is served to loopback clients only"));
      return;
    }
    return serveStream(stream, connection, () => host.status(), () => {});
  }, streamOpts);

  /** Addresses of other connected peers, for peer exchange (bounded). */
  function exchangeAddrs(asker: string): string[] {
    const out: string[] = [];
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString();
      if (id === asker || c.direction !== "outbound" && !listenAddrOf(id)) continue;
      const addr = listenAddrOf(id) ?? `${c.remoteAddr.toString()}/p2p/${id}`;
      if (!out.includes(addr)) out.push(addr);
      if (out.length >= LIMITS.maxExchangedAddrs) break;
    }
    return out;
  }

  // Listen addresses peers told us through identify.
  const listenAddrs = new Map<string, string>();
  function listenAddrOf(id: string): string | undefined {
    return listenAddrs.get(id);
  }
  node.addEventListener("peer:identify", (e) => {
    const id = e.detail.peerId.toString();
    const addr = e.detail.listenAddrs.find((a) => a.toString().includes("/tcp/"));
    if (addr) {
      const full = `${addr.toString()}/p2p/${id}`;
      if (full.length <= 200) {
        if (listenAddrs.size > LIMITS.maxConnections * 4) listenAddrs.clear();
        listenAddrs.set(id, full);
        host.peers.seen(id, now(), full);
      }
    }
  });

  async function open(peer: string | Multiaddr, protocol: string): Promise<RpcClient> {
    const target = typeof peer === "string" ? connectionTo(peer)?.remotePeer : peer;
    if (target === undefined) throw new Error(`not connected to ${peer}`);
    const stream = await node.dialProtocol(target, protocol, {
      signal: AbortSignal.timeout(5_000),
    });
    return rpcClient(stream);
  }

  function connectionTo(peer: string): Connection | undefined {
    return node.getConnections().find((c) => c.remotePeer.toString() === peer);
  }

  const syncing = new Set<string>();
  async function syncPeer(peer: string): Promise<SyncReport | undefined> {
    if (syncing.has(peer) || stopped) return undefined;
    syncing.add(peer);
    let client: RpcClient | undefined;
    try {
      client = await open(peer, PROTOCOLS.sync);
      const call: Call = async (req) => parseResponse(await client!.call(req));
      const report = await syncWith(host, call, peer);
      host.count("sync.sessions");
      host.count("sync.pulled", report.pulled);
      host.count("sync.pushed", report.pushed);
      if (report.pulled + report.pushed > 0) {
        log("info", `sync with ${peer}: pulled ${report.pulled}, pushed ${report.pushed}`);
      }
      await exchangePeers(client, peer);
      return report;
    } catch (e) {
      if (e instanceof ProtocolError) {
        host.count("sync.protocol-error");
        note(peer, "garbage");
      } else {
        host.count("sync.failed");
      }
      log("debug", `sync with ${peer} failed: ${(e as Error).message}`);
      return undefined;
    } finally {
      syncing.delete(peer);
      await client?.close();
    }
  }

  const targetPeers = opts.targetPeers ?? LIMITS.targetPeers;
  async function exchangePeers(client: RpcClient, from: string): Promise<void> {
    if (node.getConnections().length >= targetPeers) return;
    const res = await client.call({ t: "peers" }) as { t?: string; addrs?: unknown };
    if (res?.t !== "peers" || !Array.isArray(res.addrs)) return;
    for (const a of res.addrs.slice(0, LIMITS.maxExchangedAddrs)) {
      if (node.getConnections().length >= targetPeers) break;
      if (typeof a !== "string" || a.length > 200) continue;
      let ma: Multiaddr;
      try {
        ma = multiaddr(a);
      } catch {
        continue;
      }
      const id = ma.getComponents().find((c) => c.name === "p2p")?.value;
      if (!id || id === peerId || connectionTo(id) || host.peers.banned(id, now())) continue;
      log("debug", `dialing ${a} (from ${from})`);
      node.dial(ma, { signal: AbortSignal.timeout(5_000) }).catch(() => {});
    }
  }

  node.addEventListener("connection:open", (e) => {
    // Peers enter the table through identify (with a listen address) or by what they send:
    // short-lived tool clients do not crowd out real peers.
    const c = e.detail;
    const id = c.remotePeer.toString();
    host.count("peers.connected");
    // Catch up with every new peer (after identify had a moment to run).
    setTimeout(() => void syncPeer(id), 200);
  });

  await node.start();
  log("info", `network: peer id ${peerId}`);

  // Bootstrap peers: dialed now and whenever we are not connected to them.
  const bootIds = new Map<string, string | undefined>();
  for (const b of opts.bootstrap) {
    bootIds.set(b.toString(), b.getComponents().find((c) => c.name === "p2p")?.value);
  }
  const dialBootstrap = () => {
    for (const b of opts.bootstrap) {
      const id = bootIds.get(b.toString());
      if (id && connectionTo(id)) continue;
      if (!id && node.getConnections().some((c) => c.remoteAddr.equals(b))) continue;
      node.dial(b, { signal: AbortSignal.timeout(5_000) }).then((c) => {
        bootIds.set(b.toString(), c.remotePeer.toString());
      }).catch((e) => log("debug", `bootstrap ${b}: ${(e as Error).message}`));
    }
  };
  dialBootstrap();
  const bootTimer = setInterval(dialBootstrap, 5_000);
  const syncTimer = setInterval(() => {
    const conns = node.getConnections();
    if (conns.length === 0) return;
    const c = conns[Math.floor(Math.random() * conns.length)];
    void syncPeer(c.remotePeer.toString());
  }, opts.syncIntervalMs ?? 15_000);

  return {
    peerId,
    addrs: () => node.getMultiaddrs().map((m) => m.toString()),
    follow,
    unfollow,
    async publish(pageId, _objects, bytes) {
      const topic = topicOf(pageId);
      for (const b of bytes) {
        try {
          await pubsub.publish(topic, b);
          host.count("gossip.published");
        } catch (e) {
          log("debug", `publish on ${topic}: ${(e as Error).message}`);
        }
      }
    },
    connected: () =>
      node.getConnections().map((c) => ({
        id: c.remotePeer.toString(),
        addr: c.remoteAddr.toString(),
      })),
    meshPeers: (pageId) => pubsub.getSubscribers(topicOf(pageId)).length,
    async fetchPage(pageId, { parallel, deadlineMs }) {
      const peers = node.getConnections().map((c) => c.remotePeer.toString())
        .filter((p, i, a) => a.indexOf(p) === i && !host.peers.banned(p, now()));
      // Best-scored peers first.
      peers.sort((a, b) => (host.peers.get(b)?.score ?? 0) - (host.peers.get(a)?.score ?? 0));
      const deadline = AbortSignal.timeout(deadlineMs);
      const one = async (peer: string) => {
        const client = await open(peer, PROTOCOLS.fetch);
        try {
          const objects: SignedObject[] = [];
          // The newest checkpoint first: then only what follows it.
          let snapshot: FetchAnswer["snapshot"];
          let after: string | undefined;
          const snap = parseResponse(await client.call({ t: "snap", page: pageId }));
          if (snap.t === "snap") {
            try {
              after = objectId(
                (snap.checkpoints.at(-1) as { checkpoint: SignedObject }).checkpoint,
              );
              snapshot = snap;
            } catch { /* malformed: fetch everything; the verifier judges it */ }
          }
          let from = 0;
          for (let i = 0; i < 1000 && !deadline.aborted; i++) {
            const req = { t: "fetch", page: pageId, from, ...(after ? { after } : {}) };
            const res = parseResponse(await client.call(req));
            if (res.t !== "objs") break;
            objects.push(...res.objects);
            if (res.next === undefined || res.next <= from) break;
            from = res.next;
          }
          return { peer, objects, snapshot };
        } finally {
          await client.close();
        }
      };
      const settled = await Promise.allSettled(peers.slice(0, parallel).map(one));
      const out: FetchAnswer[] = [];
      for (const s of settled) if (s.status === "fulfilled") out.push(s.value);
      return out;
    },
    syncPeer,
    hangUp,
    async stop() {
      stopped = true;
      clearInterval(bootTimer);
      clearInterval(syncTimer);
      await node.stop();
    },
  };
}
