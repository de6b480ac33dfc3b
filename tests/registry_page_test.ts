import assert from "node:assert/strict";
import { BranchTableError, parseBranchTable, parseTarget } from "../lib/registry/branches.ts";
import { pageKey, snapshotSource } from "../lib/sources/files.ts";
import { isIPv6 } from "../lib/dns/ip.ts";
import { parseRecord } from "../lib/registry/rdata.ts";
import { compileSelector } from "../lib/registry/selector.ts";

Deno.test("record defaults follow python-djdns: A, IN, TTL 1800", () => {
  const r = parseRecord({ domain_name: "Example.COM.", rdata: "1.2.3.4" });
  assert.deepEqual(r, { name: "example.com", type: "A", class: "IN", ttl: 1800, data: "1.2.3.4" });
});

Deno.test("every supported record type parses its text rdata", () => {
  const cases: [string, unknown, unknown][] = [
    ["AAAA", "FCD5::1", "fcd5::1"],
    ["CNAME", "Target.Example.", "target.example"],
    ["MX", "10 mx.example", { preference: 10, exchange: "mx.example" }],
    ["TXT", "hello", ["hello"]],
    ["TXT", ["a", "b"], ["a", "b"]],
    ["NS", "ns1.example", "ns1.example"],
    ["SRV", "1 2 5060 sip.example", { priority: 1, weight: 2, port: 5060, target: "sip.example" }],
    ["CAA", '0 issue "ca.example"', { flags: 0, tag: "issue", value: "ca.example" }],
    ["PTR", "host.example", "host.example"],
    ["SOA", "ns.example host.example 1 2 3 4 5", {
      mname: "ns.example",
      rname: "host.example",
      serial: 1,
      refresh: 2,
      retry: 3,
      expire: 4,
      minimum: 5,
    }],
  ];
  for (const [rtype, rdata, data] of cases) {
    assert.deepEqual(parseRecord({ rtype, rdata }).data, data, rtype);
  }
});

Deno.test("long TXT strings are split into 255-octet character-strings", () => {
  const data = parseRecord({ rtype: "TXT", rdata: "x".repeat(600) }).data as string[];
  assert.deepEqual(data.map((s) => s.length), [255, 255, 90]);
});

Deno.test("bad records are refused with a message naming the field", () => {
  const bad: [unknown, RegExp][] = [
    [{ rdata: "1.2.3" }, /A rdata must be an IPv4 address/],
    [{ rdata: "01.2.3.4" }, /IPv4/],
    [{ rtype: "AAAA", rdata: "1::2::3" }, /IPv6/],
    [{ rtype: "NOT A REAL RTYPE", rdata: "x" }, /unsupported rtype/],
    [{ rclass: "CH", rdata: "1.2.3.4" }, /only IN/],
    [{ rttl: -1, rdata: "1.2.3.4" }, /rttl/],
    [{ rttl: 2 ** 31, rdata: "1.2.3.4" }, /rttl/],
    [{ rtype: "MX", rdata: "mx.example" }, /MX rdata/],
    [{ rtype: "CNAME", rdata: "bad name!" }, /invalid label/],
    [{ rtype: "SRV", rdata: "1 2 70000 x.example" }, /SRV rdata/],
    [{ domain_name: "a..b", rdata: "1.2.3.4" }, /empty label/],
    [{ rtype: "A" }, /no rdata/],
    ["not an object", /must be an object/],
  ];
  for (const [rec, re] of bad) assert.throws(() => parseRecord(rec), re, JSON.stringify(rec));
});

Deno.test("IPv6 text forms", () => {
  for (const ok of ["::", "::1", "fe80::1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "1::"]) {
    assert.ok(isIPv6(ok), ok);
  }
  for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "fe80::1%eth0", ":", "1.2.3.4"]) {
    assert.ok(!isIPv6(bad), bad);
  }
});

