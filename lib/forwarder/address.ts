/**
 * IP address literals: validation and one canonical text form, so that `::1` and
 * `0:0:0:0:0:0:0:1` compare equal when matching reply sources and our own listen addresses.
 *
 * @module
 */
import { isIP } from "node:net";

/** The address without an IPv6 zone (`fe80::1%eth0` → `fe80::1`). */
export function stripScope(host: string): string {
  const i = host.indexOf("%");
  return i >= 0 && host.includes(":") ? host.slice(0, i) : host;
}

/** 4 or 6 for a valid literal (scope ignored), 0 otherwise. */
export function ipFamily(host: string): 0 | 4 | 6 {
  return isIP(stripScope(host)) as 0 | 4 | 6;
}

/** Canonical text of an address literal (WHATWG URL host serialization); input as is if not one. */
export function canonicalHost(host: string): string {
  const bare = stripScope(host);
  const family = isIP(bare);
  if (family === 0) return host;
  try {
    const h = new URL(family === 6 ? `http://[${bare}]/` : `http://${bare}/`).hostname;
    return family === 6 ? h.slice(1, -1) : h;
  } catch {
    return bare;
  }
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127/8). */
export function isLoopback(host: string): boolean {
  const h = canonicalHost(host);
  if (ipFamily(h) === 4) return h.startsWith("127.");
  if (h === "::1") return true;
  // The URL serializer writes ::ffff:127.0.0.1 as ::ffff:7f00:1.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
}

/** Whether `host` is the unspecified (wildcard) address `0.0.0.0` or `::`. */
export function isUnspecified(host: string): boolean {
  const h = canonicalHost(host);
  return h === "0.0.0.0" || h === "::";
}
