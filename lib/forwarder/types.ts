/**
 * Shared shapes of the forwarder: upstreams, options and results.
 *
 * @module
 */
import type { DecodedPacket } from "dns-packet";
import type { UpstreamCounts } from "./stats.ts";
import type { Question } from "../dns/question.ts";

/**
 * How an upstream is asked: plain DNS (UDP, TCP after truncation), DNS over TLS (RFC 7858) or
 * DNS over HTTPS (RFC 8484).
 */
export type UpstreamProtocol = "dns" | "tls" | "https";

/** An upstream DNS server: an IPv4 or IPv6 literal (no brackets, no scope) and a port. */
export interface Upstream {
  /** IPv4 or IPv6 address literal, e.g. `"127.0.0.1"` or `"::1"`. */
  host: string;
  /** Port: usually 53, 853 for TLS, 443 for HTTPS. */
  port: number;
  /** How to ask it; default `"dns"`. */
  protocol?: UpstreamProtocol;
  /**
   * TLS only: the name the upstream's certificate must be valid for (and the SNI sent); default
   * the address itself, which the certificate must then carry as an IP address SAN. HTTPS
   * upstreams are always verified against their address.
   */
  tlsName?: string;
  /** HTTPS only: the path of the DoH endpoint; default `/dns-query`. */
  path?: string;
}

/** Options for {@linkcode createForwarder}. */
export interface ForwarderOptions {
  /** Upstreams in order of preference; may be empty if every query passes its own. */
  upstreams: readonly Upstream[];
  /** Time to wait for one try (one UDP exchange, or one TCP exchange after TC=1). Default 1500. */
  timeoutMs?: number;
  /** Total tries per query across all upstreams, rotating through them. Default 3. */
  attempts?: number;
  /** Most queries in flight at once; a query beyond it is rejected at once. Default 256. */
  maxInFlight?: number;
  /**
   * Certificates (PEM) trusted for TLS and HTTPS upstreams besides the system's roots, for a
   * private CA or tests. Certificates are always verified.
   */
  caCerts?: readonly string[];
}

/** Per-query options of {@linkcode Forwarder.query}. */
export interface QueryOptions {
  /** Upstreams to use for this query instead of the forwarder's own (e.g. a `dns://` target). */
  upstreams?: readonly Upstream[];
  /** Set the EDNS0 DO bit (RFC 3225). Default false. */
  dnssecOk?: boolean;
  /** Set the CD bit (the client does its own DNSSEC validation). Default false. */
  checkingDisabled?: boolean;
  /** Set the RD bit. Default true. */
  recursionDesired?: boolean;
}

/** How a reply reached us. */
export type Transport = "udp" | "tcp" | "tls" | "https";

/** A reply accepted from an upstream. NOERROR (also empty) and NXDOMAIN are both results. */
export interface ForwardResult {
  /** The decoded reply. */
  packet: DecodedPacket;
  /** The raw reply as received. */
  bytes: Uint8Array;
  /** The upstream that answered. */
  upstream: Upstream;
  /**
   * `"tcp"` when the UDP reply was truncated and the query was retried over TCP; `"tls"` and
   * `"https"` for those upstreams.
   */
  transport: Transport;
}

/** A DNS forwarder, as returned by {@linkcode createForwarder}. */
export interface Forwarder {
  /**
   * Asks the upstreams `question` (wire form; `question()` of `lib/dns/question.ts` makes one
   * from text). Resolves with the first acceptable reply; rejects with a `ForwardError` when
   * every try failed, when too many queries are in flight, or after {@linkcode Forwarder.close}.
   */
  query(question: Question, opts?: QueryOptions): Promise<ForwardResult>;
  /** What each upstream did so far (answers, failed tries by kind), for metrics. */
  upstreamStats(): UpstreamCounts[];
  /** Stops: pending queries reject, sockets close. Resolves once every query has settled. */
  close(): Promise<void>;
}
