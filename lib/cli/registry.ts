/**
 * The flags `djdns run` and `djdns resolve` share: where the registry comes from and the
 * upstream forwarder. The wiring itself is lib/node/registry.ts.
 *
 * @module
 */
import type { TrustAnchor } from "../page/mod.ts";
import { openStore, resolveDataDir, type Store, StoreError } from "../store/mod.ts";
import {
  createForwarder,
  defaultUpstreams,
  type Forwarder,
  type Upstream,
} from "../forwarder/mod.ts";
import { ipFamily } from "../dns/ip.ts";
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
  "upstream-ca": { type: "string" },
  "upstream-max": { type: "string" },
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
                           default: the nameservers of /etc/resolv.conf, minus djdns itself);
                           tls://ADDR[:PORT][#NAME] asks it over TLS (port 853, certificate
                           checked for NAME, else the address), https://ADDR[:PORT]/PATH over
                           HTTPS (RFC 8484; certificate checked for the address)
  --upstream-ca FILE       also trust the CA certificates (PEM) of FILE for TLS and HTTPS
                           upstreams (a private CA); certificates are always verified
  --no-upstream            no default upstream: names outside the registry get REFUSED, a
                           CNAME leaving it is answered alone (dns:// targets of pages are
                           still asked)
  --upstream-timeout MS    time to wait for one upstream try (default 1500)
  --upstream-max N         most upstream queries in flight at once, 1 to 65536 (default 256);
                           a UDP query beyond it is dropped, as dnsmasq's dns-forward-max`;

/**
 * Loads the registry for a command: the page directory of `--pages` (legacy flat files), or the
 * embedded root trust anchor; plus the signed pages of the data directory (`--data`, default only
 * in anchor mode). `writable` opens the data directory as its owner (the server); otherwise
 * read-only, which works beside a running node.
 */
export async function loadRegistry(
  values: Record<string, unknown>,
  writable: boolean,
  anchor?: TrustAnchor,
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
      anchor,
    });
  } catch (e) {
    store?.close();
    throw e;
  }
}

const TLS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parses one `--upstream`: `ADDR[:PORT]` (plain DNS, port 53), `tls://ADDR[:PORT][#NAME]` (DNS
 * over TLS, port 853, the certificate checked for NAME, else for the address) or
 * `https://ADDR[:PORT][/PATH]` (DNS over HTTPS, port 443, path /dns-query, the certificate
 * checked for the address). Addresses are IP literals: a name would be resolved by the system
 * resolver, which may be djdns itself.
 */
export function parseUpstream(text: string): Upstream {
  const bad = (why: string) => new UsageError(`--upstream: '${text}': ${why}`);
  if (text.startsWith("tls://")) {
    const [addr, name, extra] = text.slice(6).split("#");
    if (extra !== undefined || name === "" || (name !== undefined && !TLS_NAME.test(name))) {
      throw bad("the name after # must be a host name");
    }
    const at = parseHostPort(addr, 853, "--upstream");
    return { ...at, protocol: "tls", ...(name ? { tlsName: name.replace(/\.$/, "") } : {}) };
  }
  if (text.startsWith("https://")) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad("not a URL");
    }
    if (url.username || url.password || url.search || url.hash) {
      throw bad("no user, query or fragment in a DoH URL");
    }
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    if (ipFamily(host) === 0) {
      throw bad("the host must be an IP address (its certificate must name it)");
    }
    return {
      host,
      port: url.port === "" ? 443 : Number(url.port),
      protocol: "https",
      path: url.pathname === "/" ? "/dns-query" : url.pathname,
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw bad("scheme must be tls:// or https://");
  return parseHostPort(text, 53, "--upstream");
}

/** The upstreams named on the command line, or the defaults from resolv.conf. */
export async function upstreamsFrom(
  values: Record<string, unknown>,
  listen: HostPort[],
): Promise<Upstream[]> {
  if (values["no-upstream"]) {
    if (values.upstream) throw new UsageError("--upstream and --no-upstream exclude each other");
    return [];
  }
  const given = values.upstream as string[] | undefined;
  if (given) return given.map(parseUpstream);
  let text = "";
  try {
    text = await Deno.readTextFile("/etc/resolv.conf");
  } catch { /* no resolv.conf: no default upstreams */ }
  return defaultUpstreams(text, listen);
}

/**
 * Builds the forwarder, also when `upstreams` is empty (`--no-upstream`): the `dns://` targets of
 * pages name their own servers.
 */
export function forwarderFor(values: Record<string, unknown>, upstreams: Upstream[]): Forwarder {
  const t = values["upstream-timeout"] as string | undefined;
  const timeoutMs = t === undefined ? 1500 : Number(t);
  if (!/^\d+$/.test(t ?? "1") || timeoutMs < 10 || timeoutMs > 60_000) {
    throw new UsageError("--upstream-timeout must be a number of milliseconds from 10 to 60000");
  }
  const caFile = values["upstream-ca"] as string | undefined;
  let caCerts: string[] | undefined;
  if (caFile !== undefined) {
    try {
      caCerts = [Deno.readTextFileSync(caFile)];
    } catch (e) {
      throw new UsageError(`--upstream-ca: cannot read ${caFile}: ${(e as Error).message}`);
    }
    if (!caCerts[0].includes("-----BEGIN CERTIFICATE-----")) {
      throw new UsageError(`--upstream-ca: ${caFile} holds no PEM certificate`);
    }
  }
  const m = values["upstream-max"] as string | undefined;
  const maxInFlight = m === undefined ? undefined : Number(m);
  if (m !== undefined && (!/^\d+$/.test(m) || maxInFlight! < 1 || maxInFlight! > 65_536)) {
    throw new UsageError("--upstream-max must be a whole number from 1 to 65536");
  }
  return createForwarder({ upstreams, timeoutMs, caCerts, maxInFlight });
}

export { forwardFor, type Registry, resolverFor } from "../node/registry.ts";
