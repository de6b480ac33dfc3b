/**
 * What `djdns run` and `djdns resolve` share: loading the registry (a page directory or the
 * embedded default), building the upstream forwarder, and wiring both into a resolver.
 *
 * @module
 */
import { DEFAULT_ROOT_PAGE } from "../anchor/default_root.ts";
import { createForwarder, defaultUpstreams, type Forwarder } from "../forwarder/mod.ts";
import { loadPageDir, type PageSnapshot, snapshotSource } from "../registry/files.ts";
import { parsePage } from "../registry/page.ts";
import { createResolver, type Resolver, type UpstreamQuery } from "../registry/resolver.ts";
import type { Forward } from "../server/responder.ts";
import { type HostPort, parseHostPort } from "./addr.ts";
import { UsageError } from "./usage.ts";

/** Options shared by the commands that resolve names. */
export const REGISTRY_OPTIONS = {
  pages: { type: "string" },
  root: { type: "string" },
  upstream: { type: "string", multiple: true },
  "no-upstream": { type: "boolean" },
  "upstream-timeout": { type: "string" },
} as const;

/** Help text of {@linkcode REGISTRY_OPTIONS}. */
export const REGISTRY_HELP =
  `  --pages DIR              serve the page files in DIR (original DJDNS format)
  --root FILE              root page inside DIR (default root.json)
  --upstream ADDR[:PORT]   upstream resolver for names outside the registry (repeatable;
                           default: the nameservers of /etc/resolv.conf, minus djdns itself)
  --no-upstream            forward nothing: names outside the registry get REFUSED
  --upstream-timeout MS    time to wait for one upstream try (default 1500)`;

/** The registry as loaded: where pages come from, and the current snapshot. */
export interface Registry {
  /** The current snapshot (swapped by reloads). */
  snapshot: PageSnapshot;
  /** Reloads the page directory; throws when the new root is invalid (the old stays). */
  reload(): Promise<PageSnapshot>;
  /** A description for logs: the directory or "embedded default root". */
  describe: string;
}

/** Loads the registry named by `--pages`/`--root`, or the embedded default root. */
export async function loadRegistry(values: Record<string, unknown>): Promise<Registry> {
  const dir = values.pages as string | undefined;
  const rootFile = (values.root as string | undefined) ?? "root.json";
  if (dir === undefined) {
    if (values.root !== undefined) throw new UsageError("--root needs --pages");
    const root = {
      key: "<embedded>",
      page: parsePage(DEFAULT_ROOT_PAGE, "<embedded default root>"),
    };
    const snapshot: PageSnapshot = {
      dir: "",
      root,
      pages: new Map([[root.key, root]]),
      errors: [],
    };
    return { snapshot, reload: () => Promise.resolve(snapshot), describe: "embedded default root" };
  }
  const registry: Registry = {
    snapshot: await loadPageDir(dir, rootFile),
    async reload() {
      registry.snapshot = await loadPageDir(dir, rootFile);
      return registry.snapshot;
    },
    describe: `${dir} (root ${rootFile})`,
  };
  return registry;
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
  return (name, qtype, qclass, dnssecOk) => forwarder.query(name, qtype, qclass, { dnssecOk });
}
