/**
 * The registry a node serves: the root (a page directory's root file, a trust anchor file, or
 * the embedded root anchor), the verified signed pages (from the data directory, or the live
 * replicas of a networked node), and the resolver wired over them with the upstream forwarder.
 *
 * @module
 */
import { anchorLog } from "../anchor/bundle.ts";
import { ROOT_ANCHOR, ROOT_BUNDLE } from "../anchor/root_anchor.ts";
import { question } from "../dns/question.ts";
import { openAnchor, type PageLog, type TrustAnchor } from "../page/mod.ts";
import { parseBranchTable } from "../registry/branches.ts";
import { branchIndex } from "../registry/branch_index.ts";
import type { LoadedPage } from "../registry/source.ts";
import type { Damage, Store } from "../store/mod.ts";
import type { DamageBook } from "./store_check.ts";
import type { Forwarder } from "../forwarder/mod.ts";
import { loadPageDir, type PageSnapshot, signedPage, snapshotSource } from "../sources/mod.ts";
import {
  createResolver,
  DEFAULT_LIMITS,
  type Resolver,
  type UpstreamQuery,
} from "../registry/resolver.ts";
import type { PageSource } from "../registry/source.ts";
import type { Forward } from "../server/responder.ts";

/** A signed page's head, as the status page shows it. */
export interface HeadInfo {
  pageId: string;
  head: string;
  changed?: string;
}

/** The registry as loaded: where pages come from, and the current snapshot. */
export interface Registry {
  /** The current snapshot (swapped by reloads). */
  snapshot: PageSnapshot;
  /** Reloads pages (files and signed pages); throws when the new root is invalid. */
  reload(): Promise<PageSnapshot>;
  /** A description for logs. */
  describe: string;
  /** The signed pages held, with their heads, as of the last load. */
  heads(): HeadInfo[];
  /** Releases the data directory. */
  close(): void;
}

/** Where a registry's pages come from. */
export interface RegistryOptions {
  /** A directory of legacy page files (its root file is the root). */
  pagesDir?: string;
  /** Root file inside `pagesDir` (default root.json). */
  rootFile?: string;
  /** The data directory's store (signed pages), closed with the registry. */
  store?: Store;
  /** Named in `describe`. */
  dataDir?: string;
  /** The root trust anchor (default: the one embedded in this build). */
  anchor?: TrustAnchor;
  /**
   * The verified signed pages, when something other than the store's stored heads provides them
   * (a networked node's replicas).
   */
  signed?: () => { pages: Map<string, LoadedPage | Error>; heads: HeadInfo[] };
  /**
   * Pages whose stored records are damaged (lib/node/store_check.ts): each is served as an error
   * (its names answer SERVFAIL), whatever else holds it; damage met while reading the store is
   * noted in it.
   */
  damage?: DamageBook;
}

/**
 * Verified signed pages held in a data directory, as resolver pages keyed `djdns:<id>`. The
 * stored states were verified before they were written; they are read, not recomputed. Only what
 * the resolver uses is parsed, and parsed whole as a page file is (every selector, target and
 * record checked): a state's governance, and the frozen, hash-cached form the page engine keeps,
 * cost a 100,000-branch page about as much again at start-up and serve no query.
 */
export function storedPages(
  store: Store | undefined,
  onDamage?: (d: Damage) => void,
): { pages: Map<string, LoadedPage | Error>; heads: HeadInfo[] } {
  const pages = new Map<string, LoadedPage | Error>();
  const heads: HeadInfo[] = [];
  if (!store) return { pages, heads };
  for (const rec of store.listPages({ onDamage })) {
    if (rec.state === null) continue;
    heads.push({
      pageId: rec.pageId,
      head: rec.headId ?? "",
      changed: new Date(rec.updatedAt).toISOString(),
    });
    const key = `djdns:${rec.pageId}`;
    try {
      pages.set(key, { key, page: parseBranchTable(JSON.parse(rec.state), key) });
    } catch (e) {
      pages.set(key, e as Error);
    }
  }
  return { pages, heads };
}

// The embedded anchor with its bundled history, verified once per process.
let embedded: PageLog | undefined;

// The root of the anchor: its genesis (or checkpoint state) verified against the anchored id
// (for the embedded anchor, with the bundled history after it), or the newer verified head held
// for that page.
function anchorRoot(anchor: TrustAnchor, signed: Map<string, LoadedPage | Error>): LoadedPage {
  const key = `djdns:${anchor.page}`;
  const held = signed.get(key);
  if (held && !(held instanceof Error)) return held;
  const log = anchor === EMBEDDED_ANCHOR
    ? embedded ??= anchorLog(ROOT_ANCHOR, ROOT_BUNDLE)
    : openAnchor(anchor);
  return signedPage(anchor.page, log.state());
}

/** The embedded root trust anchor of this build. */
export const EMBEDDED_ANCHOR: TrustAnchor = ROOT_ANCHOR;

