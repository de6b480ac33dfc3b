/**
 * The UDP face: one `node:dgram` socket (it needs no unstable flag, unlike
 * `Deno.listenDatagram`), each datagram handed to the responder and the reply sent back to its
 * source. Cached answers go out from inside the receive callback, with no promise in between.
 *
 * @module
 */
import dgram from "node:dgram";
import { getLogger } from "@logtape/logtape";
import type { Responder } from "./responder.ts";

const log = getLogger(["djdns", "udp"]);

/** A running UDP listener. */
export interface UdpServer {
  /** The bound port (useful when 0 was asked for). */
  port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Listens on `host:port` (port 0 picks a free one). `recursion(address)` says whether a client
 * may have names outside the registry forwarded.
 */
export function serveUdp(
  host: string,
  port: number,
  responder: Responder,
  recursion: (address: string) => boolean,
): Promise<UdpServer> {
  const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
  const allowCache = new Map<string, boolean>();
  const recursionFor = (address: string) => {
    let ok = allowCache.get(address);
    if (ok === undefined) {
      ok = recursion(address);
      if (allowCache.size > 4096) allowCache.clear();
      allowCache.set(address, ok);
    }
    return ok;
  };
  const send = (reply: Uint8Array | null, rport: number, raddr: string) => {
    if (reply) socket.send(reply, rport, raddr, (err) => err && log.debug("send: {err}", { err }));
  };
  socket.on("message", (msg, rinfo) => {
    const origin = { transport: "udp" as const, recursion: recursionFor(rinfo.address) };
    const out = responder.handle(msg, origin);
    if (out instanceof Promise) out.then((r) => send(r, rinfo.port, rinfo.address));
    else send(out, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      socket.on("error", (err) => log.error("UDP socket error: {err}", { err }));
      resolve({
        port: socket.address().port,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}
