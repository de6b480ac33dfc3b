/**
 * The TCP face (RFC 7766): 2-byte length framing, several queries pipelined on one connection
 * and answered as they complete, and every resource a client can make it hold bounded:
 *
 * - Connections: at most `maxConnections`, and `maxPerSource` per client address (/32, /64;
 *   sources `exempt` says, loopback in `djdns run`, only count towards the total). At a cap,
 *   a new connection takes the place of the oldest idle one (nothing being answered or sent);
 *   when every one is busy, the new one is closed.
 * - Time: a connection with nothing to do for `idleMs` is closed, and so is one whose query
 *   has not arrived whole `messageMs` after its first byte (slowloris), or whose replies have
 *   not moved for `idleMs` (a client that does not read).
 * - Work and memory: `maxInFlight` queries per connection being answered; replies waiting to be
 *   written bounded per connection (`maxQueuedBytes`) and in total (`maxTotalQueuedBytes`);
 *   reading pauses beyond. A connection processes at most {@linkcode BATCH} queries before it
 *   yields to the event loop, so TCP clients cannot starve the UDP face.
 * - The moment a write fails or the client resets, the connection's work stops: nothing more
 *   is read, queued replies are dropped, late answers are discarded.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Responder } from "./responder.ts";
import { prefixKey } from "./prefix.ts";
import { questionEnd, stopReply } from "./udp.ts";

const log = getLogger(["djdns", "tcp"]);

/** Bytes read from a connection at a time. */
const READ_SIZE = 16 * 1024;

/** Queries a connection handles in a row before it lets other work (UDP) run. */
export const BATCH = 32;

/** Bounds of the TCP face. */
export interface TcpLimits {
  /** Most connections open at once. Default 128. */
  maxConnections: number;
  /** Most connections from one address (IPv4 /32, IPv6 /64). Default 16. */
  maxPerSource: number;
  /** A connection with nothing to do for this long is closed. Default 10 s. */
  idleMs: number;
  /** A query must arrive whole within this of its first byte. Default 2 s. */
  messageMs: number;
  /** Most queries of one connection being answered at once; reading pauses beyond. Default 32. */
  maxInFlight: number;
  /** Reply bytes waiting to be written on one connection beyond which reading pauses. */
  maxQueuedBytes: number;
  /** Reply bytes waiting on all connections beyond which every connection pauses reading. */
  maxTotalQueuedBytes: number;
}

/** Defaults of {@linkcode TcpLimits}. */
export const DEFAULT_TCP_LIMITS: TcpLimits = Object.freeze({
  maxConnections: 128,
  maxPerSource: 16,
  idleMs: 10_000,
  messageMs: 2_000,
  maxInFlight: 32,
  maxQueuedBytes: 64 * 1024,
  maxTotalQueuedBytes: 4 * 1024 * 1024,
});

/** A running TCP listener. */
export interface TcpServer {
  port: number;
  /** Number of open connections. */
  readonly connections: number;
  /**
   * Stops accepting and closes every connection; with `graceMs`, queries already read are
   * answered for up to that long first.
   */
  close(graceMs?: number): Promise<void>;
}

/** One client connection's state, as the accept loop and the sweeper see it. */
interface Client {
  conn: Deno.Conn;
  source: string;
  /** Counted towards `maxPerSource`. */
  capped: boolean;
  /** Last time a query arrived, an answer was queued, or bytes were written. */
  active: number;
  /** When the first byte of the incomplete message in the buffer arrived, or -1. */
  partialSince: number;
  inFlight: number;
  queued: number;
  /** Reading is paused for room (our doing, so the message timeout does not run). */
  paused: boolean;
  dead: boolean;
  /** Queries being answered (header and question, at most `maxInFlight`), for a SERVFAIL on stop. */
  waiting: Set<Uint8Array>;
  kill(why: string): void;
  /** Answers every waiting query SERVFAIL (the server is stopping and will not wait more). */
  giveUp(): void;
}

/**
 * Listens on `host:port` for DNS over TCP. `recursion(address)` says whether a client may have
 * names forwarded; `exempt(address)` whether it escapes the per-source cap. `listen` opens the
 * listener instead (DNS over TLS hands in a TLS listener: the same framing, limits and timeouts).
 */
