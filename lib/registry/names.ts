/**
 * Domain-name text helpers of the page format: checking the names written in page records. (The
 * resolver does not use them: the names it gets were lowercased and escaped by `lib/dns/wire.ts`.)
 *
 * @module
 */

/** Longest name in presentation form without the trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_NAME_LENGTH = 253;

const LABEL = /^[a-z0-9_*](?:[a-z0-9_-]{0,61}[a-z0-9_])?$|^[a-z0-9_*]$/;

/**
 * Lowercases a name written in a page (`toLowerCase`, so not only ASCII: {@linkcode checkHostName}
 * then refuses anything but ASCII letters, digits, `-`, `_` and `*`) and drops the trailing dot.
 * The root name is the empty string.
 */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * Checks a host name written in a page (record owner or rdata target). Returns the normalized
 * name, or an error message saying what is wrong. Letters, digits, `-` and `_` are allowed, and
 * `*` as the first character of any label (`*.example`, but also `*x.example` and `a.*.example`);
 * internationalized names must be written in their `xn--` form.
 */
export function checkHostName(text: string): { name: string } | { error: string } {
  if (text.length === 0) return { error: "empty name" };
  const name = normalizeName(text);
  if (name === "") return { name };
  if (name.length > MAX_NAME_LENGTH) {
    return { error: `name longer than ${MAX_NAME_LENGTH} characters` };
  }
  for (const label of name.split(".")) {
    if (label.length === 0) return { error: `empty label in '${text}'` };
    if (label.length > 63) return { error: `label '${label.slice(0, 20)}…' longer than 63 octets` };
    if (!LABEL.test(label)) return { error: `invalid label '${label}' in '${text}'` };
  }
  return { name };
}
