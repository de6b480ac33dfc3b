/**
 * resolv.conf(5) parsing: which upstreams to use when none are configured. Pure: takes the file's
 * text, so callers read the file and tests pass strings.
 *
 * @module
 */
import { canonicalHost, ipFamily, isLoopback, isUnspecified, stripScope } from "../dns/ip.ts";
import type { Upstream } from "./types.ts";

/**
 * The `nameserver` addresses of a resolv.conf, in file order, without duplicates. IPv6 zones
 * (`%eth0`) are stripped, since replies are matched by address; entries that are not IP literals,
 * comments (`#` or `;`, at line start or after the address) and all other options are ignored.
 * An empty result means the file names no server; glibc would then fall back to 127.0.0.1,
 * which is left to the caller to decide.
 */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/[#;].*$/, "").trim();
    const [keyword, address] = line.split(/\s+/);
    if (keyword !== "nameserver" || address === undefined) continue;
    if (ipFamily(address) === 0) continue;
    const host = canonicalHost(stripScope(address));
    if (!servers.includes(host)) servers.push(host);
  }
  return servers;
}

/**
 * The upstreams (port 53) that a resolv.conf names, minus djdns itself, so that a node listening
 * on the address its own resolv.conf points at does not forward to itself in a loop. Dropped:
 * an entry equal to one of `ownListen` (same address and port 53); and, when djdns listens on a
 * wildcard (`0.0.0.0` or `::`) on port 53, every loopback or unspecified entry. A non-loopback
 * address of this host named in resolv.conf is not detected (that would need interface lookups).
 */
export function defaultUpstreams(text: string, ownListen: readonly Upstream[]): Upstream[] {
  const own = ownListen.filter((l) => l.port === 53).map((l) => canonicalHost(l.host));
  const wildcard = own.some(isUnspecified);
  return parseResolvConf(text)
    .filter((host) => !own.includes(host))
    .filter((host) => !(wildcard && (isLoopback(host) || isUnspecified(host))))
    .map((host) => ({ host, port: 53 }));
}