export function serveTcp(
  host: string,
  port: number,
  responder: Responder,
  recursion: (address: string) => boolean,
  limits: Partial<TcpLimits> = {},
  exempt: (address: string) => boolean = () => false,
  listen: () => Deno.Listener = () => Deno.listen({ hostname: host, port, transport: "tcp" }),
): TcpServer {
  const lim: TcpLimits = { ...DEFAULT_TCP_LIMITS, ...limits };
  const listener = listen();
  const open = new Set<Client>();
  const perSource = new Map<string, number>();
  let totalQueued = 0;
  // Connections paused because of the total bound, woken when replies drain anywhere.
  const pausedOnTotal = new Set<() => void>();
  const drained = () => {
    if (totalQueued > lim.maxTotalQueuedBytes) return;
    for (const wake of pausedOnTotal) wake();
    pausedOnTotal.clear();
  };

  let warnedAt = -Infinity;
  const warn = (msg: string, fields: Record<string, unknown>) => {
    // One line per burst: an attack must not turn into a log flood.
    if (performance.now() - warnedAt < 10_000) return;
    warnedAt = performance.now();
    log.warn(msg, fields);
  };

  // Timeouts are checked by one sweep rather than a timer per connection and per query.
  const sweepEvery = Math.max(20, Math.min(250, lim.idleMs / 4, lim.messageMs / 4));
  const sweeper = setInterval(() => {
    const t = performance.now();
    for (const c of open) {
      if (c.partialSince >= 0 && !c.paused && t - c.partialSince > lim.messageMs) {
        c.kill("query not received whole in time");
      } else if (c.inFlight === 0 && t - c.active > lim.idleMs) {
        c.kill(c.queued > 0 ? "client not reading" : "idle");
      }
    }
  }, sweepEvery);

  /** The oldest idle connection among `candidates`, or undefined. */
  const oldestIdle = (candidates: Iterable<Client>): Client | undefined => {
    let best: Client | undefined;
    for (const c of candidates) {
      if (c.inFlight > 0 || c.queued > 0) continue;
      if (!best || c.active < best.active) best = c;
    }
    return best;
  };
  const fromSource = function* (source: string) {
    for (const c of open) if (c.source === source && c.capped) yield c;
  };

  function serveConn(client: Client, origin: { transport: "tcp"; recursion: boolean }) {
    const { conn } = client;
    const buf = new Uint8Array(2 + 65535 + READ_SIZE);
    let filled = 0;
    // Replies waiting to be written, coalesced into one write when several are ready.
    let queue: Uint8Array[] = [];
    let writing = false;
    // The reader waits here for room (in flight, queued) or for the connection's end.
    let wake: (() => void) | null = null;
    const signal = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const changed = () => new Promise<void>((r) => (wake = r));

    client.kill = (why: string) => {
      if (client.dead) return;
      client.dead = true;
      log.debug("closing connection from {addr}: {why}", { addr: client.source, why });
      open.delete(client);
      if (client.capped) {
        const left = (perSource.get(client.source) ?? 1) - 1;
        if (left > 0) perSource.set(client.source, left);
        else perSource.delete(client.source);
      }
      totalQueued -= client.queued;
      client.queued = 0;
      queue = [];
      try {
        conn.close();
      } catch { /* already closed */ }
      signal();
      drained();
    };

    const flush = async () => {
      writing = true;
      try {
        while (queue.length > 0 && !client.dead) {
          // Frame every ready reply into one buffer: one allocation and one write for all.
          const parts = queue;
          queue = [];
          const chunk = new Uint8Array(parts.reduce((n, p) => n + p.length + 2, 0));
          let at = 0;
          for (const p of parts) {
            chunk[at] = p.length >> 8;
            chunk[at + 1] = p.length & 0xff;
            chunk.set(p, at + 2);
            at += p.length + 2;
          }
          let off = 0;
          while (off < chunk.length) {
            off += await conn.write(chunk.subarray(off));
            client.active = performance.now();
          }
          if (client.dead) return;
          client.queued -= chunk.length;
          totalQueued -= chunk.length;
          signal();
          drained();
        }
      } catch {
        // The client is gone (reset, broken pipe) or we closed it: stop everything for it.
        client.kill("write failed");
      } finally {
        writing = false;
      }
    };

    const send = (reply: Uint8Array) => {
      if (client.dead) return;
      queue.push(reply);
      client.queued += reply.length + 2;
      totalQueued += reply.length + 2;
      client.active = performance.now();
      if (!writing) flush();
    };

    client.giveUp = () => {
      for (const m of client.waiting) send(stopReply(m));
      client.waiting.clear();
    };

    const full = () =>
      client.inFlight >= lim.maxInFlight || client.queued > lim.maxQueuedBytes ||
      totalQueued > lim.maxTotalQueuedBytes;
    const room = async () => {
      if (!full()) return;
      client.paused = true;
      while (!client.dead && full()) {
        if (totalQueued > lim.maxTotalQueuedBytes) {
          await new Promise<void>((r) => {
            const done = () => {
              pausedOnTotal.delete(done);
              wake = null;
              r();
            };
            pausedOnTotal.add(done);
            wake = done;
          });
        } else await changed();
      }
      client.paused = false;
      // The time a partial message may take counts from when we read again.
      if (client.partialSince >= 0) client.partialSince = performance.now();
    };

    (async () => {
      let budget = BATCH;
      try {
        for (;;) {
          await room();
          if (client.dead) return;
          // Read straight into a fixed buffer that holds one whole message plus one read;
          // bytes move only when a message has been taken out, so a client that trickles a
          // message byte by byte costs no copying.
          const n = await conn.read(buf.subarray(filled, filled + READ_SIZE));
          if (n === null || client.dead) break;
          if (filled === 0 && n > 0) client.partialSince = performance.now();
          filled += n;
          let start = 0;
          while (filled - start >= 2 && !client.dead) {
            const len = (buf[start] << 8) | buf[start + 1];
            if (filled - start < len + 2) break;
            // A view: the responder copies what it keeps beyond this call.
            const msg = buf.subarray(start + 2, start + 2 + len);
            start += len + 2;
            client.partialSince = start < filled ? performance.now() : -1;
            client.active = performance.now();
            const out = responder.handle(msg, origin);
            if (out instanceof Promise) {
              client.inFlight++;
              // Header and question only (at most ~270 bytes): all a SERVFAIL needs.
              const kept = msg.slice(0, questionEnd(msg));
              client.waiting.add(kept);
              out.then((r) => {
                client.inFlight--;
                client.active = performance.now();
                // Not when it was already answered SERVFAIL by a stopping server.
                if (client.waiting.delete(kept) && r) send(r);
                signal();
              });
            } else if (out) {
              send(out);
            }
            if (--budget === 0) {
              budget = BATCH;
              // Let the event loop run (UDP datagrams, other connections, timers).
              await new Promise((r) => setTimeout(r, 0));
            }
            await room();
          }
          if (client.dead) return;
          if (start > 0) {
            buf.copyWithin(0, start, filled);
            filled -= start;
          }
          if (filled === 0) client.partialSince = -1;
        }
        // A client may half-close (shut down its sending side) right after its last query;
        // what is still being answered is written before we close. Every answer settles (the
        // forwarder has timeouts), so this wait is bounded, and the sweeper closes a client
        // that does not read.
        client.partialSince = -1;
        while (!client.dead && (client.inFlight > 0 || client.queued > 0)) await changed();
      } catch (e) {
        if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
          log.debug("connection from {addr}: {e}", { addr: client.source, e });
        }
      } finally {
        client.kill("done");
      }
    })();
  }

  (async () => {
    try {
      for await (const conn of listener) {
        const addr = (conn.remoteAddr as Deno.NetAddr).hostname;
        const capped = !exempt(addr);
        const source = prefixKey(addr, 32, 64);
        if (capped && (perSource.get(source) ?? 0) >= lim.maxPerSource) {
          const victim = oldestIdle(fromSource(source));
          if (!victim) {
            warn("TCP: {source} has {max} busy connections; closing a new one", {
              source,
              max: lim.maxPerSource,
            });
            conn.close();
            continue;
          }
          victim.kill("replaced by a newer connection from the same source");
        }
        if (open.size >= lim.maxConnections) {
          const victim = oldestIdle(open);
          if (!victim) {
            warn("TCP connection limit {max} reached, all busy; closing a new connection", {
              max: lim.maxConnections,
            });
            conn.close();
            continue;
          }
          victim.kill("replaced by a newer connection (limit reached)");
        }
        const client: Client = {
          conn,
          source,
          capped,
          active: performance.now(),
          partialSince: -1,
          inFlight: 0,
          queued: 0,
          paused: false,
          dead: false,
          waiting: new Set(),
          kill: () => {},
          giveUp: () => {},
        };
        open.add(client);
        if (capped) perSource.set(source, (perSource.get(source) ?? 0) + 1);
        serveConn(client, { transport: "tcp", recursion: recursion(addr) });
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
    async close(graceMs = 0) {
      listener.close();
      // Queries already read are answered and written for up to graceMs; those still waiting
      // then (a slow or dead upstream) are answered SERVFAIL, as on UDP, so their clients ask
      // their next server at once; then every connection goes, busy or not.
      const busy = (c: Client) => !c.dead && (c.inFlight > 0 || c.queued > 0);
      const wait = async (ms: number, still: (c: Client) => boolean) => {
        const end = performance.now() + ms;
        while (performance.now() < end && [...open].some(still)) {
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await wait(graceMs, busy);
      if (graceMs > 0) {
        for (const c of open) if (!c.dead) c.giveUp();
        // Bounded: a client that does not read its SERVFAIL is closed all the same.
        await wait(500, (c) => !c.dead && c.queued > 0);
      }
      clearInterval(sweeper);
      for (const c of open) c.kill("server closing");
    },
  };
}
