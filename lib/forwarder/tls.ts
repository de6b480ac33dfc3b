/**
 * One DNS-over-TLS exchange with an upstream (RFC 7858): a TCP connection to the upstream's
 * address, TLS on top with the certificate verified for `tlsName` (or the address), then the
 * TCP exchange's framing. Connecting by address and verifying by name means no name is ever
 * resolved to reach an upstream (the system resolver may be djdns itself).
 *
 * @module
 */
import { tcpExchange, type TcpExchangeOptions } from "./tcp.ts";

/** Options of {@linkcode tlsExchange}. */
export interface TlsExchangeOptions extends Omit<TcpExchangeOptions, "connect"> {
  /** Certificates (PEM) trusted besides the system's roots. */
  caCerts?: readonly string[];
}

/**
 * Connects, verifies the upstream's certificate, sends the framed query and resolves with the
 * first accepted reply; rejects with an `ExchangeError` (`tls: …` when the certificate is
 * refused) on any failure or at the timeout.
 */
export function tlsExchange(options: TlsExchangeOptions): Promise<Uint8Array> {
  const { upstream, caCerts } = options;
  return tcpExchange({
    ...options,
    async connect(signal) {
      const tcp = await Deno.connect({ hostname: upstream.host, port: upstream.port, signal });
      try {
        return await Deno.startTls(tcp, {
          hostname: upstream.tlsName ?? upstream.host,
          caCerts: caCerts ? [...caCerts] : undefined,
          alpnProtocols: ["dot"],
        });
      } catch (e) {
        tcp.close();
        throw e;
      }
    },
  });
}
