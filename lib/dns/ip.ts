/**
 * IP addresses, the one implementation every part uses: parsing text literals (as pages, command
 * lines, resolv.conf and sockets write them) into bytes, one canonical text form (RFC 5952) so that
 * `::1` and `0:0:0:0:0:0:0:1` compare equal, loopback and wildcard tests, and CIDR blocks for the
 * access rules. Pure: no sockets, no name resolution.
 *
 * @module
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX4 = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): Uint8Array | null {
  if (!IPV4.test(text)) return null;
  return Uint8Array.from(text.split("."), Number);
}

function parseV6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  let head = text;
  let v4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  if (text.slice(lastColon + 1).includes(".")) {
    // The dotted tail stands for the last two groups; a "0" holds its place while counting.
    v4 = parseV4(text.slice(lastColon + 1));
    if (!v4) return null;
    head = text.slice(0, lastColon + 1) + "0";
  }
  const groups = v4 ? 7 : 8;
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parts = (s: string) => (s === "" ? [] : s.split(":"));
  const left = parts(halves[0]);
  const right = halves.length === 2 ? parts(halves[1]) : [];
  if (![...left, ...right].every((g) => HEX4.test(g))) return null;
  const n = left.length + right.length;
  if (halves.length === 2 ? n >= groups : n !== groups) return null;
  const all = [...left, ...Array(groups - n).fill("0"), ...right].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

/** True when `text` is a dotted-quad IPv4 address (no leading zeros, which some parsers read as octal). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** True when `text` is an IPv6 address in RFC 4291 text form (no zone id, no brackets). */
export function isIPv6(text: string): boolean {
  return parseV6(text) !== null;
}

/**
 * The bytes of an address literal: 4 for IPv4, 16 for IPv6 (no zone id, no brackets); null when
 * `text` is not one.
 */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(":") ? parseV6(text) : parseV4(text);
}

/** The address without an IPv6 zone (`fe80::1%eth0` → `fe80::1`). */
export function stripScope(host: string): string {
  const i = host.indexOf("%");
  return i >= 0 && host.includes(":") ? host.slice(0, i) : host;
}

/** 4 or 6 for a valid literal (zone ignored), 0 otherwise. */
export function ipFamily(host: string): 0 | 4 | 6 {
  const bytes = parseIp(stripScope(host));
  return bytes === null ? 0 : bytes.length === 4 ? 4 : 6;
}

function isMapped(b: Uint8Array): boolean {
  if (b.length !== 16 || b[10] !== 0xff || b[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return true;
}

/** The text of address bytes: dotted quad, or RFC 5952 (IPv4-mapped written `::ffff:a.b.c.d`). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  if (isMapped(b)) return `::ffff:${b.subarray(12).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // The first longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** Canonical text of an address literal (zone dropped, RFC 5952); the input as is if not one. */
export function canonicalHost(host: string): string {
  const bytes = parseIp(stripScope(host));
  return bytes === null ? host : formatIp(bytes);
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127/8). */
export function isLoopback(host: string): boolean {
  const b = parseIp(stripScope(host));
  if (b === null) return false;
  if (b.length === 4) return b[0] === 127;
  if (isMapped(b)) return b[12] === 127;
  return b.every((x, i) => x === (i === 15 ? 1 : 0));
}

/** Whether `host` is the unspecified (wildcard) address `0.0.0.0` or `::`. */
export function isUnspecified(host: string): boolean {
  const b = parseIp(stripScope(host));
  return b !== null && b.every((x) => x === 0);
}

/** A CIDR block: the address bytes (host bits cleared) and the prefix length. */
export interface Cidr {
  /** True for an IPv6 block (16 bytes), false for IPv4 (4 bytes). */
  v6: boolean;
  /** The network address, host bits zero. */
  bytes: Uint8Array;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  prefix: number;
}

function maskTo(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] &= (0xff00 >> keep) & 0xff;
  }
  return out;
}

/**
 * Parses `ADDR/PREFIX` (or a bare address, a block of one). Host bits are cleared
 * (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped IPv6 block of prefix 96 or more is the IPv4
 * block it maps (`::ffff:10.0.0.0/104` is `10.0.0.0/8`), since clients are matched with mapped
 * addresses unmapped. Throws an Error with a one-line reason.
 */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.split("/");
  let bytes = parseIp(addr);
  if (!bytes || extra !== undefined) throw new Error(`'${text}' is not an address or CIDR block`);
  let max = bytes.length * 8;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) throw new Error(`'${text}': bad prefix length`);
  let prefix = len === undefined ? max : Number(len);
  if (prefix > max) throw new Error(`'${text}': bad prefix length`);
  if (isMapped(bytes) && prefix >= 96) {
    bytes = bytes.subarray(12);
    prefix -= 96;
    max = 32;
  }
  return { v6: max === 128, bytes: maskTo(bytes, prefix), prefix };
}

/** Loopback blocks: the default set of clients allowed recursion. */
export const LOOPBACK: readonly Cidr[] = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

/**
 * True when `address` (a socket's peer address; an IPv6 zone is ignored) lies in one of
 * `blocks`. An IPv4-mapped IPv6 address is matched as the IPv4 address it carries, so a
 * dual-stack socket's `::ffff:127.0.0.1` is loopback. IPv4 blocks never match IPv6 addresses nor
 * the reverse (`::/0` is not "everyone"). Unparseable addresses are not allowed.
 */
export function allowed(address: string, blocks: readonly Cidr[]): boolean {
  let ip = parseIp(stripScope(address));
  if (!ip) return false;
  if (isMapped(ip)) ip = ip.subarray(12);
  for (const b of blocks) {
    if (b.bytes.length !== ip.length) continue;
    const masked = maskTo(ip, b.prefix);
    if (masked.every((x, i) => x === b.bytes[i])) return true;
  }
  return false;
}
