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
  /** For a `^literal$` selector, the name it matches (so records can share the string). */
  readonly name?: string;
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

/** The name without any trailing dots (the key the branch index files names under). */
export function stripDots(name: string): string {
  let end = name.length;
  while (end > 0 && name.charCodeAt(end - 1) === 0x2e) end--;
  return end === name.length ? name : name.slice(0, end);
}

// The name a body spells (`h1\.example` is "h1.example"), or undefined when `source[from, to)`
// is not a body: one or more of `a-z`, `0-9`, `_`, `-`, and the escapes `\.`, `\-`, `\_`. A
// character loop: this runs for every branch of a page when it loads.
function body(source: string, from: number, to: number): string | undefined {
  if (from >= to) return undefined;
  let escapes = false;
  for (let i = from; i < to; i++) {
    const c = source.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d) continue;
    if (c !== 0x5c || i + 1 >= to) return undefined;
    const e = source.charCodeAt(i + 1);
    if (e !== 0x2e && e !== 0x2d && e !== 0x5f) return undefined;
    escapes = true;
    i++;
  }
  // Dropping the backslashes unescapes a body, and gives a flat string (concatenating the runs
  // between escapes would keep a tree of string pieces alive per selector).
  const text = source.slice(from, to);
  return escapes ? text.replaceAll("\\", "") : text;
}

const LABEL_START = ["(^|\\.)", "(?:^|\\.)"];

// Go djdns data writes selectors for the name with its trailing dot (`ri\.hype\.$`): such
// selectors are also tested against the name with a dot appended.
function goStyle(source: string): boolean {
  return /\\\.\$?$/.test(source) || source.includes("\\.$");
}

const LITERAL = 0; // `^L$`: text is L
const DOT_SUFFIX = 1; // `\.S$`: text is ".S"
const LABEL_SUFFIX = 2; // `(^|\.)X$`: text is X

function labelMatch(t: string, x: string): boolean {
  return t === x || (t.length > x.length && t.endsWith(x) && t[t.length - x.length - 1] === ".");
}

// A class, not a closure per selector: a page may hold 100,000 of these, and four fields on a
// shared prototype take far less memory than two closures and a keys object each.
class PlainSelector implements Selector {
  constructor(
    readonly source: string,
    readonly text: string,
    readonly kind: 0 | 1 | 2,
    readonly retry: boolean,
  ) {}
  test(n: string): boolean {
    const t = this.text;
    switch (this.kind) {
      case LITERAL:
        return n === t || (this.retry && n + "." === t);
      case DOT_SUFFIX:
        return n.endsWith(t) || (this.retry && (n + ".").endsWith(t));
      default:
        return labelMatch(n, t) || (this.retry && labelMatch(n + ".", t));
    }
  }
  cost(): number {
    return 1;
  }
  get name(): string | undefined {
    return this.kind === LITERAL ? this.text : undefined;
  }
  get keys(): { exact?: string; suffix?: string } | undefined {
    const key = stripDots(this.text);
    if (key === "") return undefined;
    if (this.kind === LITERAL) return { exact: key };
    if (this.kind === DOT_SUFFIX) return { suffix: key };
    return { exact: key, suffix: "." + key };
  }
}

// Selectors in plain forms are compared as strings instead of running a regexp: most of the
// original data is one `^literal$` per scraped name, and a TLD page's delegations are written
// `\.name\.tld$` or `(^|\.)name\.tld$`. The body allows only the characters a normalized name
// holds and the escapes Python's `re.escape` writes (`\.`, `\-`, `\_`), so the string test is
// exactly what the regexp would answer (tests/branch_index_test.ts checks it against RegExp).
function plain(source: string): Selector | undefined {
  const end = source.length - 1;
  if (end < 1 || source.charCodeAt(end) !== 0x24 /* $ */) return undefined;
  if (source.charCodeAt(0) === 0x5e /* ^ */) {
    const text = body(source, 1, end);
    // `^L\.$` is also tested with the dot appended; the literal test covers both.
    return text === undefined ? undefined : new PlainSelector(source, text, LITERAL, true);
  }
  if (source.startsWith("\\.")) {
    const rest = body(source, 2, end);
    if (rest === undefined) return undefined;
    return new PlainSelector(source, "." + rest, DOT_SUFFIX, goStyle(source));
  }
  const start = LABEL_START.find((p) => source.startsWith(p));
  if (start === undefined) return undefined;
  const text = body(source, start.length, end);
  if (text === undefined) return undefined;
  return new PlainSelector(source, text, LABEL_SUFFIX, goStyle(source));
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
