/**
 * What `djdns run` and `djdns resolve` share: loading the registry (a page directory or the
 * embedded default), building the upstream forwarder, and wiring both into a resolver.
 *
 * @module
 */
import { ROOT_GENESIS, ROOT_PAGE_ID } from "../anchor/root_anchor.ts";
import { openAnchor } from "../page/mod.ts";
import { parsePage } from "../registry/page.ts";
import { signedPage } from "../registry/signed.ts";
import type { LoadedPage } from "../registry/source.ts";
import { openStore, resolveDataDir, type Store, StoreError } from "../store/mod.ts";
import { createForwarder, defaultUpstreams, type Forwarder } from "../forwarder/mod.ts";
import { branchIndex } from "../registry/branch_index.ts";
import { loadPageDir, type PageSnapshot, snapshotSource } from "../registry/files.ts";
import { createResolver, type Resolver, type UpstreamQuery } from "../registry/resolver.ts";
import type { Forward } from "../server/responder.ts";
import { type HostPort, parseHostPort } from "./addr.ts";
import { UsageError } from "./usage.ts";

/** Options shared by the commands that resolve names. */
export const REGISTRY_OPTIONS = {
  pages: { type: "string" },
  root: { type: "string" },
  data: { type: "string" },
  upstream: { type: "string", multiple: true },
  "no-upstream": { type: "boolean" },
  "upstream-timeout": { type: "string" },
} as const;

/** Help text of {@linkcode REGISTRY_OPTIONS}. */
export const REGISTRY_HELP =
  `  --pages DIR              serve the page files in DIR (original DJDNS format) instead of
                           the embedded root trust anchor
  --root FILE              root page inside DIR (default root.json)
  --data DIR               data directory with the verified signed pages (default without
                           --pages: $XDG_DATA_HOME/djdns, else ~/.local/share/djdns; with
                           --pages: none unless given)
  --upstream ADDR[:PORT]   upstream resolver for names outside the registry (repeatable;
                           default: the nameservers of /etc/resolv.conf, minus djdns itself)
  --no-upstream            forward nothing: names outside the registry get REFUSED
  --upstream-timeout MS    time to wait for one upstream try (default 1500)`;

/** The registry as loaded: where pages come from, and the current snapshot. */
export interface Registry {
  /** The current snapshot (swapped by reloads). */
  snapshot: PageSnapshot;
  /** Reloads pages (files and stored signed pages); throws when the new root is invalid. */
  reload(): Promise<PageSnapshot>;
  /** A description for logs. */
  describe: string;
  /** Releases the data directory. */
  close(): void;
}

// Verified signed pages held in the data directory, as resolver pages keyed `djdns:<id>`. The
// stored states were verified before they were written; they are read, not recomputed. Only what
// the resolver uses is parsed, and parsed whole as a page file is (every selector, target and
// record checked): a state's governance, and the frozen, hash-cached form the page engine keeps,
// cost a 100,000-branch page about as much again at start-up and serve no query.
function storedPages(store: Store | undefined): Map<string, LoadedPage | Error> {
  const pages = new Map<string, LoadedPage | Error>();
  if (!store) return pages;
  for (const rec of store.listPages()) {
    if (rec.state === null) continue;
    const key = `djdns:${rec.pageId}`;
    try {
      pages.set(key, { key, page: parsePage(JSON.parse(rec.state), key) });
    } catch (e) {
      pages.set(key, e as Error);
    }
  }
  return pages;
}

// The root of the embedded anchor: the genesis verified against the anchored id, or the newer
// verified head the data directory holds for that page.
function anchorRoot(signed: Map<string, LoadedPage | Error>): LoadedPage {
  const key = `djdns:${ROOT_PAGE_ID}`;
  const stored = signed.get(key);
  if (stored && !(stored instanceof Error)) return stored;
  const log = openAnchor({ page: ROOT_PAGE_ID, genesis: ROOT_GENESIS });
  return signedPage(ROOT_PAGE_ID, log.state());
}

