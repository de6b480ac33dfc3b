/**
 * Shared shapes of the forwarder: upstreams, options and results.
 *
 * @module
 */
import type { DecodedPacket } from "dns-packet";
import type { Question } from "../dns/question.ts";

/** An upstream DNS server: an IPv4 or IPv6 literal (no brackets, no scope) and a port. */
export interface Upstream {
  /** IPv4 or IPv6 address literal, e.g. `"127.0.0.1"` or `"::1"`. */
  host: string;
  /** UDP and TCP port, usually 53. */
  port: number;
}

/** Options for {@linkcode createForwarder}. */
export interface ForwarderOptions {
  /** Upstreams in order of preference; may be empty if every query passes its own. */
  upstreams: readonly Upstream[];
  /** Time to wait for one try (one UDP exchange, or one TCP exchange after TC=1). Default 1500. */
  timeoutMs?: number;
  /** Total tries per query across all upstreams, rotating through them. Default 3. */
  attempts?: number;
  /** Most queries in flight at once; a query beyond it is rejected at once. Default 1024. */
  maxInFlight?: number;
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
export type Transport = "udp" | "tcp";

/** A reply accepted from an upstream. NOERROR (also empty) and NXDOMAIN are both results. */
export interface ForwardResult {
  /** The decoded reply. */
  packet: DecodedPacket;
  /** The raw reply as received. */
  bytes: Uint8Array;
  /** The upstream that answered. */
  upstream: Upstream;
  /** `"tcp"` when the UDP reply was truncated and the query was retried over TCP. */
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
  /** Stops: pending queries reject, sockets close. Resolves once every query has settled. */
  close(): Promise<void>;
}
