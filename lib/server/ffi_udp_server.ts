/**
 * The UDP face on a native socket (`ffi_udp.ts`, opt-in with `--allow-ffi`): the same contract
 * as `udp.ts` — every datagram to the responder, the reply to its source, the recursion ACL and
 * response rate limiting per client — with datagrams read and replies sent in batches. Cached
 * answers of one batch leave in one `sendmmsg`; answers that wait (forwarded, resolved) leave
 * one by one when ready.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatIp, parseIp } from "../dns/ip.ts";
import { type NativeUdp, openNativeUdp } from "./ffi_udp.ts";
import type { Origin, Responder } from "./responder.ts";
import { truncatedReply } from "./rrl.ts";
import type { UdpRateLimit, UdpServer } from "./udp.ts";

const log = getLogger(["djdns", "udp"]);

const RECURSIVE: Origin = Object.freeze({ transport: "udp", recursion: true });
const NOT_RECURSIVE: Origin = Object.freeze({ transport: "udp", recursion: false });

/** Batches handled in a row before the loop yields to the event loop (timers, TCP, upstreams). */
const BATCHES_PER_TURN = 8;
/**
 * SO_RCVBUF asked for (Linux caps it at net.core.rmem_max, often 208 KiB): room for ~1,300 queued
 * queries instead of ~270, so a pause of the JavaScript thread (a garbage collection, a scheduler
 * slice given to another process) under a flood costs queueing delay rather than lost queries, as
 * Unbound's `so-rcvbuf` does.
 */
const RECEIVE_BUFFER = 1 << 20;
/**
 * Coalescing: a small batch ({@linkcode BUSY} to {@linkcode SMALL} datagrams) means a steady
 * stream arriving slower than it is answered, such as a paced flood; reading again at once would
 * make many small `recvmmsg`/`sendmmsg` calls (about 6 datagrams each under a 39,000/s flood), each
 * also waking the clients. Waiting {@linkcode COALESCE_US} first lets a batch build up: under a
 * flood, about half the CPU per answer (BENCHMARKS.md). Larger batches (a client with many
 * queries outstanding) are read on at once: waiting there cost a fifth of the queries per
 * second at `dnsperf -c 1 -q 100` when the bound was the whole batch and the wait 500 µs.
 */
const BUSY = 4;
const SMALL = 16;
const COALESCE_US = 250;
/** How long one wait for datagrams lasts before the loop checks whether it should stop (ms). */
const POLL_MS = 200;

interface ClientClass {
  address: string;
  origin: Origin;
  limited: boolean;
}

/** Options of {@linkcode serveUdpNative}. */
export interface NativeServeOptions {
  /** SO_REUSEPORT, so several sockets (one per worker) share the port. */
  reusePort?: boolean;
}

/**
 * Listens on `host:port` with a native socket; the same arguments and result as `serveUdp`.
 * Throws when the socket cannot be opened (the message names the failing call).
 */
export function serveUdpNative(
  host: string,
  port: number,
  responder: Responder,
  recursion: (address: string) => boolean,
  rateLimit?: UdpRateLimit,
  options: NativeServeOptions = {},
): Promise<UdpServer> {
  const bytes = parseIp(host);
  if (!bytes) return Promise.reject(new Error(`not an address: ${host}`));
  let sock: NativeUdp;
  try {
    sock = openNativeUdp(host, bytes, port, {
      reusePort: options.reusePort,
      receiveBuffer: RECEIVE_BUFFER,
    });
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve(serveOn(sock, responder, recursion, rateLimit));
}

/** Runs the request loop on an open socket. */
export function serveOn(
  sock: NativeUdp,
  responder: Responder,
  recursion: (address: string) => boolean,
  rateLimit?: UdpRateLimit,
): UdpServer {
  // Keyed by the IPv4 address as a number (no string made per datagram), or the IPv6 text.
  const classes = new Map<number | string, ClientClass>();
  const classify = (i: number): ClientClass => {
    const p = sock.peer(i);
    const a = p.address;
    const key = p.family === 4
      ? ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0
      : formatIp(a);
    let c = classes.get(key);
    if (c === undefined) {
      const address = typeof key === "string" ? key : formatIp(a);
      c = {
        address,
        origin: recursion(address) ? RECURSIVE : NOT_RECURSIVE,
        limited: rateLimit !== undefined && !rateLimit.exempt(address),
      };
      if (classes.size > 4096) classes.clear();
      classes.set(key, c);
    }
    return c;
  };
  // RRL decides per response, as the node:dgram face does; null: send nothing.
  const limit = (reply: Uint8Array, client: ClientClass): Uint8Array | null => {
    if (!client.limited) return reply;
    const action = rateLimit!.limiter.decide(client.address, performance.now());
    if (action === "drop") return null;
    return action === "slip" ? truncatedReply(reply) : reply;
  };

  let pending = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const settle = () => {
    if (--pending === 0) drained?.();
  };
  const later = (out: Promise<Uint8Array | null>, addr: Uint8Array, client: ClientClass) => {
    pending++;
    out.then((r) => {
      const reply = r && limit(r, client);
      if (reply) sock.sendTo(reply, addr);
    }).finally(settle);
  };

  const handleBatch = (n: number) => {
    for (let i = 0; i < n; i++) {
      const request = sock.datagram(i);
      // Port 0 cannot be answered (a spoofed source can claim it).
      if (sock.peer(i).port === 0) continue;
      const client = classify(i);
      const out = responder.handle(request, client.origin);
      if (out instanceof Promise) later(out, sock.peerAddress(i), client);
      else if (out) {
        const reply = limit(out, client);
        if (reply) sock.queue(i, reply);
      }
    }
    sock.flush();
  };

  let stopped = false;
  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      let turns = 0;
      let coalesce = false;
      try {
        // While draining, datagrams are read and ignored (as the node:dgram face ignores them):
        // left unread, they would keep the socket readable and the wait below would spin.
        for (let n; turns < BATCHES_PER_TURN && (n = sock.receive()) > 0; turns++) {
          if (!draining) handleBatch(n);
          if (n >= BUSY && n < SMALL) {
            coalesce = true;
            break;
          }
        }
        failures = 0;
      } catch (err) {
        // recvmmsg failing for another reason than "nothing to read": say so, back off.
        if (failures++ % 100 === 0) log.error("UDP socket error: {err}", { err });
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (stopped) break;
      // Also after a full run of batches: the wait returns at once then, and lets the event
      // loop turn (timers, TCP, upstream replies).
      await (coalesce && !draining ? sock.pause(COALESCE_US) : sock.readable(POLL_MS));
    }
  })();

  return {
    port: sock.port,
    async close(graceMs = 0) {
      draining = true;
      if (pending > 0 && graceMs > 0) {
        const done = new Promise<void>((r) => drained = r);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([done, new Promise((r) => timer = setTimeout(r, graceMs))]);
        clearTimeout(timer);
      }
      stopped = true;
      sock.close();
      await loop;
    },
  };
}
