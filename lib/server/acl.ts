/**
 * Which clients may have names outside the registry resolved for them. By default only this
 * machine (loopback) may: djdns never runs as an open resolver unless told to.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../dns/ip.ts";

/** A parsed CIDR block. */
export interface Cidr {
  v6: boolean;
  bits: bigint;
  prefix: number;
}

function ipBits(ip: string): { v6: boolean; bits: bigint } | null {
  if (ip.startsWith("::ffff:") && isIPv4(ip.slice(7))) ip = ip.slice(7);
  if (isIPv4(ip)) {
    return { v6: false, bits: ip.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n) };
  }
  if (!isIPv6(ip)) return null;
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const expand = (s: string) => {
    if (!s) return [];
    const parts = s.split(":");
    const last = parts[parts.length - 1];
    if (last.includes(".")) {
      const o = last.split(".").map(Number);
      parts.splice(-1, 1, ((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16));
    }
    return parts;
  };
  const h = expand(head);
  const t = tail === undefined ? [] : expand(tail);
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return { v6: true, bits: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** Parses `ADDR/PREFIX` (or a bare address). Throws an Error with a one-line reason. */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.split("/");
  const ip = ipBits(addr);
  if (!ip || extra !== undefined) throw new Error(`'${text}' is not an address or CIDR block`);
  const max = ip.v6 ? 128 : 32;
  const prefix = len === undefined ? max : Number(len);
  if (!/^\d+$/.test(len ?? "0") || prefix > max) throw new Error(`'${text}': bad prefix length`);
  const shift = BigInt(max - prefix);
  return { v6: ip.v6, bits: (ip.bits >> shift) << shift, prefix };
}

/** Loopback blocks: the default set of clients allowed recursion. */
export const LOOPBACK: Cidr[] = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

/** True when `address` lies in one of `blocks`. Unparseable addresses are not allowed. */
export function allowed(address: string, blocks: readonly Cidr[]): boolean {
  const ip = ipBits(address);
  if (!ip) return false;
  return blocks.some((b) => {
    if (b.v6 !== ip.v6) return false;
    const shift = BigInt((b.v6 ? 128 : 32) - b.prefix);
    return (ip.bits >> shift) << shift === b.bits;
  });
}
