/**
 * The operator's HTTP port (`--metrics ADDR:PORT`): `/metrics` in Prometheus text format and `/`
 * (also `/status`) as a read-only HTML status page with the page tree drawn as SVG. Only GET and
 * HEAD; no JavaScript; a strict Content-Security-Policy; every value escaped.
 *
 * @module
 */
import type { Metrics } from "../metrics/registry.ts";
import { statusHtml, type StatusView } from "./html.ts";

/** A running status server. */
export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** The request handler (exported for tests without a socket). */
export function statusHandler(
  metrics: Metrics,
  view: () => StatusView,
): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD", ...SECURITY_HEADERS },
      });
    }
    const path = new URL(req.url).pathname;
    try {
      if (path === "/metrics") {
        return new Response(req.method === "HEAD" ? null : await metrics.text(), {
          headers: { "content-type": metrics.contentType, ...SECURITY_HEADERS },
        });
      }
      if (path === "/" || path === "/status") {
        return new Response(req.method === "HEAD" ? null : statusHtml(view()), {
          headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
        });
      }
    } catch (e) {
      return new Response(`internal error: ${(e as Error).message}\n`, {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
      });
    }
    return new Response("not found\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
    });
  };
}

/** Serves the handler on `host:port` (port 0 picks a free one). */
export function serveStatus(
  host: string,
  port: number,
  metrics: Metrics,
  view: () => StatusView,
): StatusServer {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: host, port, signal: ac.signal, onListen: () => {} },
    statusHandler(metrics, view),
  );
  return {
    port: (server.addr as Deno.NetAddr).port,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}
