/**
 * The flags `djdns run` and `djdns resolve` share: where the registry comes from and the
 * upstream forwarder. The wiring itself is lib/node/registry.ts.
 *
 * @module
 */
import { openStore, resolveDataDir, type Store, StoreError } from "../store/mod.ts";
import { createForwarder, defaultUpstreams, type Forwarder } from "../forwarder/mod.ts";
import { loadRegistry as loadNodeRegistry, type Registry } from "../node/registry.ts";
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
  --no-upstream            no default upstream: names outside the registry get REFUSED, a
                           CNAME leaving it is answered alone (dns:// targets of pages are
                           still asked)
  --upstream-timeout MS    time to wait for one upstream try (default 1500)`;

/**
 * Loads the registry for a command: the page directory of `--pages` (legacy flat files), or the
 * embedded root trust anchor; plus the signed pages of the data directory (`--data`, default only
 * in anchor mode). `writable` opens the data directory as its owner (the server); otherwise
 * read-only, which works beside a running node.
 */
export async function loadRegistry(
  values: Record<string, unknown>,
  writable: boolean,
): Promise<Registry> {
  const dir = values.pages as string | undefined;
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
    return await loadNodeRegistry({
      pagesDir: dir,
      rootFile: values.root as string | undefined,
      store,
      dataDir,
    });
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

export { forwardFor, type Registry, resolverFor } from "../node/registry.ts";
