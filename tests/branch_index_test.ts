/**
 * The branch index (lib/registry/branch_index.ts): a name resolves exactly as a scan of every
 * branch with the selectors' regular expressions would resolve it (DESIGN §4 first-match order),
 * on random pages mixing indexed and scanned selectors; and lookups in a 100,000-branch page
 * cost a few work units whatever the branch's position.
 *
 * @module
 */
import assert from "node:assert/strict";
import { anyMatch, branchIndex, candidates } from "../lib/registry/branch_index.ts";
import { parseBranchTable } from "../lib/registry/branches.ts";
import { createResolver } from "../lib/registry/resolver.ts";
import type { LoadedPage } from "../lib/registry/source.ts";
import { prng } from "./helpers/prng.ts";

// What a selector means, straight from DESIGN §4 and docs/DNS.md: an unanchored regexp search
// on the normalized name, and for Go-style selectors (ending in `\.` or `\.$`, or holding `\.$`)
// also on the name with a trailing dot.
function reference(source: string): (n: string) => boolean {
  const re = new RegExp(source.replaceAll("(?P<", "(?<"));
  const go = /\\\.\$?$/.test(source) || source.includes("\\.$");
  return (n) => re.test(n) || (go && re.test(n + "."));
}

const LABELS = ["a", "b", "ab", "ex", "example", "h1", "x-y", "x_y", "t"];

function randomPage(rand: () => number, size: number) {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const name = () =>
    Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(LABELS)).join(".");
  // Escapes as Python's re.escape writes them, sometimes; Go-style trailing dot, sometimes.
  const esc = (n: string) =>
    n.replace(/[.\-_]/g, (c) => (c === "." || rand() < 0.5 ? "\\" + c : c));
  const dot = () => (rand() < 0.25 ? "\\." : "");
  const upper = (s: string) => (rand() < 0.1 ? s.replace(/[a-z]/, (c) => c.toUpperCase()) : s);
  const shapes: (() => string)[] = [
    () => upper(`^${esc(name())}${dot()}$`),
    () => upper(`\\.${esc(name())}${dot()}$`),
    () => upper(`${pick(["(^|\\.)", "(?:^|\\.)"])}${esc(name())}${dot()}$`),
    () => esc(name()), // unanchored, no $
    () => `^${esc(name())}`, // prefix
    () => `${esc(name())}$`, // suffix not at a label boundary
    () => `[ab]\\.${esc(name())}$`,
    () => pick(["\\.$", "^\\.$", ".*", "^$", "(^|\\.)$", "\\.", "x\\.$", "^h1\\.\\.$"]),
  ];
  const weights = [4, 3, 3, 1, 1, 1, 1, 1];
  const table = weights.flatMap((w, i) => Array(w).fill(i) as number[]);
  return {
    branches: Array.from({ length: size }, (_, i) => ({
      selector: shapes[pick(table)](),
      records: [{ rdata: `10.0.${i >> 8}.${i & 255}` }],
    })),
  };
}

function randomNames(rand: () => number, count: number): string[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let n = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(LABELS)).join(".");
    // A label holding a dot reaches the resolver escaped (`a\.b`), as the responder writes it.
    if (rand() < 0.05) n = n.replace(".", "\\.");
    out.push(n);
  }
  return out.concat(["", "."]);
}

Deno.test("index: every branch that matches a name is a candidate, tested in page order", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rand = prng(seed);
    const raw = randomPage(rand, 1 + Math.floor(rand() * 60));
    const page = parseBranchTable(raw, `seed ${seed}`);
    const refs = raw.branches.map((b) => reference(b.selector));
    for (const n of randomNames(rand, 150)) {
      const want = refs.flatMap((t, i) => (t(n) ? [i] : []));
      const list = candidates(page, n);
      for (let k = 1; k < list.length; k++) assert.ok(list[k - 1] < list[k], "ascending");
      const got = list.filter((i) => page.branches[i].selector.test(n));
      assert.deepEqual(got, want, `seed ${seed}, name ${JSON.stringify(n)}`);
      assert.equal(anyMatch(page, n), want.length > 0);
      // The string tests of plain selectors say exactly what the regexp says.
      for (let i = 0; i < refs.length; i++) {
        assert.equal(page.branches[i].selector.test(n), refs[i](n), raw.branches[i].selector);
      }
    }
  }
});

