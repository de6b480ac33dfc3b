/**
 * Writes the DNS benchmark fixtures next to this file: a registry in the original DJDNS page
 * format (`registry/root.json` → `registry/bench.json`, 500 names with one A and one AAAA record
 * each), the same names as a hosts file for dnsmasq (`hosts`), and a dnsperf query file
 * (`queries.txt`: every name for A and AAAA, one in five with 0x20-style mixed case, in a fixed
 * shuffled order). Deterministic: rerunning it rewrites identical files.
 *
 * Run: `npx -y deno@2.9.6 run --allow-write=tools/bench tools/bench/make_fixtures.ts`
 *
 * @module
 */

const DIR = new URL("./", import.meta.url);
const NAMES = 500;
const TTL = 3600;

// Small deterministic PRNG (mulberry32) so the fixtures never change between runs.
let seed = 0x5eed;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const hosts: { name: string; v4: string; v6: string }[] = [];
for (let i = 0; i < NAMES; i++) {
  const name = `host${String(i).padStart(3, "0")}.bench`;
  hosts.push({ name, v4: `10.77.${i >> 8}.${i & 0xff}`, v6: `fd00:77::${i.toString(16)}` });
}

const root = {
  meta: { about: "DNS benchmark registry (tools/bench_dns.ts)", policy: "Private" },
  branches: [{ selector: "\\.bench$", records: [], targets: ["bench.json"] }],
};
const bench = {
  meta: { about: `${NAMES} benchmark names with A and AAAA records` },
  branches: hosts.map((h) => ({
    selector: `^${h.name.replaceAll(".", "\\.")}$`,
    records: [
      { domain_name: h.name, rtype: "A", rdata: h.v4, rttl: TTL },
      { domain_name: h.name, rtype: "AAAA", rdata: h.v6, rttl: TTL },
    ],
  })),
};

function mixCase(name: string): string {
  let out = "";
  for (const c of name) out += rand() < 0.5 ? c.toUpperCase() : c;
  return out;
}

const queries: string[] = [];
for (const h of hosts) {
  for (const type of ["A", "AAAA"]) {
    queries.push(`${rand() < 0.2 ? mixCase(h.name) : h.name} ${type}`);
  }
}
for (let i = queries.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [queries[i], queries[j]] = [queries[j], queries[i]];
}

await Deno.mkdir(new URL("registry/", DIR), { recursive: true });
await Deno.writeTextFile(new URL("registry/root.json", DIR), JSON.stringify(root, null, 2) + "\n");
await Deno.writeTextFile(
  new URL("registry/bench.json", DIR),
  JSON.stringify(bench, null, 2) + "\n",
);
await Deno.writeTextFile(
  new URL("hosts", DIR),
  hosts.map((h) => `${h.v4} ${h.name}\n${h.v6} ${h.name}\n`).join(""),
);
await Deno.writeTextFile(new URL("queries.txt", DIR), queries.join("\n") + "\n");
console.log(`wrote ${NAMES} names, ${queries.length} queries to ${DIR.pathname}`);
