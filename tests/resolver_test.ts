import assert from "node:assert/strict";
import { parseBranchTable } from "../lib/registry/branches.ts";
import { createResolver, type UpstreamQuery } from "../lib/registry/resolver.ts";
import type { LoadedPage, PageSource } from "../lib/registry/source.ts";

// An in-memory page source; `delay` makes lookups asynchronous like pages fetched from peers.
function memorySource(pages: Record<string, unknown>, delay = false): PageSource {
  const loaded = new Map<string, LoadedPage>();
  for (const [key, raw] of Object.entries(pages)) {
    loaded.set(key, { key, page: parseBranchTable(raw, key) });
  }
  const get = (key: string) => {
    const p = loaded.get(key);
    if (!p) throw new Error(`no page ${key}`);
    return delay ? new Promise<LoadedPage>((r) => setTimeout(() => r(p), 1)) : p;
  };
  return {
    root: () => get("root"),
    get: (t) => get(t.kind === "file" ? t.path : `djdns:${t.pageId}`),
  };
}

const PAGES = {
  root: {
    branches: [
      { selector: "\\.t$", targets: ["sub", "other"] },
      { selector: "^direct\\.t$", records: [{ rdata: "9.9.9.9" }] },
      { selector: "^up\\.t$", targets: ["dns://192.0.2.1:5353/"] },
    ],
  },
  sub: {
    branches: [
      { selector: "^a\\.t$", records: [{ rdata: "1.1.1.1" }, { rtype: "AAAA", rdata: "::1" }] },
      {
        selector: "^multi\\.t$",
        records: [
          { domain_name: "multi.t", rdata: "2.2.2.2" },
          { domain_name: "other.multi.t", rdata: "3.3.3.3" },
        ],
      },
      { selector: "^c\\.t$", records: [{ rtype: "CNAME", rdata: "a.t" }] },
      { selector: "^c2\\.t$", records: [{ rtype: "CNAME", rdata: "c.t" }] },
      { selector: "^cl\\.t$", records: [{ rtype: "CNAME", rdata: "cl2.t" }] },
      { selector: "^cl2\\.t$", records: [{ rtype: "CNAME", rdata: "cl.t" }] },
      { selector: "^cx\\.t$", records: [{ rtype: "CNAME", rdata: "www.example.org" }] },
    ],
  },
  other: { branches: [{ selector: "^b\\.t$", records: [{ rdata: "4.4.4.4", rttl: 60 }] }] },
};

for (const delay of [false, true]) {
  const suffix = delay ? " (asynchronous page source)" : "";

  Deno.test(`answers from the first branch with records, walking targets in order${suffix}`, async () => {
    const resolve = createResolver({ source: memorySource(PAGES, delay) });
    const r = await resolve("A.T.", "A");
    assert.ok(r.registry);
    assert.equal(r.rcode, 0);
    assert.ok(r.authoritative);
    assert.deepEqual(r.answers, [{
      name: "a.t",
      type: "A",
      class: "IN",
      ttl: 1800,
      data: "1.1.1.1",
    }]);
    const b = await resolve("b.t", "A");
    assert.ok(b.registry && b.answers[0].data === "4.4.4.4" && b.answers[0].ttl === 60);
  });
}

Deno.test("a name the root does not match is not the registry's", async () => {
  const resolve = createResolver({ source: memorySource(PAGES) });
  const r = await resolve("example.com", "A");
  assert.equal(r.registry, false);
});

Deno.test("records are filtered by type; a name with other types is NODATA with an SOA", async () => {
  const resolve = createResolver({ source: memorySource(PAGES), serial: () => 7 });
  const r = await resolve("a.t", "MX");
  assert.ok(r.registry);
  assert.equal(r.rcode, 0);
  assert.equal(r.answers.length, 0);
  assert.equal(r.authorities[0].type, "SOA");
  assert.equal(r.authorities[0].name, "t");
  assert.equal((r.authorities[0].data as { serial: number }).serial, 7);
  // ANY: one RRset, not all of them (RFC 8482).
  const any = await resolve("a.t", "ANY");
  assert.ok(any.registry && any.answers.length === 1 && any.answers[0].type === "A");
});

Deno.test("nothing found is NXDOMAIN with an SOA", async () => {
  const resolve = createResolver({ source: memorySource(PAGES) });
  const r = await resolve("zzz.t", "A");
  assert.ok(r.registry);
  assert.equal(r.rcode, 3);
  assert.equal(r.authorities[0].type, "SOA");
});

Deno.test("a falling-through walk reaches later matching branches", async () => {
  const resolve = createResolver({ source: memorySource(PAGES) });
  // \.t$ → sub, other: nothing for direct.t; the root's next branch answers.
  const r = await resolve("direct.t", "A");
  assert.ok(r.registry && r.answers[0].data === "9.9.9.9");
});

