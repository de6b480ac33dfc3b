/**
 * DNS over TLS to upstreams (RFC 7858): a TCP connection to the upstream's address, TLS on top
 * with the certificate verified for `tlsName` (or the address), then the TCP framing. Connecting
 * by address and verifying by name means no name is ever resolved to reach an upstream (the
 * system resolver may be djdns itself).
 *
 * Connections are kept and reused, several queries in flight on each (RFC 7858 §3.4: a TLS
 * handshake per query would cost more than the query): one session per upstream, replies
 * matched to queries by the caller's `accept` (id and question). A session is closed after
 * `idleMs` without queries, or when it fails; a query whose session the upstream closes before
 * the reply is sent again once, on a connection of its own (an upstream may close idle or busy
 * connections). At most `maxPending` queries wait on one session; more get their own connection.
 *
 * @module
 */
import { MAX_TCP_MESSAGE, readExact, safeClose, type TcpExchangeOptions, writeAll } from "./tcp.ts";
import type { Upstream } from "./types.ts";
import { ExchangeError } from "./udp.ts";

/** Options of one DoT exchange (the TCP exchange's, without `connect`). */
export type TlsExchangeOptions = Omit<TcpExchangeOptions, "connect">;

/** Options of {@linkcode createTlsPool}. */
export interface TlsPoolOptions {
  /** Certificates (PEM) trusted besides the system's roots. */
  caCerts?: readonly string[];
  /** A session without queries for this long is closed. Default 10,000 ms. */
  idleMs?: number;
  /** Most queries waiting on one session. Default 64. */
  maxPending?: number;
}

/** Reused DoT sessions, as returned by {@linkcode createTlsPool}. */
export interface TlsPool {
  /**
   * Sends the query on the upstream's session (opened when there is none) and resolves with
   * the first reply `accept` approves; rejects with an `ExchangeError` (`tls: …` when the
   * certificate is refused) on failure or at the timeout.
   */
  exchange(options: TlsExchangeOptions): Promise<Uint8Array>;
  /** Sessions open now. */
  readonly sessions: number;
  /** Closes every session; waiting queries reject. */
  close(): void;
}

interface Waiter {
  accept(bytes: Uint8Array): boolean;
  done(outcome: { reply: Uint8Array } | { error: ExchangeError }): void;
}

interface Session {
  /** Pool key when the session is the upstream's shared one; undefined for a private one. */
  key?: string;
  conn: Deno.Conn;
  waiters: Set<Waiter>;
  writing: Promise<void>;
  dead: boolean;
  idle?: ReturnType<typeof setTimeout>;
}

function reasonOf(err: unknown): ExchangeError {
  if (err instanceof ExchangeError) return err;
  if (err instanceof Deno.errors.ConnectionRefused) return new ExchangeError("refused (tls)");
  // What TLS says of a certificate it refuses (wrong name, unknown issuer, expired).
  if (err instanceof Deno.errors.InvalidData) return new ExchangeError(`tls: ${err.message}`);
  return new ExchangeError(`network error: ${err instanceof Error ? err.name : String(err)}`);
}