/** Loads the registry described by `opts`. */
export async function loadRegistry(opts: RegistryOptions): Promise<Registry> {
  const dir = opts.pagesDir;
  const rootFile = opts.rootFile ?? "root.json";
  const anchor = opts.anchor ?? EMBEDDED_ANCHOR;
  const damage = opts.damage;
  const signedNow = opts.signed ??
    (() => storedPages(opts.store, damage && ((d) => void damage.note(d))));
  let heads: HeadInfo[] = [];
  const load = async (): Promise<PageSnapshot> => {
    const { pages: signed, heads: loaded } = signedNow();
    heads = loaded;
    if (damage && damage.pages.size > 0) {
      // Withheld, not stale: the page's names answer SERVFAIL until the store is repaired. (A
      // damaged root falls back to the anchor's own verified state, as on a fresh node.)
      for (const [id, why] of damage.pages) signed.set(`djdns:${id}`, new Error(why));
      heads = loaded.filter((h) => !damage.has(h.pageId));
    }
    const errors = [...signed.values()].filter((p) => p instanceof Error).map((e) => e.message);
    if (dir !== undefined) {
      const snap = await loadPageDir(dir, rootFile);
      for (const [k, v] of signed) snap.pages.set(k, v);
      snap.errors.push(...errors);
      return snap;
    }
    const root = anchorRoot(anchor, signed);
    signed.set(root.key, root);
    return { dir: "", root, pages: signed, errors };
  };
  // Pages are indexed when they load, not by the first query that reaches them.
  const indexed = async () => {
    const snap = await load();
    for (const p of snap.pages.values()) if (!(p instanceof Error)) branchIndex(p.page);
    return snap;
  };
  const registry: Registry = {
    snapshot: await indexed(),
    async reload() {
      registry.snapshot = await indexed();
      return registry.snapshot;
    },
    describe: (dir === undefined ? `root anchor ${anchor.page}` : `${dir} (root ${rootFile})`) +
      (opts.dataDir === undefined ? "" : `, data ${opts.dataDir}`),
    heads: () => heads,
    close: () => opts.store?.close(),
  };
  return registry;
}

/**
 * Wires the registry and forwarder into a resolver. On a networked node, `net.onMissing` is asked
 * for a `djdns:` page the registry does not hold, with the page that links to it; it resolves
 * with the verified page, or rejects (the walk then answers SERVFAIL); `net.onUse` hears of every
 * signed page a walk used.
 */
export function resolverFor(
  registry: Registry,
  forwarder: Forwarder | undefined,
  hasDefault: boolean,
  net?: {
    onMissing: (pageId: string, from: LoadedPage) => Promise<LoadedPage>;
    onUse: (pageId: string) => void;
    /** How long `onMissing` may take: added to the walk's time limit. */
    waitMs: number;
  },
): Resolver {
  const upstream: UpstreamQuery | undefined = forwarder && (async (name, type, server) => {
    // The resolver asks without a server only when told there are default upstreams.
    if (!server && !hasDefault) throw new Error("no upstream configured");
    const r = await forwarder.query(question(name, type), server ? { upstreams: [server] } : {});
    return {
      rcode: r.bytes[3] & 0x0f,
      // deno-lint-ignore no-explicit-any
      answers: (r.packet.answers ?? []) as any,
      // deno-lint-ignore no-explicit-any
      authorities: (r.packet.authorities ?? []) as any,
    };
  });
  let serial = 1;
  let last = registry.snapshot;
  const base = snapshotSource(() => registry.snapshot);
  const source: PageSource = net ? withFetch(base, net.onMissing, net.onUse) : base;
  return createResolver({
    source,
    // The walk's time limit is wall-clock: a query that waits for a page from peers may take
    // that long more (the work limit still bounds the CPU it spends).
    limits: net ? { maxMs: DEFAULT_LIMITS.maxMs + net.waitMs } : undefined,
    upstream,
    defaultUpstreams: hasDefault,
    now: () => performance.now(),
    serial: () => {
      if (registry.snapshot !== last) {
        last = registry.snapshot;
        serial++;
      }
      return serial;
    },
  });
}

// A page source that asks the network for signed pages it does not hold.
function withFetch(
  inner: PageSource,
  onMissing: (pageId: string, from: LoadedPage) => Promise<LoadedPage>,
  onUse?: (pageId: string) => void,
): PageSource {
  return {
    root: () => inner.root(),
    view() {
      return withFetch(inner.view ? inner.view() : inner, onMissing, onUse);
    },
    get(target, from) {
      try {
        const page = inner.get(target, from);
        if (target.kind === "djdns") onUse?.(target.pageId);
        return page;
      } catch (e) {
        if (target.kind !== "djdns" || !/is not held/.test((e as Error).message)) throw e;
        return onMissing(target.pageId, from);
      }
    },
  };
}

/** Adapts the forwarder to the responder's {@linkcode Forward}. */
export function forwardFor(forwarder: Forwarder): Forward {
  return (question, dnssecOk, checkingDisabled) =>
    forwarder.query(question, { dnssecOk, checkingDisabled });
}
