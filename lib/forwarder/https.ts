/**
 * One DNS-over-HTTPS exchange with an upstream (RFC 8484): the query POSTed as
 * `application/dns-message` to `https://ADDRESS:PORT/PATH` through `fetch`, which verifies the
 * certificate against the address (the upstream's certificate must carry it as an IP SAN: a
 * host name here would be resolved by the system resolver, possibly djdns itself) and speaks
 * HTTP/2 when the server offers it.
 *
 * @module
 */
import { DOH_MEDIA_TYPE, mediaType, readMessage } from "../dns/doh.ts";
import type { UdpExchangeOptions } from "./udp.ts";
import { ExchangeError } from "./udp.ts";

/** Options of {@linkcode httpsExchange}. */
export interface HttpsExchangeOptions extends UdpExchangeOptions {
  /** The HTTP client (it holds the trusted certificates and pools connections). */
  client: Deno.HttpClient;
}

/** The URL of an HTTPS upstream. */
export function dohUrl(upstream: { host: string; port: number; path?: string }): string {
  const host = upstream.host.includes(":") ? `[${upstream.host}]` : upstream.host;
  return `https://${host}:${upstream.port}${upstream.path ?? "/dns-query"}`;
}

/**
 * POSTs the query and resolves with the reply when `accept` approves it; rejects with an
 * `ExchangeError` for a timeout, an HTTP status other than 200, another media type, an
 * oversized or refused reply, or a TLS or network failure.
 */
export async function httpsExchange(options: HttpsExchangeOptions): Promise<Uint8Array> {
  const { upstream, query, accept, timeoutMs, client } = options;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout.signal]);
  try {
    const res = await fetch(dohUrl(upstream), {
      method: "POST",
      headers: { "content-type": DOH_MEDIA_TYPE, accept: DOH_MEDIA_TYPE },
      body: query.slice(),
      client,
      signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ExchangeError(`http status ${res.status}`);
    }
    const type = mediaType(res.headers.get("content-type"));
    if (type !== DOH_MEDIA_TYPE) {
      await res.body?.cancel();
      throw new ExchangeError(`content type ${type || "missing"}`);
    }
    const bytes = await readMessage(res.body);
    if (bytes === null) throw new ExchangeError("reply too large");
    if (!accept(bytes)) throw new ExchangeError("reply does not answer the query");
    return bytes;
  } catch (err) {
    if (timeout.signal.aborted) throw new ExchangeError("timeout");
    if (options.signal.aborted) throw new ExchangeError("closed");
    if (err instanceof ExchangeError) throw err;
    // fetch wraps TLS and connection failures in a TypeError whose cause says which.
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? cause.message : (err as Error).message ?? String(err);
    throw new ExchangeError(`network error: ${detail}`);
  } finally {
    clearTimeout(timer);
  }
}
