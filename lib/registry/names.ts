/**
 * Domain-name text helpers of the page format: checking the names written in page records. (The
 * resolver does not use them: the names it gets were lowercased and escaped by `lib/dns/wire.ts`.)
 *
 * @module
 */

/** Longest name in presentation form without the trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_NAME_LENGTH = 253;

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
  // A character loop rather than split + a regexp per label: a 100,000-name page checks
  // 100,000 owner names at load, and the garbage of the split was most of that cost.
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name.charCodeAt(i) !== 0x2e) continue;
    const len = i - start;
    if (len === 0) return { error: `empty label in '${text}'` };
    if (len > 63) {
      return { error: `label '${name.slice(start, start + 20)}…' longer than 63 octets` };
    }
    if (!labelOk(name, start, i)) {
      return { error: `invalid label '${name.slice(start, i)}' in '${text}'` };
    }
    start = i + 1;
  }
  return { name };
}

// Letters, digits, `_`, inner `-`, a lone or leading `*` (the rule LABEL spells).
function labelOk(name: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = name.charCodeAt(i);
    const alnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
    if (alnum) continue;
    if (c === 0x2d && i !== start && i !== end - 1) continue;
    if (c === 0x2a && i === start) continue;
    return false;
  }
  return true;
}
