/**
 * The UDP face: one `node:dgram` socket (it needs no unstable flag, unlike
 * `Deno.listenDatagram`), each datagram handed to the responder and the reply sent back to its
 * source. Cached answers go out from inside the receive callback, with no promise in between.
 *
 * Deno's `node:dgram` allocates a fresh buffer of the socket's receive buffer size for every
 * datagram, 64 KiB by default (the size does not reach the kernel: `setRecvBufferSize` only
 * changes that allocation). Zeroing and freeing 64 KiB per query cost about a third of the
 * server's CPU time, so the socket asks for {@linkcode RECV_BUFFER} bytes instead: queries
 * larger than that (no real client sends one; it is also the largest `--udp-size`) arrive
 * truncated and get FORMERR.
 *
 * @module
 */
import dgram from "node:dgram";
import { getLogger } from "@logtape/logtape";
import type { Origin, Responder } from "./responder.ts";
import { type Rrl, truncatedReply } from "./rrl.ts";
import { errorReply, HEADER } from "../dns/wire.ts";

const SERVFAIL = 2;

// A query whose answer is being worked out (held for a SERVFAIL if the server stops first).
interface Waiting {
  msg: Uint8Array;
  port: number;
  addr: string;
  limited: boolean;
}

/** The end of a request's first question, or HEADER when it has none that parses. */
export function questionEnd(msg: Uint8Array): number {
  if (msg.length < HEADER || ((msg[4] << 8) | msg[5]) === 0) return HEADER;
  let i = HEADER;
  while (i < msg.length && msg[i] !== 0) {
    if (msg[i] >= 0x40) return HEADER;
    i += msg[i] + 1;
  }
  return i + 5 <= msg.length ? i + 5 : HEADER;
}

/**
 * The SERVFAIL a stopping server sends for a query still waiting at the end of its grace (UDP
 * and TCP alike), so the client asks its next server at once.
 */
export function stopReply(msg: Uint8Array): Uint8Array {
  return errorReply(msg, SERVFAIL, false, questionEnd(msg));
}

const log = getLogger(["djdns", "udp"]);

// The two origins a datagram can have, shared instead of allocated per datagram.
const RECURSIVE: Origin = Object.freeze({ transport: "udp", recursion: true });
const NOT_RECURSIVE: Origin = Object.freeze({ transport: "udp", recursion: false });

/** Bytes of a datagram read at most (see the module note). */
export const RECV_BUFFER = 4096;
/** The receive buffer size Deno's `node:dgram` reports when it allocates 64 KiB per datagram. */
const DENO_DGRAM_DEFAULT = 64 * 1024;

/**
 * Shrinks Deno's per-datagram receive allocation to {@linkcode RECV_BUFFER}. Only when the
 * socket reports Deno's own 64 KiB default: a runtime that reports a real kernel buffer size
 * (Node's 200 KiB or so) keeps it, since a 4 KiB kernel buffer would drop bursts.
 */
function shrinkReceiveBuffer(socket: dgram.Socket): void {
  try {
    if (socket.getRecvBufferSize() !== DENO_DGRAM_DEFAULT) return;
    // On Linux the value is doubled, as the kernel does for SO_RCVBUF.
    socket.setRecvBufferSize(RECV_BUFFER / 2);
    if (socket.getRecvBufferSize() < RECV_BUFFER) socket.setRecvBufferSize(RECV_BUFFER);
  } catch (err) {
    log.debug("cannot shrink the receive buffer: {err}", { err });
  }
}

/** A running UDP listener. */
export interface UdpServer {
  /** The bound port (useful when 0 was asked for). */
  port: number;
  /**
   * Stops listening. With `graceMs`, queries already received are still answered for up to
   * that long first (new ones are ignored meanwhile).
   */
  close(graceMs?: number): Promise<void>;
}

/** Response rate limiting of a UDP listener. */
export interface UdpRateLimit {
  limiter: Rrl;
  /** Clients not limited (loopback in `djdns run`). */
  exempt: (address: string) => boolean;
}

