/**
 * The DNS-over-TLS face (RFC 7858, port 853): the TCP face's framing, pipelining, connection caps
 * (total and per source) and timeouts, on a TLS listener. A connection that never completes its handshake is idle
 * and closed like one that never sends a query, so half-open handshakes cannot hold slots.
 *
 * @module
 */
import type { Responder } from "./responder.ts";
import { serveTcp, type TcpLimits, type TcpServer } from "./tcp.ts";

/** A certificate chain and its private key, PEM text. */
export interface TlsKeyPair {
  /** The certificate chain, leaf first. */
  cert: string;
  /** The private key of the leaf. */
  key: string;
}

/**
 * Listens on `host:port` for DNS over TLS. Throws when the address cannot be bound or the
 * certificate or key does not load.
 */
export function serveTls(
  host: string,
  port: number,
  keyPair: TlsKeyPair,
  responder: Responder,
  recursion: (address: string) => boolean,
  limits: Partial<TcpLimits> = {},
  exempt: (address: string) => boolean = () => false,
): TcpServer {
  return serveTcp(host, port, responder, recursion, limits, exempt, () =>
    Deno.listenTls({
      hostname: host,
      port,
      transport: "tcp",
      cert: keyPair.cert,
      key: keyPair.key,
      // RFC 7858 names no ALPN token; "dot" is IANA's. Clients that offer none are served too.
      alpnProtocols: ["dot"],
    }));
}
