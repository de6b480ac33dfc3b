/**
 * Branch selectors: regular expressions tested against the normalized query name with
 * unanchored search, as python-djdns did. Every selector is compiled once, when its page is
 * loaded, with V8's linear-time engine (the `l` flag), so no selector can backtrack
 * catastrophically; a pattern that engine cannot run (back-references, for one) makes the page
 * invalid instead of becoming a time bomb.
 *
 * @module
 */

/** Longest selector accepted, in characters. */
export const MAX_SELECTOR_LENGTH = 1024;

/** A compiled selector: `test(name)` answers whether the branch applies to `name`. */
export interface Selector {
  /** The selector as written in the page. */
  source: string;
  /** Tests a normalized name (lowercase, no trailing dot). */
  test(name: string): boolean;
  /**
   * What a test against `name` costs, in work units of the resolver's per-query budget: 1 for a
   * literal, more for long patterns on long names (the linear engine's cost grows with both).
   */
  cost(name: string): number;
  /**
   * Set when the selector is one of the plain forms the branch index recognises (see
   * `branch_index.ts`): every name `n` it matches has `stripDots(n)` equal to `exact`, or ending
   * in `suffix` (which starts with a dot). Undefined for every other selector, which is scanned.
   */
  readonly keys?: { readonly exact?: string; readonly suffix?: string };
}

let linearEngine: boolean | undefined;

/** True when this process runs V8 with the linear-time regexp engine enabled. */
export function linearEngineAvailable(): boolean {
  if (linearEngine === undefined) {
    try {
      // deno-lint-ignore no-invalid-regexp -- `l` exists only with the V8 flag; that is the probe.
      new RegExp("a", "l");
      linearEngine = true;
    } catch {
      linearEngine = false;
    }
  }
  return linearEngine;
}

// Selectors in plain forms are compared as strings instead of running a regexp: most of the
// original data is one `^literal$` per scraped name, and a TLD page's delegations are written
// `\.name\.tld$` or `(^|\.)name\.tld$`. The body allows only the characters a normalized name
// holds and the escapes Python's `re.escape` writes (`\.`, `\-`, `\_`), so the string test is
// exactly what the regexp would answer (tests/branch_index_test.ts checks it against RegExp).
const BODY = String.raw`((?:[a-z0-9_-]|\\[.\-_])+)`;
const LITERAL = new RegExp(String.raw`^\^${BODY}\$$`);
const DOT_SUFFIX = new RegExp(String.raw`^\\\.${BODY}\$$`);
const LABEL_SUFFIX = new RegExp(String.raw`^\((?:\?:)?\^\|\\\.\)${BODY}\$$`);

/** The name without any trailing dots (the key the branch index files names under). */
export function stripDots(name: string): string {
  let end = name.length;
  while (end > 0 && name.charCodeAt(end - 1) === 0x2e) end--;
  return end === name.length ? name : name.slice(0, end);
}

const unescape = (body: string) => body.replace(/\\(.)/g, "$1");
const unit = () => 1;

// Go djdns data writes selectors for the name with its trailing dot (`ri\.hype\.$`): such
// selectors are also tested against the name with a dot appended.
function goStyle(source: string): boolean {
  return /\\\.\$?$/.test(source) || source.includes("\\.$");
}

// The string forms of the three plain shapes; `this` is the selector object, so 100,000 of them
// share these functions instead of holding closures of their own.
interface Plain extends Selector {
  /** The literal name (`^L$`), the suffix (`\.S$`: ".S"), or the label (`(^|\.)X$`: "X"). */
  text: string;
  retry: boolean;
}
function testLiteral(this: Plain, n: string): boolean {
  return n === this.text || (this.retry && n + "." === this.text);
}
function testDotSuffix(this: Plain, n: string): boolean {
  return n.endsWith(this.text) || (this.retry && (n + ".").endsWith(this.text));
}
function labelMatch(t: string, x: string): boolean {
  return t === x || (t.length > x.length && t.endsWith(x) && t[t.length - x.length - 1] === ".");
}
function testLabelSuffix(this: Plain, n: string): boolean {
  return labelMatch(n, this.text) || (this.retry && labelMatch(n + ".", this.text));
}

function plain(source: string): Selector | undefined {
  let m = LITERAL.exec(source);
  if (m) {
    const text = unescape(m[1]);
    const exact = stripDots(text);
    // `^L\.$` is also tested with the dot appended; the literal test covers both.
    return { source, text, retry: true, test: testLiteral, cost: unit, keys: { exact } } as Plain;
  }
  m = DOT_SUFFIX.exec(source);
  if (m) {
    const text = "." + unescape(m[1]);
    const suffix = stripDots(text);
    const keys = suffix === "" ? undefined : { suffix };
    const retry = goStyle(source);
    return { source, text, retry, test: testDotSuffix, cost: unit, keys } as Plain;
  }
  m = LABEL_SUFFIX.exec(source);
  if (m) {
    const text = unescape(m[1]);
    const exact = stripDots(text);
    const keys = exact === "" ? undefined : { exact, suffix: "." + exact };
    const retry = goStyle(source);
    return { source, text, retry, test: testLabelSuffix, cost: unit, keys } as Plain;
  }
  return undefined;
}

/**
 * Compiles `source`. Python's `(?P<name>` groups are accepted and read as JavaScript's
 * `(?<name>`. Throws an Error saying why a selector is refused.
 */
export function compileSelector(source: string): Selector {
  if (typeof source !== "string") throw new Error("selector must be a string");
  if (source.length > MAX_SELECTOR_LENGTH) {
    throw new Error(`selector longer than ${MAX_SELECTOR_LENGTH} characters`);
  }
  const simple = plain(source);
  if (simple) return simple;
  if (!linearEngineAvailable()) {
    throw new Error(
      "the linear-time regexp engine is off: start Deno with " +
        "--v8-flags=--enable-experimental-regexp-engine",
    );
  }
  let re: RegExp;
  try {
    re = new RegExp(source.replaceAll("(?P<", "(?<"), "l");
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : e;
    throw new Error(`selector ${JSON.stringify(source)} is not a linear-time regexp: ${why}`);
  }
  const cost = (n: string) => 1 + Math.floor((source.length * n.length) / 4096);
  // Go djdns data writes selectors for the name with its trailing dot (`ri\.hype\.$`); only
  // such selectors get the second test, which doubles the cost.
  if (goStyle(source)) {
    return { source, test: (n) => re.test(n) || re.test(n + "."), cost: (n) => 2 * cost(n) };
  }
  return { source, test: (n) => re.test(n), cost };
}
