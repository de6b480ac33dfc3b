/**
 * Peer addresses: `HOST:PORT` (IPv4, `[IPv6]`, or a name) or a multiaddr.
 *
 * @module
 */
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A peer address as a multiaddr; throws a clear Error for anything else. */
export function peerAddr(text: string): Multiaddr {
  if (text.startsWith("/")) {
    try {
      const ma = multiaddr(text);
      if (!ma.toString().includes("/tcp/")) throw new Error("no /tcp/ part");
      return ma;
    } catch (e) {
      throw new Error(`${text}: not a TCP multiaddr (${(e as Error).message})`);
    }
  }
  const m = /^(\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[4]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new Error(`${text}: expected HOST:PORT, [IPV6]:PORT or a multiaddr`);
  }
  if (m[2] !== undefined) return multiaddr(`/ip6/${m[2]}/tcp/${port}`);
  const host = m[3];
  if (IPV4.test(host)) return multiaddr(`/ip4/${host}/tcp/${port}`);
  if (!/^[a-zA-Z0-9.-]{1,253}$/.test(host)) throw new Error(`${text}: bad host name`);
  return multiaddr(`/dns/${host}/tcp/${port}`);
}

/** Whether a connection's remote address is loopback (127.0.0.0/8 or ::1). */
export function isLoopback(addr: Multiaddr | string): boolean {
  const s = addr.toString();
  return /^\/ip4\/127\./.test(s) || /^\/ip6\/::1\//.test(s) || /^\/ip6\/::ffff:127\./.test(s);
}
