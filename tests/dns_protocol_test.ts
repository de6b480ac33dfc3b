/**
 * Protocol points of issue 11 (items 6-9), against the real `djdns run` process, the real
 * `dig` and raw datagrams: empty non-terminals (RFC 8020), the SOA of negative answers
 * (RFC 2308), upstream failures cached (RFC 9520) and late replies accepted, CNAME exclusivity at load (RFC 2181 §10.1), minimal ANY (RFC 8482), the DO bit on
 * every reply with OPT (RFC 3225), NOTIMP for other opcodes, TSIG (RFC 8945) and malformed EDNS
 * options (RFC 6891).
 *
 * @module
 */
import assert from "node:assert/strict";
import { dig, type RunningServer, startDjdns } from "./helpers/djdns.ts";
import { buildQuery, concat, header, UdpClient } from "./helpers/raw_dns.ts";
import { startUpstream } from "./helpers/upstream_server.ts";
import { parseBranchTable } from "../lib/registry/branches.ts";

interface Rr {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

interface Reply {
  status: string;
  flags: Set<string>;
  answer: Rr[];
  authority: Rr[];
  text: string;
}

async function q(port: number, ...args: string[]): Promise<Reply> {
  const out = await dig(port, ...args);
  const text = out.stdout + out.stderr;
  assert.equal(out.code, 0, text);
  const status = /status: (\w+)/.exec(out.stdout)?.[1] ?? "";
  const flags = new Set((/;; flags: ([a-z ]*);/.exec(out.stdout)?.[1] ?? "").split(/\s+/));
  const sections: Record<string, Rr[]> = {};
  let current: Rr[] | null = null;
  for (const line of out.stdout.split("\n")) {
    const sec = /^;; (\w+) SECTION:/.exec(line);
    if (sec) current = sections[sec[1]] = [];
    else if (line.trim() === "" || line.startsWith(";")) current = null;
    else if (current) {
      const [name, ttl, _cls, type, ...data] = line.trim().split(/\s+/);
      current.push({ name, ttl: Number(ttl), type, data: data.join(" ") });
    }
  }
  return {
    status,
    flags,
    answer: sections.ANSWER ?? [],
    authority: sections.AUTHORITY ?? [],
    text,
  };
}

const SOA = "ns1.ent.test hostmaster.ent.test 2024010101 3600 600 86400 120";
const SOA_TEXT = "ns1.ent.test. hostmaster.ent.test. 2024010101 3600 600 86400 120";

/** A registry with a zone `ent.test` (SOA at its apex) and a deep name `x.a.b.ent.test`. */
async function registry(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "djdns-proto-" });
  await Deno.writeTextFile(
    `${dir}/root.json`,
    JSON.stringify({
      branches: [
        {
          selector: "^ent\\.test$",
          records: [
            { rtype: "SOA", rdata: SOA, rttl: 3600 },
            { rtype: "NS", rdata: "ns1.ent.test" },
          ],
        },
        { selector: "\\.ent\\.test$", targets: ["ent.json"] },
        { selector: "\\.nosoa\\.test$", targets: ["nosoa.json"] },
        { selector: "\\.re\\.test$", targets: ["re.json"] },
        {
          selector: "^many\\.test$",
          records: [
            { rdata: "192.0.2.1" },
            { rdata: "192.0.2.2" },
            { rtype: "AAAA", rdata: "2001:db8::1" },
            { rtype: "TXT", rdata: "hello" },
          ],
        },
      ],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/ent.json`,
    JSON.stringify({
      branches: [
        { selector: "^x\\.a\\.b\\.ent\\.test$", records: [{ rdata: "192.0.2.7" }] },
        { selector: "^www\\.ent\\.test$", records: [{ rdata: "192.0.2.8", rttl: 60 }] },
      ],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/re.json`,
    // A regexp selector: the names it matches cannot be enumerated.
    JSON.stringify({
      branches: [{ selector: "^(x|y)\\.deep\\.re\\.test$", records: [{ rdata: "192.0.2.9" }] }],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/nosoa.json`,
    JSON.stringify({
      branches: [{ selector: "^x\\.y\\.nosoa\\.test$", records: [{ rdata: "192.0.2.1" }] }],
    }),
  );
  return dir;
}

async function withServer(body: (s: RunningServer) => Promise<void>): Promise<void> {
  const dir = await registry();
  const server = await startDjdns(["--pages", dir, "--no-upstream"]);
  try {
    await body(server);
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("dns: empty non-terminals are NODATA, not NXDOMAIN (RFC 8020)", async () => {
  await withServer(async (s) => {
    const leaf = await q(s.port, "x.a.b.ent.test", "A");
    assert.equal(leaf.status, "NOERROR");
    assert.equal(leaf.answer[0]?.data, "192.0.2.7");
    for (const ent of ["b.ent.test", "a.b.ent.test", "A.B.Ent.Test."]) {
      const r = await q(s.port, ent, "A");
      assert.equal(r.status, "NOERROR", `${ent}: ${r.text}`);
      assert.equal(r.answer.length, 0);
      assert.ok(r.flags.has("aa"), r.text);
      assert.equal(r.authority[0]?.type, "SOA", r.text);
    }
    // Below the deep name and beside it, nothing exists.
    assert.equal((await q(s.port, "c.b.ent.test", "A")).status, "NXDOMAIN");
    assert.equal((await q(s.port, "z.x.a.b.ent.test", "A")).status, "NXDOMAIN");
    // Without an SOA of its own, a zone's empty non-terminal is NODATA too.
    const y = await q(s.port, "y.nosoa.test", "TXT");
    assert.equal(y.status, "NOERROR", y.text);
    // Names a regular expression matches cannot be enumerated: documented as NXDOMAIN.
    assert.equal((await q(s.port, "deep.re.test", "A")).status, "NXDOMAIN");
  });
});

Deno.test("dns: negative answers carry the SOA of the closest enclosing zone the registry holds", async () => {
  await withServer(async (s) => {
    for (
      const [name, type, status] of [
        ["nope.ent.test", "A", "NXDOMAIN"],
        ["deeper.nope.ent.test", "AAAA", "NXDOMAIN"],
        ["www.ent.test", "MX", "NOERROR"], // NODATA
        ["b.ent.test", "A", "NOERROR"], // empty non-terminal
        ["ent.test", "A", "NOERROR"], // NODATA at the apex
      ]
    ) {
      const r = await q(s.port, name, type);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal(r.answer.length, 0);
      assert.equal(r.authority.length, 1, r.text);
      const soa = r.authority[0];
      assert.deepEqual([soa.name, soa.type, soa.data], ["ent.test.", "SOA", SOA_TEXT], r.text);
      // RFC 2308 §3: the TTL of the SOA in a negative answer is min(SOA TTL, MINIMUM).
      assert.equal(soa.ttl, 120, r.text);
    }
    // The zone's own SOA query still answers with the record itself.
    const apex = await q(s.port, "ent.test", "SOA");
    assert.equal(apex.answer[0]?.type, "SOA");
    assert.equal(apex.answer[0]?.ttl, 3600);
    // A zone without an SOA record of its own: the synthesized SOA, as before.
    const none = await q(s.port, "nx.nosoa.test", "A");
    assert.equal(none.status, "NXDOMAIN");
    assert.equal(none.authority[0]?.data.split(" ")[0], "djdns.invalid.", none.text);
  });
});

Deno.test("dns: a CNAME beside other data at one name is refused when the page loads", () => {
  const page = (records: unknown[], selector = "^a\\.test$") => ({
    branches: [{ selector, records }],
  });
  const cname = { rtype: "CNAME", rdata: "b.test" };
  for (
    const [p, why] of [
      [page([cname, { rdata: "192.0.2.1" }]), /CNAME record and other data \(A\)/],
      [page([cname, { rtype: "CNAME", rdata: "c.test" }]), /more than one CNAME/],
      [page([{ ...cname, domain_name: "a.test" }, { rtype: "TXT", rdata: "x" }]), /RFC 2181/],
      // A regexp selector answers names that are no record's owner with all the records.
      [
        page(
          [{ ...cname, domain_name: "x.test" }, { domain_name: "y.test", rdata: "192.0.2.1" }],
          "\\.test$",
        ),
        /RFC 2181/,
      ],
    ] as const
  ) {
    assert.throws(() => parseBranchTable(p, "root.json"), why);
  }
  // Different owners under a literal selector, or CNAMEs alone, are fine.
  parseBranchTable(
    page([{ ...cname, domain_name: "a.test" }, { domain_name: "z.test", rdata: "192.0.2.1" }]),
  );
  parseBranchTable(page([cname]));
});

Deno.test("dns: ANY is answered with one RRset (RFC 8482)", async () => {
  await withServer(async (s) => {
    const r = await q(s.port, "many.test", "ANY");
    assert.equal(r.status, "NOERROR", r.text);
    assert.deepEqual(r.answer.map((a) => a.type), ["A", "A"], r.text);
    const tcp = await q(s.port, "many.test", "ANY", "+tcp");
    assert.deepEqual(tcp.answer.map((a) => a.type), ["A", "A"], tcp.text);
  });
});

Deno.test("dns: DO is echoed on every reply with OPT, errors included", async () => {
  await withServer(async (s) => {
    for (
      const [args, status] of [
        [["many.test", "A"], "NOERROR"],
        [["nope.ent.test", "A"], "NXDOMAIN"],
        [["outside.example", "A"], "REFUSED"], // --no-upstream
        [["many.test", "TYPE41"], "FORMERR"],
        [["many.test", "A", "+edns=1", "+noednsnegotiation"], "BADVERS"],
      ] as const
    ) {
      const r = await q(s.port, ...args, "+dnssec");
      assert.equal(r.status, status, r.text);
      assert.match(r.text, /; EDNS: version: 0, flags: do;/, r.text);
    }
  });
});

const TSIG_KEY = "hmac-sha256:tsig-key:" + btoa("0123456789abcdef0123456789abcdef");

Deno.test("dns: other opcodes, TSIG and malformed EDNS options on the wire", async () => {
  await withServer(async (s) => {
    const client = await UdpClient.open();
    try {
      // NOTIFY (4), STATUS (2): NOTIMP, the question echoed, no RA.
      for (const opcode of [2, 4, 5]) {
        const query = buildQuery({ name: "many.test", opcode });
        const reply = (await client.exchange(s.port, query))!;
        const h = header(reply);
        assert.equal(h.rcode, 4, `opcode ${opcode}`);
        assert.equal(h.opcode, opcode);
        assert.equal(h.ra, false, `opcode ${opcode}: RA`);
        assert.equal(h.qdcount, 1);
        assert.deepEqual(reply.subarray(12), query.subarray(12));
      }
      // An EDNS option whose length runs past the OPT record: FORMERR, with the OPT (and DO).
      const base = buildQuery({ name: "many.test" });
      base[11] = 1;
      const badOpt = concat(
        base,
        Uint8Array.of(0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 4, 0, 10, 0, 8),
      );
      const fe = (await client.exchange(s.port, badOpt))!;
      assert.equal(header(fe).rcode, 1);
      assert.equal(header(fe).arcount, 1);
      assert.equal(fe[fe.length - 4] & 0x80, 0x80, "DO echoed");
      // A well-formed option (a client cookie) still answers.
      const goodOpt = concat(
        base,
        Uint8Array.of(0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8),
      );
      assert.equal(header((await client.exchange(s.port, goodOpt))!).rcode, 0);
    } finally {
      await client.close();
    }
    // A TSIG-signed query (the server holds no keys): NOTAUTH, not an unsigned NOERROR.
    const signed = await dig(s.port, "-y", TSIG_KEY, "many.test", "A");
    assert.match(signed.stdout + signed.stderr, /status: NOTAUTH/, signed.stdout + signed.stderr);
    assert.doesNotMatch(signed.stdout, /ANSWER: [1-9]/);
  });
});

Deno.test("dns: upstream SERVFAIL/REFUSED/FORMERR are cached briefly; the client gets SERVFAIL", async () => {
  for (const rcode of ["SERVFAIL", "REFUSED", "FORMERR"]) {
    const up = await startUpstream({ rcode });
    const dir = await registry();
    const server = await startDjdns(["--pages", dir, "--upstream", `127.0.0.1:${up.port}`]);
    const client = await UdpClient.open();
    try {
      for (let i = 0; i < 100; i++) {
        const reply = await client.exchange(
          server.port,
          buildQuery({ id: i, name: "www.example.net" }),
        );
        assert.ok(reply, `${rcode}: query ${i} unanswered`);
        assert.equal(header(reply).rcode, 2, `${rcode}: query ${i}`);
        assert.equal(header(reply).qdcount, 1);
      }
      // One resolution (the one upstream said its word once), then the cached failure:
      // not 3 upstream queries for each of the 100.
      assert.equal(up.queries, 1, `${rcode}: ${up.queries} upstream queries`);
    } finally {
      await client.close();
      await server.stop("SIGKILL");
      await up.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("dns: an upstream slower than one try's timeout still answers within the deadline", async () => {
  const up = await startUpstream({
    zone: { "slow.example.net.": [{ type: "A", ttl: 60, data: "192.0.2.55" }] },
    delayMs: 700,
  });
  const dir = await registry();
  // Tries every 400 ms, three of them: the deadline is 1.2 s, the upstream takes 0.7 s.
  const server = await startDjdns([
    "--pages",
    dir,
    "--upstream",
    `127.0.0.1:${up.port}`,
    "--upstream-timeout",
    "400",
  ]);
  try {
    const r = await q(server.port, "slow.example.net", "A", "+time=5");
    assert.equal(r.status, "NOERROR", r.text);
    assert.equal(r.answer[0]?.data, "192.0.2.55", r.text);
  } finally {
    await server.stop("SIGKILL");
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
});
