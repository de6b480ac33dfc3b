/**
 * One TCP exchange with an upstream (RFC 7766 two-byte length framing), used after a truncated
 * UDP reply. Replies the caller does not accept are skipped; the wait ends at the timeout.
 *
 * @module
 */
import { ExchangeError } from "./udp.ts";
import type { Upstream } from "./types.ts";

/** The largest DNS message over TCP: the two-byte length prefix cannot say more. */
export const MAX_TCP_MESSAGE = 65535;

/** Options of {@linkcode tcpExchange}. */
export interface TcpExchangeOptions {
  /** Upstream to ask. */
  upstream: Upstream;
  /** The query message (at most {@linkcode MAX_TCP_MESSAGE} bytes). */
  query: Uint8Array;
  /** Decides whether a message read is the reply; must not throw. */
  accept: (bytes: Uint8Array) => boolean;
  /** How long connect, send and receive may take together. */
  timeoutMs: number;
  /** Aborts the exchange (the forwarder is closing). */
  signal: AbortSignal;
  /** Opens the connection instead of a plain TCP connect (DNS over TLS wraps it in TLS). */
  connect?: (signal: AbortSignal) => Promise<Deno.Conn>;
}

/**
 * Connects, sends the framed query and resolves with the first accepted reply; rejects with an
 * {@linkcode ExchangeError} on timeout, abort, refused connection, early close or socket error.
 */
export async function tcpExchange(options: TcpExchangeOptions): Promise<Uint8Array> {
  const { upstream, query, accept, timeoutMs } = options;
  if (query.length > MAX_TCP_MESSAGE) throw new ExchangeError("query too large");
  // A timer we clear ourselves rather than AbortSignal.timeout, so none outlives the exchange.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout.signal]);
  const reasonOf = (err: unknown): ExchangeError => {
    if (timeout.signal.aborted) return new ExchangeError("timeout");
    if (options.signal.aborted) return new ExchangeError("closed");
    if (err instanceof ExchangeError) return err;
    if (err instanceof Deno.errors.ConnectionRefused) return new ExchangeError("refused (tcp)");
    // What TLS says of a certificate it refuses (wrong name, unknown issuer, expired).
    if (err instanceof Deno.errors.InvalidData) return new ExchangeError(`tls: ${err.message}`);
    const name = err instanceof Error ? err.name : String(err);
    return new ExchangeError(`network error: ${name}`);
  };

  let conn: Deno.Conn;
  try {
    conn = options.connect
      ? await options.connect(signal)
      : await Deno.connect({ hostname: upstream.host, port: upstream.port, signal });
  } catch (err) {
    clearTimeout(timer);
    throw reasonOf(err);
  }
  // Closing the connection is what interrupts a pending read when the time is up.
  const onAbort = () => safeClose(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const frame = new Uint8Array(2 + query.length);
    frame[0] = query.length >> 8;
    frame[1] = query.length & 0xff;
    frame.set(query, 2);
    await writeAll(conn, frame);
    while (true) {
      const header = await readExact(conn, 2);
      const length = (header[0] << 8) | header[1];
      const message = await readExact(conn, length);
      if (accept(message)) return message;
    }
  } catch (err) {
    throw reasonOf(err);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    safeClose(conn);
  }
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Reads exactly `length` bytes; an `ExchangeError` when the stream ends first. */
export async function readExact(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const n = await conn.read(out.subarray(offset));
    if (n === null) throw new ExchangeError("connection closed by upstream");
    offset += n;
  }
  return out;
}

/** Closes `conn`, ignoring that it may be closed already. */
export function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
