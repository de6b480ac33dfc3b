/**
 * The TCP face (RFC 7766): 2-byte length framing, several queries pipelined on one connection
 * and answered as they complete, idle connections closed after a timeout, and a cap on open
 * connections and on queries in flight per connection.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Responder } from "./responder.ts";

const log = getLogger(["djdns", "tcp"]);

/** Bytes read from a connection at a time. */
const READ_SIZE = 16 * 1024;

/** Bytes of replies queued for one connection beyond which reading pauses until they drain. */
const MAX_UNWRITTEN = 1024 * 1024;

/** Bounds of the TCP face. */
export interface TcpLimits {
  /** Most connections open at once; more are closed on accept. Default 128. */
  maxConnections: number;
  /** A connection with no complete query for this long is closed. Default 10 s. */
  idleMs: number;
  /** Most queries of one connection being answered at once; reading pauses beyond. Default 32. */
  maxInFlight: number;
}

/** A running TCP listener. */
export interface TcpServer {
  port: number;
  /** Number of open connections. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` for DNS over TCP. `listen` opens the listener instead (DNS over TLS
 * hands in a TLS listener: the same framing, limits and idle rules, over TLS).
 */
export function serveTcp(
  host: string,
  port: number,
  responder: Responder,
  recursion: (address: string) => boolean,
  limits: Partial<TcpLimits> = {},
  listen: () => Deno.Listener = () => Deno.listen({ hostname: host, port, transport: "tcp" }),
): TcpServer {
  const { maxConnections = 128, idleMs = 10_000, maxInFlight = 32 } = limits;
  const listener = listen();
  const open = new Set<Deno.Conn>();

  async function serveConn(conn: Deno.Conn) {
    const addr = (conn.remoteAddr as Deno.NetAddr).hostname;
    const origin = { transport: "tcp" as const, recursion: recursion(addr) };
    const buf = new Uint8Array(2 + 65535 + READ_SIZE);
    let filled = 0;
    let inFlight = 0;
    let slotFreed: (() => void) | null = null;
    let writing = Promise.resolve();
    let finished = false;
    // Idle means no complete query for idleMs and none being answered: a connection waiting
    // for a slow (forwarded) answer is not idle, and its timer restarts when the last answer
    // is sent.
    const onIdle = () => {
      if (inFlight > 0 || finished) return;
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    let idle = setTimeout(onIdle, idleMs);
    const restartIdle = () => {
      clearTimeout(idle);
      if (!finished) idle = setTimeout(onIdle, idleMs);
    };
    // Replies queued for a client that does not read are bounded too: reading stops until
    // they drain.
    let unwritten = 0;
    const write = (reply: Uint8Array) => {
      const framed = new Uint8Array(reply.length + 2);
      framed[0] = reply.length >> 8;
      framed[1] = reply.length & 0xff;
      framed.set(reply, 2);
      unwritten += framed.length;
      writing = writing.then(async () => {
        let off = 0;
        while (off < framed.length) off += await conn.write(framed.subarray(off));
      }).catch(() => {}).finally(() => {
        unwritten -= framed.length;
      });
    };
    try {
      for (;;) {
        if (unwritten > MAX_UNWRITTEN) await writing;
        // Read straight into a fixed buffer that holds one whole message plus one read; bytes
        // move only when a message has been taken out, so a client that trickles a message
        // byte by byte costs no copying.
        const n = await conn.read(buf.subarray(filled, filled + READ_SIZE));
        if (n === null) break;
        filled += n;
        let start = 0;
        while (filled - start >= 2) {
          const len = (buf[start] << 8) | buf[start + 1];
          if (filled - start < len + 2) break;
          // Backpressure: no new query while this connection has too many being answered.
          while (inFlight >= maxInFlight) await new Promise<void>((r) => (slotFreed = r));
          const msg = buf.slice(start + 2, start + 2 + len);
          start += len + 2;
          restartIdle();
          const out = responder.handle(msg, origin);
          if (out instanceof Promise) {
            inFlight++;
            out.then((r) => {
              inFlight--;
              slotFreed?.();
              slotFreed = null;
              if (r) write(r);
              if (inFlight === 0) restartIdle();
            });
          } else if (out) {
            write(out);
          }
        }
        if (start > 0) {
          buf.copyWithin(0, start, filled);
          filled -= start;
        }
      }
      // A client may half-close (shut down its sending side) right after its last query; what
      // is still being answered must be written before we close. Every answer settles (the
      // forwarder has timeouts), so this wait is bounded.
      while (inFlight > 0) await new Promise<void>((r) => (slotFreed = r));
      await writing;
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
        log.debug("connection from {addr}: {e}", { addr, e });
      }
    } finally {
      finished = true;
      clearTimeout(idle);
      open.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  (async () => {
    try {
      for await (const conn of listener) {
        if (open.size >= maxConnections) {
          log.warn("TCP connection limit {max} reached; closing a new connection", {
            max: maxConnections,
          });
          conn.close();
          continue;
        }
        open.add(conn);
        serveConn(conn);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) log.error("TCP accept: {e}", { e });
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return open.size;
    },
    close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closing */ }
      }
      return Promise.resolve();
    },
  };
}
