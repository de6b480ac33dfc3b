/**
 * The pages a networked node holds: one replica (lib/sync) per followed page, loaded from the
 * store at start, fed by gossip, sync and fetch, persisted batch by batch (verified first, then
 * stored), and offered to the resolver. Implements the network's host interface (lib/net):
 * gossip validation, the sync responder's view, scoring, counters and the status document.
 *
 * What is followed: the root, and every page a query used (fetched on demand when missing,
 * dropped after `unusedMs` without use); with `follow: "all"`, every page linked from a followed
 * page, for ever (a full replica).
 *
 * @module
 */
import {
  canonicalize,
  checkObject,
  decodeObject,
  linkedPageIds,
  objectId,
  openAnchor,
  openSubPage,
  type PageLog,
  type PageState,
  type SignedObject,
  SignedPageError,
  type TrustAnchor,
} from "../page/mod.ts";
import { signedPage } from "../sources/mod.ts";
import type { LoadedPage } from "../registry/source.ts";
import {
  type Damage,
  fromStoredObject,
  loadPageLog,
  pageLogBatch,
  type Store,
  type StoreError,
  toStoredObject,
} from "../store/mod.ts";
import {
  createPeerBook,
  createReplica,
  type ObjectResult,
  pageOf,
  type PageSummary,
  type PeerBook,
  type Replica,
} from "../sync/mod.ts";
import type { NetHost, Network, Verdict } from "../net/mod.ts";
import type { HeadInfo } from "./registry.ts";
import type { DamageBook, StoreCheckStatus } from "./store_check.ts";

/** How a batch of objects arrived. */
export type Arrival = "gossip" | "push" | "pull" | "fetch";

/** Options of {@linkcode openPageSet}. */
export interface PageSetOptions {
  store: Store;
  anchor: TrustAnchor;
  follow: "used" | "all";
  /** A page (other than the root) unused this long is no longer followed. */
  unusedMs: number;
  /** Deadline of an on-demand fetch. */
  fetchDeadlineMs: number;
  now: () => number;
  /** Called after heads moved (the registry reloads). */
  onChange: () => void;
  log: (level: "debug" | "info" | "warning" | "error", msg: string) => void;
  /**
   * Pages whose stored records are damaged (lib/node/store_check.ts): never loaded, written,
   * followed, fetched or served to peers. Damage met while loading is noted in it.
   */
  damage?: DamageBook;
  /** The background check of stored records, for the status document. */
  storeCheck?: () => StoreCheckStatus | undefined;
}

/** The node's pages. */
export interface PageSet extends NetHost {
  /** Pages for the registry: resolver pages keyed `djdns:<id>`, and heads. */
  pages(): { pages: Map<string, LoadedPage | Error>; heads: HeadInfo[] };
  /** Connects the network (gossip out, fetch, follow). */
  attach(network: Network): void;
  /** Marks a page as used by a query now. */
  touch(pageId: string): void;
  /** Fetches, verifies and follows a page linked from `from`, within the deadline. */
  fetchMissing(pageId: string, from: LoadedPage): Promise<LoadedPage>;
  /** Verifies, stores and publishes objects (a local client's or a peer's). */
  ingestFrom(objects: readonly unknown[], source: string | undefined, how: Arrival): ObjectResult[];
  /** Drops pages unused for too long; returns how many. */
  sweep(): number;
  /** Writes the peer table to the store. */
  savePeers(): void;
  /** Counters, by name. */
  counters(): Record<string, number>;
  /**
   * Drops pages whose stored records are damaged: no longer served, stored, followed or offered
   * to peers (they are in `damage`, so nothing brings them back until a restart). The caller
   * reloads the registry.
   */
  quarantine(pageIds: readonly string[]): void;
}

