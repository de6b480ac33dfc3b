/**
 * One UDP exchange with an upstream, from a fresh socket on a random source port. Only a datagram
 * from the upstream's own address and port that the caller's `accept` approves ends the wait;
 * everything else is ignored until the timeout, so a spoofer must guess id and port and win the
 * race against the real reply.
 *
 * @module
 */
import dgram from "node:dgram";
import { randomInt } from "node:crypto";
import { canonicalHost, ipFamily } from "../dns/ip.ts";
import type { Upstream } from "./types.ts";

/** How many random ports to try before letting the kernel pick one (which Linux also randomises). */
const RANDOM_PORT_TRIES = 3;

/** Why an exchange ended without a reply: `reason` is short (`timeout`, `network error: …`). */
export class ExchangeError extends Error {
  /** Creates an exchange error with a short reason as message. */
  constructor(reason: string) {
    super(reason);
    this.name = "ExchangeError";
  }
}

/** Options of {@linkcode udpExchange}. */
export interface UdpExchangeOptions {
  /** Upstream to ask. */
  upstream: Upstream;
  /** The query message. */
  query: Uint8Array;
  /** Decides whether a datagram from the upstream is the reply; must not throw. */
  accept: (bytes: Uint8Array) => boolean;
  /** How long to wait for an accepted reply. */
  timeoutMs: number;
  /** Aborts the exchange (the forwarder is closing). */
  signal: AbortSignal;
}

/**
 * Sends the query and resolves with the first accepted reply; rejects with an
 * {@linkcode ExchangeError} on timeout, abort or socket error. The socket is closed before the
 * promise settles.
 */
export async function udpExchange(options: UdpExchangeOptions): Promise<Uint8Array> {
  const { upstream, query, accept, timeoutMs, signal } = options;
  if (signal.aborted) throw new ExchangeError("closed");
  const family = ipFamily(upstream.host) === 6 ? "udp6" : "udp4";
  const socket = await bindRandomPort(family);
  const expectedHost = canonicalHost(upstream.host);

  return await new Promise<Uint8Array>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: { reply: Uint8Array } | { error: ExchangeError }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners("message");
      const settle = () => "reply" in outcome ? resolve(outcome.reply) : reject(outcome.error);
      try {
        socket.close(settle);
      } catch {
        settle();
      }
    };
    const onAbort = () => finish({ error: new ExchangeError("closed") });
    const timer = setTimeout(() => finish({ error: new ExchangeError("timeout") }), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });

    socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      try {
        if (rinfo.port !== upstream.port || canonicalHost(rinfo.address) !== expectedHost) return;
        const bytes = new Uint8Array(msg);
        if (accept(bytes)) finish({ reply: bytes });
      } catch {
        // A reply we cannot judge is one we do not accept; keep waiting.
      }
    });
    socket.on("error", (err: Error & { code?: string }) => {
      finish({ error: new ExchangeError(`network error: ${err.code ?? err.message}`) });
    });
    socket.send(query, upstream.port, upstream.host, (err) => {
      if (err) {
        const code = (err as Error & { code?: string }).code ?? err.message;
        finish({ error: new ExchangeError(`network error: ${code}`) });
      }
    });
  });
}

// A port of our own choosing rather than the kernel's, so source-port randomisation does not
// depend on the platform's ephemeral port policy.
async function bindRandomPort(family: "udp4" | "udp6"): Promise<dgram.Socket> {
  let lastError: unknown;
  for (let i = 0; i <= RANDOM_PORT_TRIES; i++) {
    const port = i < RANDOM_PORT_TRIES ? randomInt(1024, 65536) : 0;
    const socket = dgram.createSocket({ type: family });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      return socket;
    } catch (err) {
      lastError = err;
      try {
        socket.close();
      } catch {
        // Never bound: nothing to release.
      }
    }
  }
  const code = (lastError as { code?: string })?.code ?? String(lastError);
  throw new ExchangeError(`network error: cannot bind UDP socket: ${code}`);
}