Deno.test("a bad page names the file, the branch and the record", () => {
  const page = {
    branches: [
      { selector: "ok", records: [{ rdata: "1.2.3.4" }] },
      { selector: "^x$", records: [{ rdata: "1.2.3.4" }, { rtype: "AAAA", rdata: "nope" }] },
    ],
  };
  assert.throws(
    () => parseBranchTable(page, "sub/page.json"),
    (e: unknown) =>
      e instanceof BranchTableError &&
      e.message.startsWith('sub/page.json: branch 1 ("^x$"): record 1: AAAA rdata must be'),
  );
  assert.throws(() => parseBranchTable({ meta: {} }, "p.json"), /p.json: page has no branches/);
  assert.throws(() => parseBranchTable([], "p.json"), /must be a JSON object/);
  assert.throws(() => parseBranchTable({ meta: { about: 5 }, branches: [] }), /meta.about/);
});

Deno.test("unknown keys are ignored (original extensibility rule)", () => {
  const p = parseBranchTable({
    branches: [{ selector: "a", records: [], targets: [], users: {}, comment: "x" }],
    extra: 1,
  });
  assert.equal(p.branches.length, 1);
});

Deno.test("targets: page files, djdns page ids, dns:// servers", () => {
  assert.deepEqual(parseTarget("private/ri.json"), { kind: "file", path: "private/ri.json" });
  assert.deepEqual(parseTarget("dns://8.8.8.8/"), { kind: "dns", host: "8.8.8.8", port: 53 });
  assert.deepEqual(parseTarget("dns://[::1]:5353/"), { kind: "dns", host: "::1", port: 5353 });
  const id = "ab".repeat(32);
  assert.deepEqual(parseTarget(`djdns:${id}`), { kind: "djdns", pageId: id });
  assert.throws(() => parseTarget("djdns:ABC"), /64 lowercase hex/);
  assert.throws(() => parseTarget("dns://dns.google/"), /IPv4 address/);
  assert.throws(() => parseTarget("dns://1.2.3.4:99999/"), /dns:\/\/HOST/);
  assert.throws(() => parseTarget("http://x/"), /unknown scheme 'http'/);
  assert.throws(() => parseTarget(""), /non-empty/);
});

Deno.test("selectors search unanchored, and Go-style trailing-dot selectors match", () => {
  assert.ok(compileSelector("\\.hype$").test("a.b.hype"));
  assert.ok(!compileSelector("\\.hype$").test("hype"));
  assert.ok(compileSelector("^(gmg\\.)?ri\\.hype\\.$").test("gmg.ri.hype"));
  assert.ok(compileSelector("^ri\\.hype$").test("ri.hype"));
  assert.ok(!compileSelector("^ri\\.hype$").test("xri.hype"));
  assert.ok(compileSelector("(?P<sub>\\w+)\\.demo$").test("a.demo"), "python named group");
});

Deno.test("catastrophic-backtracking selectors run in linear time", () => {
  const sel = compileSelector("^(a+)+$");
  const start = performance.now();
  assert.equal(sel.test("a".repeat(5000) + "!"), false);
  // A backtracking engine needs 2^5000 steps here; the linear engine takes microseconds.
  assert.ok(performance.now() - start < 1000);
});

Deno.test("selectors the linear engine cannot run are refused at load", () => {
  assert.throws(
    () => parseBranchTable({ branches: [{ selector: "(a)\\1" }] }, "p.json"),
    /p.json: branch 0: selector "\(a\)\\\\1" is not a linear-time regexp/,
  );
  assert.throws(() => compileSelector("("), /not a linear-time regexp/);
  assert.throws(() => compileSelector("a".repeat(1025)), /longer than 1024/);
});

Deno.test("a page file can never stand in for a signed page", () => {
  const id = "ab".repeat(32);
  assert.throws(() => pageKey(`./djdns:${id}`), /reserved/);
  const snap = {
    dir: "/x",
    root: { key: "root.json", page: parseBranchTable({ branches: [] }) },
    pages: new Map(),
    errors: [],
  };
  const source = snapshotSource(() => snap);
  const signed = { key: `djdns:${id}`, page: parseBranchTable({ branches: [] }) };
  assert.throws(() => source.get({ kind: "file", path: "evil.json" }, signed), /names a page file/);
});
