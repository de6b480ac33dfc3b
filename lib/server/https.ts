/**
 * The DNS-over-HTTPS face (RFC 8484): `GET /dns-query?dns=BASE64URL` and `POST /dns-query` with
 * an `application/dns-message` body, over HTTPS served by `Deno.serve` (HTTP/2 when the client
 * offers it through ALPN, else HTTP/1.1). Each request is one DNS message handed to the
 * responder, as a TCP query (no truncation). Bounds: a message is at most 65,535 bytes, and at
 * most `maxInFlight` requests are answered at once (more get 503). `Deno.serve` keeps its own
 * connection and idle policy (it exposes no connection cap), so the bound that protects the
 * resolver is the one on requests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { DOH_MEDIA_TYPE, MAX_DOH_MESSAGE, mediaType, readMessage } from "../dns/doh.ts";
import { scanMessage } from "../dns/wire.ts";
import type { Origin, Responder } from "./responder.ts";
import type { TlsKeyPair } from "./tls.ts";

const log = getLogger(["djdns", "https"]);

/** The path RFC 8484 suggests, and the only one served. */
export const DOH_PATH = "/dns-query";

/** Bounds of the DoH face. */
export interface HttpsLimits {
  /** Most requests being answered at once; more get 503 at once. Default 256. */
  maxInFlight: number;
}

/** A running DoH listener. */
export interface HttpsServer {
  /** The bound port (useful when 0 was asked for). */
  port: number;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Stops listening and closes connections. */
  close(): Promise<void>;
}

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(body + "\n", { status, headers: { "content-type": "text/plain", ...headers } });

function decodeBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) return null;
  const b64 = s.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (b64.length % 4 === 1) return null;
  try {
    return Uint8Array.from(
      atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return null;
  }
}

/**
 * The freshness of a reply for HTTP caches (RFC 8484 §5.1): the smallest TTL of its records, 0
 * when it has none or cannot be read.
 */
function maxAge(reply: Uint8Array): number {
  const scan = scanMessage(reply);
  if (!scan || scan.ttlOffsets.length === 0) return 0;
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  return Math.min(...scan.ttlOffsets.map((o) => view.getUint32(o)));
}

/**
 * Listens on `host:port` for DNS over HTTPS. `recursion(address)` says whether a client may have
 * names outside the registry forwarded, as for UDP and TCP. Throws when the address cannot be
 * bound or the certificate or key does not load.
 */
export function serveHttps(
  host: string,
  port: number,
  keyPair: TlsKeyPair,
  responder: Responder,
  recursion: (address: string) => boolean,
  limits: Partial<HttpsLimits> = {},
): HttpsServer {
  const { maxInFlight = 256 } = limits;
  let inFlight = 0;

  async function handle(req: Request, addr: string): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== DOH_PATH) return text(404, `not found; DNS queries go to ${DOH_PATH}`);
    let message: Uint8Array | null;
    if (req.method === "GET") {
      const param = url.searchParams.get("dns");
      if (param === null) return text(400, "missing dns parameter");
      if (param.length > Math.ceil((MAX_DOH_MESSAGE * 4) / 3) + 2) {
        return text(413, "query too large");
      }
      message = decodeBase64Url(param);
      if (message === null) return text(400, "dns parameter is not base64url");
    } else if (req.method === "POST") {
      if (mediaType(req.headers.get("content-type")) !== DOH_MEDIA_TYPE) {
        return text(415, `content type must be ${DOH_MEDIA_TYPE}`);
      }
      if (Number(req.headers.get("content-length") ?? "0") > MAX_DOH_MESSAGE) {
        return text(413, "query too large");
      }
      message = await readMessage(req.body);
      if (message === null) return text(413, "query too large");
    } else {
      return text(405, "use GET or POST", { allow: "GET, POST" });
    }
    const origin: Origin = { transport: "tcp", recursion: recursion(addr) };
    const reply = await responder.handle(message, origin);
    if (reply === null) return text(400, "not a DNS query");
    return new Response(reply.slice(), {
      headers: { "content-type": DOH_MEDIA_TYPE, "cache-control": `max-age=${maxAge(reply)}` },
    });
  }

  const server = Deno.serve({
    hostname: host,
    port,
    cert: keyPair.cert,
    key: keyPair.key,
    onListen() {},
    onError(e) {
      log.error("DoH request failed: {e}", { e });
      return text(500, "internal error");
    },
  }, async (req, info) => {
    if (inFlight >= maxInFlight) return text(503, "busy", { "retry-after": "1" });
    inFlight++;
    try {
      return await handle(req, (info.remoteAddr as Deno.NetAddr).hostname);
    } finally {
      inFlight--;
    }
  });
  return {
    port: server.addr.port,
    get inFlight() {
      return inFlight;
    },
    close: () => server.shutdown(),
  };
}