/**
 * Loads the registry: the page directory of `--pages` (legacy flat files), or the embedded root
 * trust anchor; plus the signed pages of the data directory (`--data`, default only in anchor
 * mode). `writable` opens the data directory as its owner (the server); otherwise read-only,
 * which works beside a running node.
 */
export async function loadRegistry(
  values: Record<string, unknown>,
  writable: boolean,
): Promise<Registry> {
  const dir = values.pages as string | undefined;
  const rootFile = (values.root as string | undefined) ?? "root.json";
  if (dir === undefined && values.root !== undefined) throw new UsageError("--root needs --pages");
  let dataDir = values.data as string | undefined;
  if (dataDir === undefined && dir === undefined) dataDir = resolveDataDir();
  let store: Store | undefined;
  if (dataDir !== undefined) {
    try {
      store = openStore(dataDir, writable ? {} : { readOnly: true });
    } catch (e) {
      // Reading beside a node that has never written anything: no signed pages yet.
      if (writable || !(e instanceof StoreError && e.code === "not-found")) throw e;
    }
  }
  try {
    const load = async (): Promise<PageSnapshot> => {
      const signed = storedPages(store);
      const errors = [...signed.values()].filter((p) => p instanceof Error).map((e) => e.message);
      if (dir !== undefined) {
        const snap = await loadPageDir(dir, rootFile);
        for (const [k, v] of signed) snap.pages.set(k, v);
        snap.errors.push(...errors);
        return snap;
      }
      const root = anchorRoot(signed);
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
      describe: (dir === undefined ? `root anchor ${ROOT_PAGE_ID}` : `${dir} (root ${rootFile})`) +
        (dataDir === undefined ? "" : `, data ${dataDir}`),
      close: () => store?.close(),
    };
    return registry;
  } catch (e) {
    store?.close();
    throw e;
  }
}

/** The upstreams named on the command line, or the defaults from resolv.conf. */
export async function upstreamsFrom(
  values: Record<string, unknown>,
  listen: HostPort[],
): Promise<HostPort[]> {
  if (values["no-upstream"]) {
    if (values.upstream) throw new UsageError("--upstream and --no-upstream exclude each other");
    return [];
  }
  const given = values.upstream as string[] | undefined;
  if (given) return given.map((u) => parseHostPort(u, 53, "--upstream"));
  let text = "";
  try {
    text = await Deno.readTextFile("/etc/resolv.conf");
  } catch { /* no resolv.conf: no default upstreams */ }
  return defaultUpstreams(text, listen);
}

/** Builds the forwarder, or undefined when there is nothing to forward to. */
export function forwarderFor(values: Record<string, unknown>, upstreams: HostPort[]): Forwarder {
  const t = values["upstream-timeout"] as string | undefined;
  const timeoutMs = t === undefined ? 1500 : Number(t);
  if (!/^\d+$/.test(t ?? "1") || timeoutMs < 10 || timeoutMs > 60_000) {
    throw new UsageError("--upstream-timeout must be a number of milliseconds from 10 to 60000");
  }
  return createForwarder({ upstreams, timeoutMs });
}

/** Wires the registry and forwarder into a resolver. */
export function resolverFor(
  registry: Registry,
  forwarder: Forwarder | undefined,
  hasDefault: boolean,
): Resolver {
  const upstream: UpstreamQuery | undefined = forwarder && (async (name, type, server) => {
    if (!server && !hasDefault) throw new Error("no upstream configured");
    const r = await forwarder.query(name, type, "IN", server ? { upstreams: [server] } : {});
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
  return createResolver({
    source: snapshotSource(() => registry.snapshot),
    upstream,
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

/** Adapts the forwarder to the responder's {@linkcode Forward}. */
export function forwardFor(forwarder: Forwarder): Forward {
  return (name, qtype, qclass, dnssecOk, checkingDisabled) =>
    forwarder.query(name, qtype, qclass, { dnssecOk, checkingDisabled });
}
