/**
 * The error a forwarded query rejects with.
 *
 * @module
 */
import type { Transport, Upstream } from "./types.ts";

/** Why a query was not answered: all tries failed, the in-flight bound was hit, the forwarder was
 * closed, or an upstream given with the query is not usable. */
export type ForwardErrorKind = "exhausted" | "overloaded" | "closed" | "invalid";

/** One failed try of a query. */
export interface FailedTry {
  /** The upstream asked. */
  upstream: Upstream;
  /** Transport of the failed exchange. */
  transport: Transport;
  /** Short reason: `timeout`, `SERVFAIL`, `REFUSED`, `network error: …`, … */
  reason: string;
}

/** Rejection of {@linkcode Forwarder.query}; the message names the upstreams tried and why. */
export class ForwardError extends Error {
  /** What kind of failure this is. */
  readonly kind: ForwardErrorKind;
  /** The tries made, in order (empty unless `kind` is `"exhausted"` or `"closed"`). */
  readonly tries: readonly FailedTry[];

  /** Creates a forward error; `tries` are appended to the message as `host:port/transport (reason)`. */
  constructor(kind: ForwardErrorKind, message: string, tries: readonly FailedTry[] = []) {
    const detail = tries.map((t) => `${formatUpstream(t.upstream)}/${t.transport} (${t.reason})`);
    super(detail.length > 0 ? `${message}: tried ${detail.join(", ")}` : message);
    this.name = "ForwardError";
    this.kind = kind;
    this.tries = tries;
  }
}

/**
 * `host:port` (brackets around IPv6 hosts) for plain DNS; `tls://host:port#name` and
 * `https://host:port/path` for the encrypted ones, as `--upstream` takes them.
 */
export function formatUpstream(upstream: Upstream): string {
  const { host, port, protocol = "dns" } = upstream;
  const at = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  if (protocol === "tls") return `tls://${at}${upstream.tlsName ? `#${upstream.tlsName}` : ""}`;
  if (protocol === "https") return `https://${at}${upstream.path ?? "/dns-query"}`;
  return at;
}