/** What the listener knows about a client address (cached: the checks parse the address). */
interface ClientClass {
  origin: Origin;
  limited: boolean;
}

/**
 * Listens on `host:port` (port 0 picks a free one). `recursion(address)` says whether a client
 * may have names outside the registry forwarded; `rateLimit`, when given, limits the responses
 * to clients it does not exempt.
 */
export function serveUdp(
  host: string,
  port: number,
  responder: Responder,
  recursion: (address: string) => boolean,
  rateLimit?: UdpRateLimit,
): Promise<UdpServer> {
  const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
  const classCache = new Map<string, ClientClass>();
  const classify = (address: string): ClientClass => {
    let c = classCache.get(address);
    if (c === undefined) {
      c = {
        origin: recursion(address) ? RECURSIVE : NOT_RECURSIVE,
        limited: rateLimit !== undefined && !rateLimit.exempt(address),
      };
      if (classCache.size > 4096) classCache.clear();
      classCache.set(address, c);
    }
    return c;
  };
  const sent = (err: Error | null) => err && log.debug("send: {err}", { err });
  // node:dgram's send throws synchronously for some destinations (port 0, which a spoofed
  // source can claim; a socket closed while an answer was pending). A throw here would escape a
  // promise callback and end the process, so nothing leaves this function.
  // `done` (for answers that were pending) runs once the datagram has left, or was not sent.
  const send = (
    reply: Uint8Array | null,
    rport: number,
    raddr: string,
    limited: boolean,
    done?: () => void,
  ) => {
    if (!reply || rport === 0) return done?.();
    if (limited) {
      const action = rateLimit!.limiter.decide(raddr, performance.now());
      if (action === "drop") return done?.();
      if (action === "slip") reply = truncatedReply(reply);
    }
    try {
      socket.send(reply, rport, raddr, done ? (err) => (sent(err), done()) : sent);
    } catch (err) {
      log.debug("send to {raddr}:{rport}: {err}", { raddr, rport, err });
      done?.();
    }
  };
  // Answers still being worked out; close() lets them go out before the socket closes, and
  // answers those still out at its deadline with SERVFAIL, so that a client asks its next server
  // at once instead of waiting out its own timeout (a dead upstream takes longer than the grace).
  const waiting = new Set<Waiting>();
  let sending = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const settle = () => {
    if (--sending === 0 && waiting.size === 0) drained?.();
  };
  socket.on("message", (msg, rinfo) => {
    if (draining) return;
    const client = classify(rinfo.address);
    const out = responder.handle(msg, client.origin);
    if (out instanceof Promise) {
      const w = { msg, port: rinfo.port, addr: rinfo.address, limited: client.limited };
      waiting.add(w);
      out.then((r) => {
        if (!waiting.delete(w)) return; // answered SERVFAIL at the deadline
        sending++;
        send(r, w.port, w.addr, w.limited, settle);
      });
    } else send(out, rinfo.port, rinfo.address, client.limited);
  });
  const close = async (graceMs: number) => {
    draining = true;
    const until = (ms: number) => {
      if (waiting.size === 0 && sending === 0) return Promise.resolve();
      const done = new Promise<void>((r) => drained = r);
      let timer: ReturnType<typeof setTimeout> | undefined;
      return Promise.race([done, new Promise((r) => timer = setTimeout(r, ms))])
        .then(() => clearTimeout(timer));
    };
    if (graceMs > 0) {
      await until(graceMs);
      for (const w of waiting) {
        waiting.delete(w);
        sending++;
        send(
          stopReply(w.msg),
          w.port,
          w.addr,
          w.limited,
          settle,
        );
      }
      await until(500);
    }
    await new Promise<void>((done) => socket.close(() => done()));
  };
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      socket.on("error", (err) => log.error("UDP socket error: {err}", { err }));
      shrinkReceiveBuffer(socket);
      resolve({
        port: socket.address().port,
        close: (graceMs = 0) => close(graceMs),
      });
    });
  });
}