/** Creates an empty pool of DoT sessions. */
export function createTlsPool(options: TlsPoolOptions = {}): TlsPool {
  const { idleMs = 10_000, maxPending = 64 } = options;
  const caCerts = options.caCerts ? [...options.caCerts] : undefined;
  const sessions = new Map<string, Session>();
  // Sessions being opened, so that a burst of queries opens one connection, not one each.
  const opening = new Map<string, Promise<Session>>();
  let closed = false;
  const keyOf = (u: Upstream) => `${u.host}#${u.port}#${u.tlsName ?? ""}`;

  async function connect(upstream: Upstream, signal: AbortSignal): Promise<Deno.Conn> {
    const tcp = await Deno.connect({ hostname: upstream.host, port: upstream.port, signal });
    try {
      const tls = await Deno.startTls(tcp, {
        hostname: upstream.tlsName ?? upstream.host,
        caCerts,
        alpnProtocols: ["dot"],
      });
      // Closing on abort interrupts a handshake that hangs.
      const onAbort = () => safeClose(tls);
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await tls.handshake();
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      return tls;
    } catch (e) {
      safeClose(tcp);
      throw e;
    }
  }

  function kill(s: Session, error: ExchangeError): void {
    if (s.dead) return;
    s.dead = true;
    clearTimeout(s.idle);
    if (s.key !== undefined && sessions.get(s.key) === s) sessions.delete(s.key);
    safeClose(s.conn);
    for (const w of [...s.waiters]) w.done({ error });
  }

  function armIdle(s: Session): void {
    clearTimeout(s.idle);
    if (s.dead || s.waiters.size > 0) return;
    if (s.key === undefined) return kill(s, new ExchangeError("closed")); // private: done
    s.idle = setTimeout(() => {
      if (s.waiters.size === 0) kill(s, new ExchangeError("closed"));
    }, idleMs);
  }

  function startSession(key: string | undefined, conn: Deno.Conn): Session {
    const s: Session = {
      key,
      conn,
      waiters: new Set(),
      writing: Promise.resolve(),
      dead: false,
    };
    (async () => {
      try {
        while (!s.dead) {
          const header = await readExact(conn, 2);
          const message = await readExact(conn, (header[0] << 8) | header[1]);
          // A reply nobody waits for (its query timed out) is dropped.
          for (const w of s.waiters) {
            if (w.accept(message)) {
              w.done({ reply: message });
              break;
            }
          }
        }
      } catch (e) {
        kill(s, reasonOf(e));
      }
    })();
    return s;
  }

  function shared(upstream: Upstream, signal: AbortSignal): Promise<Session> {
    const key = keyOf(upstream);
    const s = sessions.get(key);
    if (s !== undefined && !s.dead) return Promise.resolve(s);
    let p = opening.get(key);
    if (p === undefined) {
      p = connect(upstream, signal).then((conn) => {
        const s = startSession(key, conn);
        if (closed) kill(s, new ExchangeError("closed"));
        else sessions.set(key, s);
        return s;
      }).finally(() => opening.delete(key));
      opening.set(key, p);
    }
    return p;
  }

  // Sends the query on `s` and waits for its reply (or the session's end, or the signal).
  function ask(s: Session, frame: Uint8Array, accept: Waiter["accept"], signal: AbortSignal) {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (s.dead || signal.aborted) return reject(new ExchangeError("closed"));
      const onAbort = () => waiter.done({ error: new ExchangeError("aborted") });
      const waiter: Waiter = {
        accept,
        done(outcome) {
          if (!s.waiters.delete(waiter)) return;
          signal.removeEventListener("abort", onAbort);
          armIdle(s);
          if ("reply" in outcome) resolve(outcome.reply);
          else reject(outcome.error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      s.waiters.add(waiter);
      clearTimeout(s.idle);
      s.writing = s.writing.then(() => writeAll(s.conn, frame)).catch((e) => kill(s, reasonOf(e)));
    });
  }

  async function exchange(opts: TlsExchangeOptions): Promise<Uint8Array> {
    const { upstream, query, accept, timeoutMs } = opts;
    if (closed || opts.signal.aborted) throw new ExchangeError("closed");
    if (query.length > MAX_TCP_MESSAGE) throw new ExchangeError("query too large");
    const frame = new Uint8Array(2 + query.length);
    frame[0] = query.length >> 8;
    frame[1] = query.length & 0xff;
    frame.set(query, 2);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signal = AbortSignal.any([opts.signal, timeout.signal]);
    try {
      for (let tries = 0;; tries++) {
        let s = tries === 0 ? await shared(upstream, signal) : undefined;
        // A retry, or a full shared session: this query gets a connection of its own.
        if (s === undefined || s.waiters.size >= maxPending) {
          s = startSession(undefined, await connect(upstream, signal));
        }
        try {
          return await ask(s, frame, accept, signal);
        } catch (e) {
          // The upstream closed the session before answering (it may close idle or busy
          // connections, RFC 7766 §6.2.3): once more, on a connection of its own.
          const closedByUpstream = e instanceof ExchangeError &&
            e.message === "connection closed by upstream";
          if (!closedByUpstream || tries > 0 || signal.aborted || closed) throw e;
        }
      }
    } catch (e) {
      if (timeout.signal.aborted) throw new ExchangeError("timeout");
      if (opts.signal.aborted || closed) throw new ExchangeError("closed");
      throw reasonOf(e);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    exchange,
    get sessions() {
      return sessions.size;
    },
    close() {
      closed = true;
      for (const s of [...sessions.values()]) kill(s, new ExchangeError("closed"));
    },
  };
}
