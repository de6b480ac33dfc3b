/**
 * IP address literals in text form, as pages, command lines and ACLs write them.
 *
 * @module
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX4 = /^[0-9a-fA-F]{1,4}$/;

/** True when `text` is a dotted-quad IPv4 address (no leading zeros, which some parsers read as octal). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** True when `text` is an IPv6 address in RFC 4291 text form (no zone id). */
export function isIPv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let head = text;
  let groups = 8;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    head = text.slice(0, lastColon + 1) + "0";
    groups = 7;
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const parts = (s: string) => (s === "" ? [] : s.split(":"));
  const left = parts(halves[0]);
  const right = halves.length === 2 ? parts(halves[1]) : [];
  if (![...left, ...right].every((g) => HEX4.test(g))) return false;
  const n = left.length + right.length;
  return halves.length === 2 ? n < groups : n === groups;
}