Deno.test("records named exactly for the query win over the branch's others", async () => {
  const resolve = createResolver({ source: memorySource(PAGES) });
  const r = await resolve("multi.t", "A");
  assert.ok(r.registry);
  assert.deepEqual(r.answers.map((a) => a.data), ["2.2.2.2"]);
});

Deno.test("records without a domain_name apply beside the exactly named ones (DNS.md)", async () => {
  const resolve = createResolver({
    source: memorySource({
      root: {
        branches: [{
          selector: "\\.m\\.t$",
          records: [
            { domain_name: "x.m.t", rdata: "10.0.0.1" },
            { rdata: "10.0.0.2" },
            { domain_name: "y.m.t", rdata: "10.0.0.3" },
          ],
        }],
      },
    }),
  });
  const answers = async (name: string) => {
    const r = await resolve(name, "A");
    assert.ok(r.registry && r.rcode === 0, name);
    assert.ok(r.answers.every((a) => a.name === name), "answers are owned by the query name");
    return r.answers.map((a) => a.data).sort();
  };
  assert.deepEqual(await answers("x.m.t"), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(await answers("y.m.t"), ["10.0.0.2", "10.0.0.3"]);
  // No record names z.m.t: all of the branch's records apply.
  assert.deepEqual(await answers("z.m.t"), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
});

Deno.test("CNAMEs are chased inside the registry and loops end", async () => {
  const resolve = createResolver({ source: memorySource(PAGES) });
  const r = await resolve("c2.t", "A");
  assert.ok(r.registry);
  assert.deepEqual(r.answers.map((a) => `${a.name} ${a.type} ${a.data}`), [
    "c2.t CNAME c.t",
    "c.t CNAME a.t",
    "a.t A 1.1.1.1",
  ]);
  const cname = await resolve("c.t", "CNAME");
  assert.ok(cname.registry && cname.answers.length === 1);
  const loop = await resolve("cl.t", "A");
  assert.ok(loop.registry && loop.rcode === 0 && loop.answers.length === 2);
});

Deno.test("a CNAME leaving the registry is chased upstream", async () => {
  const asked: string[] = [];
  const upstream: UpstreamQuery = (name, type, server) => {
    asked.push(`${name} ${type} ${server ? "explicit" : "default"}`);
    return Promise.resolve({
      rcode: 0,
      answers: [{ name, type: "A", class: "IN", ttl: 5, data: "8.8.4.4" }],
      authorities: [],
    });
  };
  const resolve = createResolver({ source: memorySource(PAGES), upstream });
  const r = await resolve("cx.t", "A");
  assert.ok(r.registry && !r.authoritative);
  assert.deepEqual(r.answers.map((a) => a.data), ["www.example.org", "8.8.4.4"]);
  assert.deepEqual(asked, ["www.example.org A default"]);
});

Deno.test("without default upstreams a CNAME leaving the registry is answered alone", async () => {
  const asked: string[] = [];
  const upstream: UpstreamQuery = (name, _type, server) => {
    asked.push(`${name} ${server ? `${server.host}:${server.port}` : "default"}`);
    return Promise.resolve({
      rcode: 0,
      answers: [{ name, type: "A", class: "IN", ttl: 5, data: "5.5.5.5" }],
      authorities: [],
    });
  };
  const resolve = createResolver({
    source: memorySource(PAGES),
    upstream,
    defaultUpstreams: false,
  });
  const r = await resolve("cx.t", "A");
  assert.ok(r.registry && r.rcode === 0 && r.authoritative);
  assert.deepEqual(r.answers.map((a) => [a.type, a.data]), [["CNAME", "www.example.org"]]);
  // dns:// targets name their own server: still asked.
  const t = await resolve("up.t", "A");
  assert.ok(t.registry && t.answers[0].data === "5.5.5.5");
  assert.deepEqual(asked, ["up.t 192.0.2.1:5353"]);
});

Deno.test("dns:// targets ask that server; failures fall through to SERVFAIL", async () => {
  let fail = false;
  const upstream: UpstreamQuery = (name, _type, server) => {
    if (fail) return Promise.reject(new Error("timeout"));
    assert.deepEqual(server, { host: "192.0.2.1", port: 5353 });
    return Promise.resolve({
      rcode: 0,
      answers: [{ name, type: "A", class: "IN", ttl: 5, data: "5.5.5.5" }],
      authorities: [],
    });
  };
  const resolve = createResolver({ source: memorySource(PAGES), upstream });
  const r = await resolve("up.t", "A", { trace: true });
  assert.ok(r.registry && r.answers[0].data === "5.5.5.5" && !r.authoritative);
  assert.ok(r.trace.some((l) => l.includes("dns://192.0.2.1:5353/: rcode 0")));
  fail = true;
  const f = await resolve("up.t", "A");
  assert.ok(f.registry && f.rcode === 2);
});

Deno.test("page cycles are detected and missing pages fall through", async () => {
  const resolve = createResolver({
    source: memorySource({
      root: { branches: [{ selector: "x$", targets: ["a", "missing"] }] },
      a: { branches: [{ selector: "x$", targets: ["b"] }] },
      b: { branches: [{ selector: "x$", targets: ["a"] }] },
    }),
  });
  const r = await resolve("x", "A", { trace: true });
  assert.ok(r.registry && r.rcode === 2);
  assert.ok(r.trace.some((l) => l.includes("cycle")));
  assert.ok(r.trace.some((l) => l.includes("missing: unavailable")));
});

Deno.test("walk depth and work per query are capped", async () => {
  const chain: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) {
    chain[i === 0 ? "root" : `p${i}`] = { branches: [{ selector: "x$", targets: [`p${i + 1}`] }] };
  }
  chain["p40"] = { branches: [{ selector: "x$", records: [{ rdata: "1.1.1.1" }] }] };
  const deep = await createResolver({ source: memorySource(chain) })("x", "A", { trace: true });
  assert.ok(deep.registry && deep.rcode === 2);
  assert.ok(deep.trace.some((l) => l.includes("deeper than 16 pages")));

  const wide = {
    root: {
      branches: Array.from({ length: 5000 }, () => ({ selector: "x$", targets: ["root2"] })),
    },
    root2: { branches: Array.from({ length: 5000 }, () => ({ selector: "y$" })) },
  };
  const r = await createResolver({ source: memorySource(wide), limits: { maxWork: 10_000 } })(
    "x",
    "A",
    { trace: true },
  );
  assert.ok(r.registry && r.rcode === 2);
  assert.ok(r.trace.some((l) => l.includes("work limit")));
});

Deno.test("a walk stops at its time limit (clock injected)", async () => {
  let t = 0;
  const many = {
    root: { branches: [{ selector: "x$", targets: ["p"] }] },
    p: { branches: Array.from({ length: 1000 }, () => ({ selector: "y$" })) },
  };
  const resolve = createResolver({ source: memorySource(many), now: () => (t += 1) });
  const r = await resolve("x", "A", { trace: true });
  assert.ok(r.registry && r.rcode === 2);
  assert.ok(r.trace.some((l) => l.includes("250 ms")));
  assert.ok(t < 300, `stopped after ${t} clock reads`);
});

Deno.test("long selectors on long names cost more of the work budget", async () => {
  const long = "(?:a|b)" + "c?".repeat(400) + "x$";
  const pages = {
    root: { branches: [{ selector: "x$", targets: ["p"] }] },
    p: { branches: Array.from({ length: 1000 }, () => ({ selector: long })) },
  };
  const name = "q".repeat(60) + "." + "q".repeat(60) + ".x";
  const r = await createResolver({ source: memorySource(pages) })(name, "A", { trace: true });
  // 1000 tests at 1 unit each would fit the 20,000-unit budget; at their real cost they do not.
  assert.ok(r.registry && r.rcode === 2);
  assert.ok(r.trace.some((l) => l.includes("work limit")));
});

Deno.test("a dns:// server cannot slip records for other names into an answer", async () => {
  const upstream: UpstreamQuery = (name) =>
    Promise.resolve({
      rcode: 0,
      answers: [
        { name, type: "CNAME", class: "IN", ttl: 5, data: "real.example" },
        { name: "real.example", type: "A", class: "IN", ttl: 5, data: "192.0.2.1" },
        { name: "www.bank.example", type: "A", class: "IN", ttl: 5, data: "203.0.113.66" },
      ],
      authorities: [],
    });
  const r = await createResolver({ source: memorySource(PAGES), upstream })("up.t", "A");
  assert.ok(r.registry);
  assert.deepEqual(r.answers.map((a) => a.name), ["up.t", "real.example"]);
});

Deno.test("NODATA from a dns:// server is not authoritative", async () => {
  const upstream: UpstreamQuery = () => Promise.resolve({ rcode: 0, answers: [], authorities: [] });
  const r = await createResolver({ source: memorySource(PAGES), upstream })("up.t", "A");
  assert.ok(r.registry && r.rcode === 0 && r.answers.length === 0);
  assert.equal(r.authoritative, false);
});

Deno.test("a CNAME leaving the registry carries the upstream's NXDOMAIN, or SERVFAIL", async () => {
  let fail = false;
  const upstream: UpstreamQuery = () =>
    fail ? Promise.reject(new Error("timeout")) : Promise.resolve({
      rcode: 3,
      answers: [],
      authorities: [{
        name: "example.org",
        type: "SOA",
        class: "IN",
        ttl: 60,
        data: { mname: "a", rname: "b", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 },
      }],
    });
  const resolve = createResolver({ source: memorySource(PAGES), upstream });
  const nx = await resolve("cx.t", "A");
  assert.ok(nx.registry && nx.rcode === 3);
  assert.equal(nx.answers[0].type, "CNAME");
  assert.equal(nx.authorities[0].type, "SOA");
  fail = true;
  const sf = await resolve("cx.t", "A");
  assert.ok(sf.registry && sf.rcode === 2);
});