Deno.test("index: plain selectors are indexed, the rest scanned", () => {
  const page = parseBranchTable({
    branches: [
      { selector: "^h1\\.example$" },
      { selector: "\\.example$" },
      { selector: "(^|\\.)ri\\.hype\\.$" },
      { selector: "^H1\\.example$" }, // never matches a lowercased name: left to the regexp
      { selector: "example$" },
      { selector: "^(a|b)\\.example$" },
      { selector: "^h1\\.example\\.$" }, // Go style: the same name
    ],
  });
  const index = branchIndex(page);
  assert.deepEqual([...index.exact], [["h1.example", [0, 6]], ["ri.hype", 2]]);
  assert.deepEqual([...index.suffix], [[".example", 1], [".ri.hype", 2]]);
  assert.deepEqual(index.scanned, [3, 4, 5]);
  assert.deepEqual(index.exact.get("h1.example"), [0, 6]);
  assert.deepEqual(candidates(page, "h1.example"), [0, 1, 3, 4, 5, 6]);
  assert.deepEqual(candidates(page, "www.ri.hype"), [2, 3, 4, 5]);
});

Deno.test("index: a resolver answers as a scan with the regexps would, first match wins", async () => {
  for (let seed = 100; seed < 130; seed++) {
    const rand = prng(seed);
    const raw = randomPage(rand, 1 + Math.floor(rand() * 40));
    const root: LoadedPage = { key: "root", page: parseBranchTable(raw, "root") };
    const resolve = createResolver({
      source: { root: () => root, get: () => Promise.reject(new Error("none")) },
    });
    const refs = raw.branches.map((b) => reference(b.selector));
    for (const n of randomNames(rand, 60)) {
      if (n === ".") continue;
      const first = refs.findIndex((t) => t(n));
      const r = await resolve(n, "A");
      if (first < 0) {
        assert.equal(r.registry, false, `seed ${seed} ${n}`);
        continue;
      }
      assert.ok(r.registry && r.rcode === 0, `seed ${seed} ${n}`);
      assert.equal(r.answers[0].data, raw.branches[first].records[0].rdata, `seed ${seed} ${n}`);
    }
  }
});

Deno.test("index: every name of a 100,000-branch page answers within a few work units", async () => {
  const N = 99_999; // and a catch-all: the 100,000 branches a page may hold
  const branches = [];
  for (let i = 0; i < N; i++) {
    // Literals, with one delegation-style suffix selector every 10 names.
    const selector = i % 10 === 9 ? `(^|\\.)h${i}\\.example$` : `^h${i}\\.example$`;
    branches.push({ selector, records: [{ rdata: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` }] });
  }
  branches.push({ selector: "\\.example$", records: [{ rtype: "TXT", rdata: "catch-all" }] });
  const root: LoadedPage = { key: "root", page: parseBranchTable({ branches }, "root") };
  // 8 work units: a lookup tests only its candidates, never the branches before it.
  const resolve = createResolver({
    source: { root: () => root, get: () => Promise.reject(new Error("none")) },
    limits: { maxWork: 8 },
  });
  const rand = prng(7);
  const picks = [0, 20_001, N - 1, ...Array.from({ length: 300 }, () => Math.floor(rand() * N))];
  for (const i of picks) {
    const r = await resolve(`h${i}.example`, "A");
    assert.ok(r.registry && r.rcode === 0, `h${i}.example: ${JSON.stringify(r)}`);
    assert.equal(r.answers[0].data, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  }
  // h99989 has a delegation-style selector: it covers the names under it.
  const sub = await resolve(`www.h99989.example`, "A");
  assert.ok(sub.registry && sub.rcode === 0 && sub.answers[0].data === "10.1.134.149");
  // An unknown name falls to the catch-all (the last branch), NODATA for A.
  const unknown = await resolve("nothere.example", "A");
  assert.ok(unknown.registry && unknown.rcode === 0 && unknown.answers.length === 0);
  const txt = await resolve("nothere.example", "TXT");
  assert.ok(txt.registry && txt.answers[0].data?.toString() === "catch-all");
});
