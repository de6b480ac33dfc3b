/**
 * The network a client address belongs to, as a short string key: what response rate limiting
 * counts per (/24 and /56 by default, as Knot and BIND do) and what the TCP face caps
 * connections per. Pure: no sockets, no clock.
 *
 * @module
 */
import { isIP } from "node:net";

/** The 8 16-bit groups of an IPv6 literal (a trailing dotted quad allowed); null if not one. */
function v6Groups(address: string): number[] | null {
  const bare = address.includes("%") ? address.slice(0, address.indexOf("%")) : address;
  if (isIP(bare) !== 6) return null;
  const halves = bare.split("::");
  const part = (s: string): number[] => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (g.includes(".")) {
        const o = g.split(".").map(Number);
        out.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = part(halves[0]);
  const tail = halves.length > 1 ? part(halves[1]) : [];
  return [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * Key of the /`v4Bits` (IPv4) or /`v6Bits` (IPv6) network holding `address`. IPv4-mapped IPv6
 * addresses count as IPv4. Text that is not an address is its own key.
 */
export function prefixKey(address: string, v4Bits: number, v6Bits: number): string {
  if (isIP(address) === 4) return v4Key(address.split(".").map(Number), v4Bits);
  const g = v6Groups(address);
  if (!g) return address;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return v4Key([g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff], v4Bits);
  }
  const out: string[] = [];
  for (let i = 0, left = v6Bits; i < 8 && left > 0; i++, left -= 16) {
    const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
    out.push((g[i] & mask).toString(16));
  }
  return `${out.join(":")}/${v6Bits}`;
}

function v4Key(octets: number[], bits: number): string {
  const n = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const masked = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
  return `${masked >>> 24}.${(masked >>> 16) & 0xff}.${(masked >>> 8) & 0xff}.${
    masked & 0xff
  }/${bits}`;
}
