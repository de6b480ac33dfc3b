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

// `^literal$` selectors (most of the original data: one per scraped name) compare strings
// instead of running a regexp.
// Python's re.escape writes `\-` and `\_` too.
const LITERAL = /^\^((?:[a-z0-9_-]|\\[.\-_])+)\$$/;

/**
 * Compiles `source`. Python's `(?P<name>` groups are accepted and read as JavaScript's
 * `(?<name>`. Throws an Error saying why a selector is refused.
 */
export function compileSelector(source: string): Selector {
  if (typeof source !== "string") throw new Error("selector must be a string");
  if (source.length > MAX_SELECTOR_LENGTH) {
    throw new Error(`selector longer than ${MAX_SELECTOR_LENGTH} characters`);
  }
  const literal = LITERAL.exec(source);
  if (literal) {
    const name = literal[1].replace(/\\(.)/g, "$1");
    // Go djdns matched names with their trailing dot; accept either form.
    return { source, test: (n) => n === name || n + "." === name, cost: () => 1 };
  }
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
  if (/\\\.\$?$/.test(source) || source.includes("\\.$")) {
    return { source, test: (n) => re.test(n) || re.test(n + "."), cost: (n) => 2 * cost(n) };
  }
  return { source, test: (n) => re.test(n), cost };
}