/** Opens the followed pages of the store and the root of `anchor` (storing it on first start). */
export function openPageSet(opts: PageSetOptions): PageSet {
  const { store, anchor, now, log, damage } = opts;
  const isDamaged = (pageId: string) => damage?.has(pageId) === true;
  const replicas = new Map<string, Replica>();
  const lastUsed = new Map<string, number>();
  const loaded = new Map<string, { head: string; page: LoadedPage | Error }>();
  const counts: Record<string, number> = {};
  const advertised = new Map<string, number>(); // page → highest height a peer advertised
  const peers: PeerBook = createPeerBook();
  let network: Network | undefined;

  const count = (what: string, n = 1) => {
    if (n !== 0) counts[what] = (counts[what] ?? 0) + n;
  };
  /** Lowers a peer's standing; a peer banned by it is disconnected. */
  const blame = (peer: string, event: "invalid" | "undelivered") => {
    if (peers.note(peer, event, now())) {
      count("peers.banned");
      log("warning", `peer ${peer} banned (${event})`);
      network?.hangUp(peer);
    }
  };

  function add(log: PageLog, stored: SignedObject[]): Replica {
    const r = createReplica(log, stored);
    replicas.set(log.pageId, r);
    lastUsed.set(log.pageId, now());
    return r;
  }

  const noted = damage && ((d: Damage) => void damage.note(d));
  for (const rec of store.listPages({ following: true, onDamage: noted })) {
    if (rec.headId === null) continue;
    try {
      const log = loadPageLog(store, rec.pageId);
      add(log, store.objectsOf(rec.pageId).map(fromStoredObject));
    } catch (e) {
      const d = (e as StoreError).damage;
      if (d && damage) damage.note(d);
      log("error", `page ${rec.pageId} not loaded from the store: ${(e as Error).message}`);
    }
  }
  // A damaged root is not rebuilt over its damaged rows: the registry serves the embedded
  // anchor's own state, and nothing is written until the store is repaired.
  if (!replicas.has(anchor.page) && !isDamaged(anchor.page)) {
    const rootLog = openAnchor(anchor);
    const cps = rootLog.checkpoints();
    const batch = pageLogBatch(
      rootLog,
      cps.length > 0 && anchor.state
        ? {
          checkpointId: objectId(cps[cps.length - 1].checkpoint),
          state: canonicalize(anchor.state),
        }
        : undefined,
    );
    store.putBatch({ ...batch, follow: [{ pageId: anchor.page, following: true }] });
    add(rootLog, []);
  }
  for (const p of store.listPeers({ includeBanned: true, limit: 1024 })) {
    const id = /\/p2p\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(p.address)?.[1];
    if (id) peers.restore({ id, addrs: [p.address], ...p });
  }

  function headUpdate(r: Replica) {
    const state = r.log.state();
    return {
      pageId: r.pageId,
      headId: r.log.head(),
      // The store checks that the text hashes to the state hash: the canonical form, not
      // JSON.stringify's insertion order (a record written {rtype, rdata} was refused).
      state: canonicalize(state),
      stateHash: r.log.stateHash(),
    };
  }

  /** Persists what a replica verified; true when its head moved. */
  function persist(r: Replica, objects: SignedObject[], headChanged: boolean): void {
    if (objects.length === 0 && !headChanged) return;
    try {
      store.putBatch({
        objects: objects.map(toStoredObject),
        heads: headChanged ? [headUpdate(r)] : [],
      });
      count("store.objects", objects.length);
    } catch (e) {
      count("store.error");
      log("error", `storing ${objects.length} object(s) of ${r.pageId}: ${(e as Error).message}`);
    }
  }

  /** Follows a new page: stores its genesis (and what came with it), subscribes. */
  function follow(plog: PageLog, root?: { checkpointId: string; state: PageState }): Replica {
    const chain = plog.checkpoints().flatMap((l) => [l.checkpoint, ...l.approvals]);
    const r = add(plog, chain);
    try {
      store.putBatch({
        ...pageLogBatch(
          plog,
          root && { checkpointId: root.checkpointId, state: canonicalize(root.state) },
        ),
        follow: [{ pageId: plog.pageId, following: true }],
      });
    } catch (e) {
      count("store.error");
      log("error", `storing page ${plog.pageId}: ${(e as Error).message}`);
    }
    network?.follow(plog.pageId);
    log("info", `following page ${plog.pageId}`);
    return r;
  }

  /** A genesis linked from a held page's head: opens and follows it. */
  function openLinked(g: SignedObject): Replica | undefined {
    const id = objectId(g);
    for (const parent of replicas.values()) {
      if (!linkedPageIds(parent.log.state()).includes(id)) continue;
      try {
        return follow(openSubPage(parent.log, g as never));
      } catch (e) {
        if (!(e instanceof SignedPageError)) throw e;
      }
    }
    return undefined;
  }

  let changed = false;
  function ingestFrom(
    raw: readonly unknown[],
    source: string | undefined,
    how: Arrival,
  ): ObjectResult[] {
    const results: ObjectResult[] = new Array(raw.length);
    const byPage = new Map<string, { obj: SignedObject; i: number }[]>();
    raw.forEach((value, i) => {
      let obj: SignedObject;
      try {
        obj = checkObject(value);
      } catch (e) {
        if (!(e instanceof SignedPageError)) throw e;
        results[i] = { id: "", outcome: "invalid", code: e.code, reason: e.message };
        return;
      }
      const page = pageOf(obj);
      if (isDamaged(page)) {
        results[i] = {
          id: obj.type === "genesis" ? page : objectId(obj),
          outcome: "dropped",
          code: "damaged-page",
          reason: `this node's stored copy of page ${page} is damaged`,
        };
        return;
      }
      if (obj.type === "genesis") {
        if (replicas.has(page)) results[i] = { id: page, outcome: "duplicate" };
        else if (openLinked(obj)) {
          results[i] = { id: page, outcome: "added" };
          changed = true;
        } else {
          results[i] = {
            id: page,
            outcome: "dropped",
            code: "not-linked",
            reason: "no followed page links to this page",
          };
        }
        return;
      }
      if (!replicas.has(page)) {
        results[i] = {
          id: objectId(obj),
          outcome: "dropped",
          code: "unknown-page",
          reason: `page ${page} is not followed by this node`,
        };
        return;
      }
      const list = byPage.get(page) ?? [];
      list.push({ obj, i });
      byPage.set(page, list);
    });
    for (const [page, list] of byPage) {
      const r = replicas.get(page)!;
      const ing = r.ingest(list.map((x) => x.obj));
      list.forEach((x, j) => results[x.i] = ing.results[j]);
      persist(r, ing.persist, ing.headChanged);
      if (ing.headChanged) {
        changed = true;
        log("info", `page ${page}: head ${r.log.head()} (height ${r.log.height(r.log.head())})`);
        if (opts.follow === "all") followLinks(r);
      }
      // Pushed by a peer or a local client: new to us, so gossip it on (gossip forwards itself).
      // Evidence of equivocation this node derived from approvals goes out however they came.
      if (network) {
        const given = new Set(list.map((x) => x.obj));
        const out = how === "push"
          ? list.filter((_, j) => ing.results[j].outcome === "added").map((x) => x.obj)
          : [];
        for (const o of ing.persist) {
          if (o.type === "evidence" && !given.has(o)) {
            out.push(o);
            count("evidence.derived");
          }
        }
        if (out.length > 0) void network.publish(page, out, out.map(canonical));
      }
    }
    for (const r of results) {
      count(`${how}.${r.outcome}${r.code ? `.${r.code}` : ""}`);
      if (source === undefined) continue;
      if (r.outcome === "invalid") {
        blame(source, "invalid");
      } else if (r.outcome === "added" && peers.get(source)) {
        peers.note(source, "useful", now());
      }
    }
    if (changed) {
      changed = false;
      opts.onChange();
    }
    return results;
  }

  function canonical(o: SignedObject): Uint8Array {
    return toStoredObject(o).bytes;
  }

  // --follow all: fetch every page linked from a followed page that is not held yet.
  const fetching = new Map<string, Promise<Replica | undefined>>();
  function followLinks(r: Replica): void {
    for (const id of linkedPageIds(r.log.state())) {
      if (!replicas.has(id) && !fetching.has(id) && !isDamaged(id)) {
        void fetchAndOpen(id, r).catch(() => {});
      }
    }
  }

  function fetchAndOpen(pageId: string, parent: Replica): Promise<Replica | undefined> {
    const running = fetching.get(pageId);
    if (running) return running;
    const p = (async () => {
      if (!network || isDamaged(pageId)) return undefined;
      count("fetch.started");
      const answers = await network.fetchPage(pageId, {
        parallel: 3,
        deadlineMs: opts.fetchDeadlineMs,
      });
      let r = replicas.get(pageId);
      // Answers with the newest checkpoint first: a page starts from its newest verified
      // checkpoint chain rather than from its genesis.
      const cpHeight = (a: (typeof answers)[number]) => {
        const last = a.snapshot?.checkpoints.at(-1) as { checkpoint?: { height?: unknown } };
        return typeof last?.checkpoint?.height === "number" ? last.checkpoint.height : -1;
      };
      answers.sort((x, y) => cpHeight(y) - cpHeight(x));
      for (const a of answers) {
        if (r === undefined && a.snapshot) {
          try {
            const chain = a.snapshot.checkpoints.map((l) => {
              const link = l as { checkpoint: unknown; approvals: unknown[] };
              return {
                checkpoint: checkObject(link.checkpoint, "checkpoint"),
                approvals: link.approvals.map((x) => checkObject(x, "checkpoint-approval")),
              };
            });
            const plog = openSubPage(
              parent.log,
              checkObject(a.snapshot.genesis, "genesis"),
              chain,
              a.snapshot.state as PageState,
            );
            r = follow(plog, {
              checkpointId: objectId(chain[chain.length - 1].checkpoint),
              state: plog.state(),
            });
            count("fetch.from-checkpoint");
          } catch (e) {
            if (!(e instanceof SignedPageError) && !(e instanceof TypeError)) throw e;
            count("fetch.bad-snapshot");
            blame(a.peer, "invalid");
          }
        }
        const g = a.objects.find((o) => {
          try {
            return objectId(checkObject(o)) === pageId;
          } catch {
            return false;
          }
        });
        if (r === undefined) {
          if (g === undefined) continue;
          try {
            r = follow(openSubPage(parent.log, checkObject(g, "genesis")));
          } catch (e) {
            if (!(e instanceof SignedPageError)) throw e;
            count("fetch.not-linked");
            continue; // not the page the parent links to: that peer answered with junk
          }
        }
        ingestFrom(a.objects.filter((o) => o !== g), a.peer, "fetch");
      }
      count(r ? "fetch.ok" : "fetch.failed");
      if (r) opts.onChange();
      return r;
    })();
    fetching.set(pageId, p);
    p.finally(() => fetching.delete(pageId));
    return p;
  }

  return {
    peers,
    count,
    counters: () => ({ ...counts }),
    replica: (id) => replicas.get(id),
    followed: () => [...replicas.values()],
    ingest: (objects, source, how) => ingestFrom(objects, source, how),
    ingestFrom,
    undelivered(peer, page, head) {
      count("sync.undelivered");
      log("warning", `peer ${peer} advertised head ${head} of ${page} and did not deliver it`);
      blame(peer, "undelivered");
    },
    advertised(_peer: string, s: PageSummary) {
      const best = advertised.get(s.page) ?? 0;
      if (s.height > best) advertised.set(s.page, s.height);
    },
    validate(pageId, data, peer): Verdict {
      let obj: SignedObject;
      try {
        obj = decodeObject(data);
      } catch (e) {
        const code = e instanceof SignedPageError ? e.code : "malformed";
        count(`gossip.invalid.${code}`);
        blame(peer, "invalid");
        return "reject";
      }
      if (pageOf(obj) !== pageId) {
        count("gossip.invalid.wrong-topic");
        blame(peer, "invalid");
        return "reject";
      }
      const [r] = ingestFrom([obj], peer, "gossip");
      return r.outcome === "added" ? "accept" : r.outcome === "invalid" ? "reject" : "ignore";
    },
    status() {
      return {
        peerId: network?.peerId,
        addrs: network?.addrs() ?? [],
        connected: network?.connected() ?? [],
        peers: peers.list().slice(0, 64).map((p) => ({
          id: p.id,
          addr: p.addrs[0],
          score: p.score,
          bannedUntil: p.bannedUntil > now() ? new Date(p.bannedUntil).toISOString() : undefined,
          counts: p.counts,
        })),
        pages: [...replicas.values()].map((r) => {
          const s = r.summary();
          const best = advertised.get(r.pageId) ?? s.height;
          return {
            page: r.pageId,
            head: s.head,
            height: s.height,
            objects: s.n,
            lag: Math.max(0, best - s.height),
            root: r.pageId === anchor.page,
          };
        }),
        counters: { ...counts },
        store: opts.storeCheck?.(),
      };
    },
    pages() {
      const pages = new Map<string, LoadedPage | Error>();
      const heads: HeadInfo[] = [];
      for (const r of replicas.values()) {
        const head = r.log.head();
        let entry = loaded.get(r.pageId);
        if (entry === undefined || entry.head !== head) {
          let page: LoadedPage | Error;
          try {
            page = signedPage(r.pageId, r.log.state());
          } catch (e) {
            page = e as Error;
          }
          entry = { head, page };
          loaded.set(r.pageId, entry);
        }
        pages.set(`djdns:${r.pageId}`, entry.page);
        heads.push({ pageId: r.pageId, head });
      }
      return { pages, heads };
    },
    attach(n) {
      network = n;
      for (const id of replicas.keys()) n.follow(id);
      if (opts.follow === "all") { for (const r of replicas.values()) followLinks(r); }
    },
    touch(pageId) {
      if (replicas.has(pageId)) lastUsed.set(pageId, now());
    },
    async fetchMissing(pageId, from) {
      const withheld = damage?.pages.get(pageId);
      if (withheld !== undefined) throw new Error(withheld);
      const parent = replicas.get(from.key.replace(/^djdns:/, ""));
      if (!network || !parent) throw new Error(`signed page ${pageId} is not held by this node`);
      const deadline = new Promise<undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), opts.fetchDeadlineMs);
        Deno.unrefTimer(t);
      });
      const r = await Promise.race([fetchAndOpen(pageId, parent), deadline]);
      if (!r) {
        count("fetch.deadline");
        throw new Error(`signed page ${pageId}: no verified copy arrived in time`);
      }
      lastUsed.set(pageId, now());
      return signedPage(pageId, r.log.state());
    },
    sweep() {
      if (opts.follow === "all") {
        // A full replica retries the linked pages no peer could deliver before.
        for (const r of [...replicas.values()]) followLinks(r);
        return 0;
      }
      let dropped = 0;
      for (const [id, t] of lastUsed) {
        if (id === anchor.page || now() - t < opts.unusedMs) continue;
        replicas.delete(id);
        lastUsed.delete(id);
        loaded.delete(id);
        network?.unfollow(id);
        try {
          store.follow(id, false);
        } catch { /* kept followed; retried next sweep */ }
        dropped++;
        log("info", `page ${id} unused: no longer followed`);
      }
      if (dropped > 0) opts.onChange();
      return dropped;
    },
    quarantine(pageIds) {
      for (const id of pageIds) {
        lastUsed.delete(id);
        loaded.delete(id);
        if (!replicas.delete(id)) continue;
        network?.unfollow(id);
        log("error", `page ${id}: stored records damaged; no longer served or replicated`);
      }
    },
    savePeers() {
      const rows = peers.list().filter((p) => p.addrs.length > 0).map((p) => ({
        address: p.addrs[0],
        score: p.score,
        bannedUntil: p.bannedUntil,
        lastSeen: p.lastSeen,
      }));
      try {
        if (rows.length > 0) store.putPeers(rows);
      } catch (e) {
        log("warning", `saving peers: ${(e as Error).message}`);
      }
    },
  };
}
