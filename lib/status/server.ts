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

function notAllowed(): Response {
  return new Response("method not allowed\n", {
    status: 405,
    headers: { allow: "GET, HEAD", ...SECURITY_HEADERS },
  });
}

/** The request handler (exported for tests without a socket). */
export function statusHandler(
  metrics: Metrics,
  view: () => StatusView,
): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return notAllowed();
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

/** Bounds of the operator's HTTP server (the port may face the internet). */
export const HTTP_LIMITS = {
  /** Connections open at once; beyond, the oldest still sending its head is dropped or new ones wait. */
  connections: 64,
  /** Bytes of a request's head (request line and headers). */
  headBytes: 8192,
  /** Time for a client to send its request's head. */
  headMs: 5000,
  /** Time for a client to take the whole response. */
  writeMs: 10_000,
} as const;

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

interface Conn {
  conn: Deno.Conn;
  /** Still reading the request's head (an idle or slow client). */
  reading: boolean;
  closed: boolean;
  /** `performance.now()` at accept. */
  since: number;
}

// A connection this old still sending its head may be dropped to make room for a new one.
const SLOW_HEAD_MS = 500;

/**
 * Serves the handler on `host:port` (port 0 picks a free one): one request per connection
 * (`connection: close`), the head bounded in size and time, the connections in number.
 *
 * Written on `Deno.listen` rather than with `Deno.serve`, measured: `Deno.serve` keeps a client
 * that never finishes its request head open forever, caps nothing, and its accept loop's
 * "Too many open files" is an uncaught error that ended the whole process, so about 1,000
 * idle connections to this port (the unit's LimitNOFILE is 4096) took DNS down with it.
 */
export function serveStatus(
  host: string,
  port: number,
  metrics: Metrics,
  view: () => StatusView,
  limits: { connections: number; headBytes: number; headMs: number; writeMs: number } = HTTP_LIMITS,
): StatusServer {
  const handler = statusHandler(metrics, view);
  const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  const open = new Set<Conn>();
  let closing = false;
  const drop = (c: Conn) => {
    if (c.closed) return;
    c.closed = true;
    open.delete(c);
    try {
      c.conn.close();
    } catch { /* already closed */ }
  };
  const serveConn = async (c: Conn) => {
    const timer = setTimeout(() => drop(c), limits.headMs);
    try {
      const text = await readHead(c.conn, limits.headBytes);
      c.reading = false;
      clearTimeout(timer);
      let res: Response;
      let head = false;
      if (text === "too large") res = plain(431, "request head too large\n");
      else if (text === undefined) return;
      else {
        const req = parseHead(text);
        res = req === undefined
          ? plain(400, "bad request\n")
          : req.method !== "GET" && req.method !== "HEAD"
          ? notAllowed()
          : await handler(new Request(`http://status${req.path}`, { method: req.method }));
        head = req?.method === "HEAD";
      }
      // A HEAD response has the headers of the GET and no body.
      const body = head ? new Uint8Array() : new Uint8Array(await res.arrayBuffer());
      const lines = [`HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}`];
      res.headers.forEach((v, k) => lines.push(`${k}: ${v}`));
      if (!head) lines.push(`content-length: ${body.length}`);
      lines.push("connection: close", "", "");
      const out = new TextEncoder().encode(lines.join("\r\n"));
      const writeTimer = setTimeout(() => drop(c), limits.writeMs);
      try {
        await writeAll(c.conn, out);
        if (body.length) await writeAll(c.conn, body);
      } finally {
        clearTimeout(writeTimer);
      }
    } catch {
      /* the client went away, or was dropped for being slow */
    } finally {
      clearTimeout(timer);
      drop(c);
    }
  };
  const accepting = (async () => {
    while (!closing) {
      // Full: the oldest connection still sending its head after a while makes room (a slow
      // client, or one that sends nothing); otherwise the next ones wait in the kernel's
      // backlog until an answer is out, so a burst of honest requests is served, not refused.
      while (!closing && open.size >= limits.connections) {
        const now = performance.now();
        const slow = [...open].find((o) => o.reading && now - o.since > SLOW_HEAD_MS);
        if (slow) drop(slow);
        else await new Promise((r) => setTimeout(r, 10));
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (closing || e instanceof Deno.errors.BadResource) break;
        // Out of descriptors (EMFILE) or the like: wait for some to be freed, never die.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const c: Conn = { conn, reading: true, closed: false, since: performance.now() };
      open.add(c);
      void serveConn(c);
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      closing = true;
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of [...open]) drop(c);
      await accepting;
    },
  };
}

function plain(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
  });
}

// Reads up to the blank line ending a request's head; undefined when the client closed first.
async function readHead(conn: Deno.Conn, max: number): Promise<string | "too large" | undefined> {
  const buf = new Uint8Array(max + 4);
  let n = 0;
  for (;;) {
    if (n >= buf.length) return "too large";
    const got = await conn.read(buf.subarray(n));
    if (got === null) return undefined;
    const from = Math.max(0, n - 3);
    n += got;
    for (let i = from; i + 3 < n; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
        return new TextDecoder().decode(buf.subarray(0, i));
      }
    }
  }
}

// The request line: METHOD SP target SP HTTP/1.x; the target as a path (origin or absolute form).
function parseHead(head: string): { method: string; path: string } | undefined {
  const m = /^([A-Z]{1,16}) (\S{1,4096}) HTTP\/1\.[01]$/.exec(head.split("\r\n", 1)[0]);
  if (!m) return undefined;
  let path: string;
  if (m[2].startsWith("/")) path = m[2];
  else {
    try {
      const u = new URL(m[2]);
      path = u.pathname + u.search;
    } catch {
      return undefined;
    }
  }
  return { method: m[1], path: path.split("?", 1)[0] };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}
