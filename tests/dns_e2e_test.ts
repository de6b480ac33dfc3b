/**
 * End-to-end tests of the DNS face: the real `djdns run` process answering the real `dig` and
 * `kdig` (and, where a client would hide the bytes, a raw socket), from the fixture registry and
 * a scriptable test upstream.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  dig,
  fixtureRegistry,
  kdig,
  run,
  type RunningServer,
  startDjdns,
} from "./helpers/djdns.ts";
import { startUpstream, type TestUpstream } from "./helpers/upstream_server.ts";
import { buildQuery, header, TcpClient, UdpClient } from "./helpers/raw_dns.ts";
import { createNetns } from "./helpers/netns.ts";
import { ignoring, needs } from "./helpers/preconditions.ts";

/** One resource record line of dig/kdig output. */
interface Rr {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

/** The parts of a dig or kdig reply the tests look at. */
interface Reply {
  status: string;
  id: number;
  flags: Set<string>;
  /** EDNS UDP size of the reply's OPT record, or null when it had none. */
  udp: number | null;
  ednsVersion: number | null;
  question: string[];
  answer: Rr[];
  authority: Rr[];
  /** Everything dig/kdig printed, for assertion messages. */
  text: string;
}

/** Parses dig's or kdig's default output (the two differ in punctuation only). */
function parse(out: { code: number; stdout: string; stderr: string }): Reply {
  const text = out.stdout + out.stderr;
  assert.equal(out.code, 0, `client failed:\n${text}`);
  const head = /->>HEADER<<- opcode: \w+[,;] status: (\w+)[,;] id: (\d+)/.exec(out.stdout);
  assert.ok(head, `no reply header in:\n${text}`);
  const flags = /;; [Ff]lags: ([a-z ]*);/.exec(out.stdout);
  const udp = /; udp: (\d+)|UDP size: (\d+) B/.exec(out.stdout);
  const version = /EDNS: version: (\d+)|;; Version: (\d+);/.exec(out.stdout);
  // Sections start with ";; NAME SECTION:" and end at a blank line. Question lines are
  // comments: ";name. IN A" in dig, ";; name. IN A" in kdig.
  const sections: Record<string, string[]> = {};
  let current: string[] | null = null;
  for (const line of out.stdout.split("\n")) {
    const sec = /^;; (\w+) SECTION:/.exec(line);
    if (sec) current = sections[sec[1]] = [];
    else if (line.trim() === "") current = null;
    else current?.push(line);
  }
  const question = (sections.QUESTION ?? []).map((l) => l.replace(/^;;? ?/, "").split(/\s+/)[0]);
  const rr = (l: string): Rr => {
    const [name, ttl, _cls, type, ...data] = l.trim().split(/\s+/);
    return { name, ttl: Number(ttl), type, data: data.join(" ") };
  };
  return {
    status: head[1],
    id: Number(head[2]),
    flags: new Set((flags?.[1] ?? "").trim().split(/\s+/).filter(Boolean)),
    udp: udp ? Number(udp[1] ?? udp[2]) : null,
    ednsVersion: version ? Number(version[1] ?? version[2]) : null,
    question,
    answer: (sections.ANSWER ?? []).map(rr),
    authority: (sections.AUTHORITY ?? []).map(rr),
    text,
  };
}

async function digq(port: number, ...args: string[]): Promise<Reply> {
  return parse(await dig(port, ...args));
}

async function kdigq(port: number, ...args: string[]): Promise<Reply> {
  return parse(await kdig(port, ...args));
}

/** `type data` of each answer record, for compact comparisons. */
const datas = (r: Reply, type?: string) =>
  r.answer.filter((a) => !type || a.type === type).map((a) => a.data);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true or `ms` pass; returns the time it took or -1. */
async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await probe()) return Date.now() - start;
    await sleep(100);
  }
  return -1;
}

const UPSTREAM_ZONE = {
  "www.example.net.": [{ type: "A", ttl: 60, data: "192.0.2.1" }],
  "cached.example.org.": [{ type: "A", ttl: 60, data: "192.0.2.20" }],
  "x.fwd.test.": [{ type: "A", ttl: 300, data: "192.0.2.7" }],
  "case.example.net.": [{ type: "A", ttl: 300, data: "192.0.2.3" }],
};

/** Starts the test upstream and a server over a fresh copy of the fixture registry using it. */
async function withServer(
  extra: string[],
  body: (s: RunningServer, up: TestUpstream, dir: string) => Promise<void>,
  prepare?: (dir: string) => Promise<void>,
): Promise<void> {
  const up = await startUpstream({ zone: UPSTREAM_ZONE });
  let server: RunningServer | undefined;
  const dir = await fixtureRegistry(up.port);
  try {
    await prepare?.(dir);
    server = await startDjdns(["--pages", dir, "--upstream", `127.0.0.1:${up.port}`, ...extra]);
    await body(server, up, dir);
  } finally {
    if (server) await server.stop("SIGKILL");
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("e2e: registry answers, forwarding, cache, EDNS and truncation", async (t) => {
  await withServer([], async (s, up) => {
    const p = s.port;

    await t.step("A and AAAA from a page two targets down", async () => {
      const a = await digq(p, "orchard.ri.hype", "A");
      assert.equal(a.status, "NOERROR");
      assert.deepEqual(a.answer, [{
        name: "orchard.ri.hype.",
        ttl: 3600,
        type: "A",
        data: "106.186.18.242",
      }]);
      const aaaa = await kdigq(p, "orchard.ri.hype", "AAAA");
      assert.deepEqual(datas(aaaa), ["fcd4:1dc1:cc08:c97d:85e2:6cad:eab8:864"]);
      // No rttl in the page: the default TTL.
      assert.equal(aaaa.answer[0].ttl, 1800);
    });

    await t.step("MX, TXT, CAA and SRV, with dig and kdig", async () => {
      for (const q of [digq, kdigq]) {
        assert.deepEqual(datas(await q(p, "mail.hype", "MX")), ["10 mx1.mail.hype."]);
        const txt = await q(p, "mail.hype", "TXT");
        assert.deepEqual(datas(txt), ['"v=spf1 -all"']);
        assert.equal(txt.answer[0].ttl, 600);
        assert.deepEqual(datas(await q(p, "mail.hype", "CAA")), ['0 issue "letsencrypt.org"']);
        assert.deepEqual(datas(await q(p, "_sip._udp.hype", "SRV")), ["10 60 5060 sip.hype."]);
      }
    });

    await t.step("ANY returns one RRset of the name (RFC 8482)", async () => {
      const r = await digq(p, "mail.hype", "ANY");
      assert.equal(r.status, "NOERROR");
      assert.equal(new Set(r.answer.map((a) => a.type)).size, 1, r.text);
      assert.ok(["CAA", "MX", "TXT"].includes(r.answer[0].type), r.text);
    });

    await t.step("a CNAME inside the registry is chased, AA stays set", async () => {
      const r = await digq(p, "alias.hype", "A");
      assert.equal(r.status, "NOERROR");
      assert.deepEqual(
        r.answer.map((a) => [a.name, a.type, a.data]),
        [["alias.hype.", "CNAME", "orchard.ri.hype."], ["orchard.ri.hype.", "A", "106.186.18.242"]],
      );
      assert.ok(r.flags.has("aa"), r.text);
      const six = await kdigq(p, "alias.hype", "AAAA");
      assert.deepEqual(six.answer.map((a) => a.type), ["CNAME", "AAAA"]);
    });

    await t.step("flags QR/AA/RA; id, RD and CD echoed (raw socket)", async () => {
      const c = await UdpClient.open();
      try {
        for (const [id, rd, cd] of [[0xbeef, false, false], [0x0001, true, true]] as const) {
          const reply = await c.exchange(p, buildQuery({ id, rd, cd, name: "in.root.demo" }));
          assert.ok(reply, "no reply");
          const h = header(reply);
          assert.equal(h.id, id);
          assert.equal(h.qr, true);
          assert.equal(h.aa, true);
          assert.equal(h.ra, true, "an upstream is configured and the client is loopback");
          assert.equal(h.rd, rd);
          assert.equal(h.cd, cd);
          assert.equal(h.tc, false);
          assert.equal(h.rcode, 0);
          assert.equal(h.ancount, 1);
        }
      } finally {
        await c.close();
      }
      const r = await digq(p, "in.root.demo", "+nordflag");
      assert.deepEqual([...r.flags].sort(), ["aa", "qr", "ra"]);
    });

    await t.step("the question comes back with its 0x20 case mix", async () => {
      // dig compares the reply's question with its own, case included, and prints it.
      const r = await digq(p, "In.RoOt.DeMo");
      assert.deepEqual(r.question, ["In.RoOt.DeMo."]);
      assert.deepEqual(datas(r), ["1.2.3.4"]);
      const c = await UdpClient.open();
      try {
        // Each name is asked again in another case mix: the repeat is served from the cache
        // template, which must carry the repeat's own question bytes, not the first query's.
        // The last two are forwarded (upstream templates get the same treatment).
        for (
          const name of ["IN.root.DEMO", "in.ROOT.demo", "CaSe.ExAmPlE.NeT", "cAsE.eXaMpLe.nEt"]
        ) {
          const q = buildQuery({ name });
          const reply = await c.exchange(p, q);
          assert.ok(reply, `no reply for ${name}`);
          assert.deepEqual(reply.subarray(12, q.length), q.subarray(12), `question of ${name}`);
          assert.equal(header(reply).ancount, 1, name);
        }
      } finally {
        await c.close();
      }
    });

    await t.step("NXDOMAIN and NODATA each carry the registry SOA", async () => {
      const nx = await digq(p, "nope.hype");
      assert.equal(nx.status, "NXDOMAIN");
      assert.deepEqual(nx.answer, []);
      assert.equal(nx.authority.length, 1, nx.text);
      assert.equal(nx.authority[0].name, "hype.");
      assert.equal(nx.authority[0].type, "SOA");
      assert.match(nx.authority[0].data, / 300$/, "SOA MINIMUM is the negative TTL");
      assert.ok(nx.flags.has("aa"));

      const nodata = await kdigq(p, "mail.hype", "AAAA");
      assert.equal(nodata.status, "NOERROR");
      assert.deepEqual(nodata.answer, []);
      assert.deepEqual(nodata.authority.map((a) => [a.name, a.type]), [["hype.", "SOA"]]);

      // A TLD claimed by the root with nothing under it.
      const demo = await digq(p, "other.root.demo");
      assert.equal(demo.status, "NXDOMAIN");
      assert.deepEqual(demo.authority.map((a) => [a.name, a.type]), [["demo.", "SOA"]]);
    });

    await t.step("fall-through: an empty sub-page yields to the next branch", async () => {
      assert.deepEqual(datas(await digq(p, "empty.hype")), ["10.9.9.9"]);
      assert.deepEqual(datas(await digq(p, "fallthrough.hype")), ["10.9.9.9"]);
    });

    await t.step("Go-style selector with a trailing dot", async () => {
      assert.deepEqual(datas(await digq(p, "gmg.ri.hype")), ["173.255.210.202"]);
      assert.deepEqual(
        datas(await kdigq(p, "ri.hype", "AAAA")),
        ["fcd5:7d07:2146:f18f:f937:d46e:77c9:80e7"],
      );
    });

    await t.step("page cycles and broken pages give SERVFAIL, not a hang", async () => {
      for (const name of ["x.loop.test", "loop.test", "x.broken.test", "y.broken.test"]) {
        const start = Date.now();
        const r = await digq(p, name);
        assert.equal(r.status, "SERVFAIL", `${name}:\n${r.text}`);
        assert.ok(Date.now() - start < 1500, `${name} took ${Date.now() - start} ms`);
      }
    });

    await t.step("registry names never reach the upstream", async () => {
      const before = up.queries;
      for (
        const [name, type] of [
          ["nope.hype", "A"],
          ["nope.hype", "AAAA"],
          ["deep.nope.hype", "MX"],
          ["mail.hype", "AAAA"],
          ["in.root.demo", "TXT"],
          ["other.root.demo", "A"],
          ["x.loop.test", "A"],
          ["x.broken.test", "A"],
          ["NoPe.HyPe", "A"],
        ]
      ) {
        const r = await digq(p, name, type);
        assert.notEqual(r.status, "REFUSED", r.text);
      }
      assert.equal(up.queries, before, "a registry name was sent upstream");
    });

    await t.step("a dns:// target is answered by that server, without AA", async () => {
      const before = up.queries;
      const r = await digq(p, "x.fwd.test");
      assert.equal(r.status, "NOERROR");
      assert.deepEqual(datas(r), ["192.0.2.7"]);
      assert.ok(!r.flags.has("aa"), `AA set on an answer from elsewhere: ${r.text}`);
      assert.equal(up.queries, before + 1);
      assert.equal(up.lastQuery?.questions?.[0].name, "x.fwd.test");
    });

    await t.step("a CNAME leaving the registry is chased upstream, without AA", async () => {
      const r = await digq(p, "outside.hype");
      assert.deepEqual(r.answer.map((a) => [a.type, a.data]), [
        ["CNAME", "www.example.net."],
        ["A", "192.0.2.1"],
      ]);
      assert.ok(!r.flags.has("aa"));
    });

    await t.step("names outside the registry are forwarded; NXDOMAIN passes through", async () => {
      const before = up.queries;
      const r = await kdigq(p, "www.example.net");
      assert.equal(r.status, "NOERROR");
      assert.deepEqual(datas(r), ["192.0.2.1"]);
      assert.ok(!r.flags.has("aa") && r.flags.has("ra"), r.text);
      const nx = await digq(p, "nxdomain.example.net");
      assert.equal(nx.status, "NXDOMAIN");
      // The upstream's own SOA, not the registry's.
      assert.deepEqual(nx.authority.map((a) => [a.name, a.type]), [["test.", "SOA"]]);
      assert.equal(up.queries, before + 2);
    });

    await t.step(
      "cache: a repeated forwarded question is not asked again; TTL counts down",
      async () => {
        const before = up.queries;
        const first = await digq(p, "cached.example.org");
        assert.deepEqual(datas(first), ["192.0.2.20"]);
        assert.ok(first.answer[0].ttl <= 60 && first.answer[0].ttl >= 59, first.text);
        assert.equal(up.queries, before + 1);
        await sleep(2100); // not synchronisation: the TTL counts down only as time passes
        const second = await kdigq(p, "CACHED.example.org");
        assert.deepEqual(datas(second), ["192.0.2.20"]);
        assert.equal(up.queries, before + 1, "the cached answer went upstream again");
        const ttl = second.answer[0].ttl;
        assert.ok(ttl <= 58 && ttl >= 55, `TTL ${ttl} after 2.1 s (was ${first.answer[0].ttl})`);
      },
    );

    await t.step("EDNS: OPT echoed with udp 1232, larger sizes capped, none without", async () => {
      const d = await digq(p, "in.root.demo");
      assert.equal(d.udp, 1232);
      assert.equal(d.ednsVersion, 0);
      assert.equal((await digq(p, "in.root.demo", "+bufsize=4096")).udp, 1232);
      assert.equal((await kdigq(p, "in.root.demo", "+bufsize=4096")).udp, 1232);
      const none = await digq(p, "in.root.demo", "+noedns");
      assert.equal(none.udp, null, none.text);
      assert.match(none.text, /ADDITIONAL: 0/);
      const c = await UdpClient.open();
      try {
        const reply = (await c.exchange(p, buildQuery({ name: "nope.hype" })))!;
        assert.equal(header(reply).arcount, 0, "OPT in a reply to a query without one");
        const withOpt = (await c.exchange(p, buildQuery({ id: 7, edns: { udpSize: 4096 } })))!;
        assert.equal(header(withOpt).arcount, 1);
        // The OPT is the last 11 bytes: root owner, TYPE 41, CLASS = our payload size.
        assert.deepEqual([...withOpt.subarray(-11, -6)], [0, 0, 41, 1232 >> 8, 1232 & 0xff]);
      } finally {
        await c.close();
      }
    });

    await t.step("EDNS version 1 gets BADVERS", async () => {
      const r = await digq(p, "in.root.demo", "+edns=1", "+noednsnegotiation");
      assert.equal(r.status, "BADVERS", r.text);
      assert.equal(r.ednsVersion, 0);
      assert.equal((await kdigq(p, "in.root.demo", "+edns=1")).status, "BADVERS");
      // dig's negotiation falls back to version 0 and gets the answer.
      assert.deepEqual(datas(await digq(p, "in.root.demo", "+edns=1")), ["1.2.3.4"]);
    });

    await t.step("truncation: TC over UDP without EDNS, full answer over TCP", async () => {
      const tc = await digq(p, "big.hype", "TXT", "+noedns", "+ignore");
      assert.ok(tc.flags.has("tc"), tc.text);
      assert.deepEqual(tc.answer, []);
      assert.deepEqual(tc.question, ["big.hype."]);
      const k = await kdigq(p, "big.hype", "TXT", "+noedns", "+ignore");
      assert.ok(k.flags.has("tc"), k.text);

      const tcp = await digq(p, "big.hype", "TXT", "+noedns", "+tcp");
      assert.ok(!tcp.flags.has("tc"));
      assert.equal(tcp.answer.length, 3);
      assert.equal((await kdigq(p, "big.hype", "TXT", "+tcp")).answer.length, 3);

      const fallback = await digq(p, "big.hype", "TXT", "+noedns");
      assert.match(fallback.text, /Truncated, retrying in TCP mode/);
      assert.equal(fallback.answer.length, 3);
      assert.ok(fallback.answer.every((a) => a.data.length > 240));

      // With EDNS the ~800-byte answer fits in 1232; at the 512 minimum it does not.
      assert.equal((await digq(p, "big.hype", "TXT")).answer.length, 3);
      const c = await UdpClient.open();
      try {
        const small = (await c.exchange(
          p,
          buildQuery({ name: "big.hype", qtype: 16, edns: { udpSize: 512 } }),
        ))!;
        const h = header(small);
        assert.equal(h.tc, true);
        assert.deepEqual([h.qdcount, h.ancount, h.nscount, h.arcount], [1, 0, 0, 1]);
      } finally {
        await c.close();
      }
    });

    await t.step("raw TCP answers carry the full message", async () => {
      const c = await TcpClient.connect(p);
      try {
        const reply = await c.exchange(buildQuery({ id: 99, name: "big.hype", qtype: 16 }));
        assert.ok(reply);
        const h = header(reply);
        assert.equal(h.id, 99);
        assert.equal(h.ancount, 3);
        assert.ok(reply.length > 780, `${reply.length} bytes`);
      } finally {
        await c.close();
      }
    });
  });
});

Deno.test("e2e: --no-upstream refuses outside names and keeps answering the registry", async () => {
  // The test upstream here is only the page's dns:// target, never a default upstream.
  const up = await startUpstream({ zone: UPSTREAM_ZONE });
  const dir = await fixtureRegistry(up.port);
  const s = await startDjdns(["--pages", dir, "--no-upstream"]);
  try {
    const r = await kdigq(s.port, "www.example.net");
    assert.equal(r.status, "REFUSED");
    // A reply without its question is dropped by stub resolvers that match replies to queries
    // (glibc's res_queriesmatch), which then time out instead of seeing REFUSED.
    assert.doesNotMatch(r.text, /doesn't have question section/);
    assert.deepEqual(r.question, ["www.example.net."]);
    assert.ok(!r.flags.has("ra"), `RA without any upstream: ${r.text}`);
    const d = await digq(s.port, "www.example.net", "+noedns");
    assert.equal(d.status, "REFUSED");
    const reg = await digq(s.port, "in.root.demo");
    assert.deepEqual(datas(reg), ["1.2.3.4"]);
    assert.ok(!reg.flags.has("ra"), "RA set though nothing is forwarded");
    assert.equal((await digq(s.port, "nope.hype")).status, "NXDOMAIN");
    // A CNAME leaving the registry, with no upstream to chase it: the CNAME alone (NOERROR, from
    // the registry's pages only, so AA), for the client to chase (DNS.md, the walk, step 5).
    for (const q of [digq, kdigq]) {
      const out = await q(s.port, "outside.hype", "A");
      assert.equal(out.status, "NOERROR", out.text);
      assert.deepEqual(out.answer.map((a) => [a.name, a.type, a.data]), [
        ["outside.hype.", "CNAME", "www.example.net."],
      ]);
      assert.ok(out.flags.has("aa"), out.text);
    }
    assert.equal(up.queries, 0, "asked the page's dns:// server about a name it does not name");
    // A dns:// target names its own server: still asked.
    const fwd = await digq(s.port, "x.fwd.test");
    assert.deepEqual(datas(fwd), ["192.0.2.7"], fwd.text);
    assert.equal(up.queries, 1);
  } finally {
    await s.stop("SIGKILL");
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
});

const OPEN_RESOLVER =
  "e2e: not an open resolver: outside names only for loopback or --allow-recursion";
Deno.test({
  name: OPEN_RESOLVER,
  // The client must not be loopback: it asks from a network namespace of its own, over a veth
  // pair (root only; tools/test_deps.sh says so when it cannot).
  ignore: ignoring(OPEN_RESOLVER, await needs.netns()),
}, async () => {
  const ns = await createNetns();
  const ip = ns.hostAddress;
  /** dig run inside the namespace: its source address is `ns.clientAddress`. */
  const digFrom = async (port: number, ...args: string[]) =>
    parse(await ns.run("dig", [`@${ip}`, "-p", String(port), "+time=2", "+tries=1", ...args]));
  const portOf = (s: RunningServer) =>
    Number(new RegExp(`listening on "?${ip.replaceAll(".", "\\.")}:(\\d+)`).exec(s.log())?.[1]);
  try {
    await withServer(["--listen", "127.0.0.1:0", "--listen", `${ip}:0`], async (s, up) => {
      // startDjdns returns at the first "listening" line; the second follows.
      assert.ok(await within(5000, () => Promise.resolve(portOf(s) > 0)) >= 0, s.log());
      const outer = portOf(s);
      // A loopback client has the name forwarded (and cached).
      assert.deepEqual(datas(await digq(s.port, "www.example.net")), ["192.0.2.1"]);
      assert.equal(up.queries, 1);

      // The namespace's client: the cached forwarded answer is not handed out, nothing is
      // forwarded, the question comes back, and RA is clear (no recursion for it).
      for (const transport of ["+notcp", "+tcp"]) {
        const r = await digFrom(outer, transport, "www.example.net");
        assert.equal(r.status, "REFUSED", `forwarded for ${ns.clientAddress}:\n${r.text}`);
        assert.deepEqual(r.answer, [], "the cached forwarded answer leaked");
        assert.deepEqual(r.question, ["www.example.net."]);
        assert.ok(!r.flags.has("ra"), `RA offered to a client without recursion:\n${r.text}`);
      }
      // Another outside name (not in the cache): refused too, over UDP and TCP.
      assert.equal((await digFrom(outer, "cached.example.org")).status, "REFUSED");
      assert.equal((await digFrom(outer, "+tcp", "cached.example.org")).status, "REFUSED");
      // Registry names are answered for everyone.
      const reg = await digFrom(outer, "in.root.demo");
      assert.equal(reg.status, "NOERROR", reg.text);
      assert.deepEqual(datas(reg), ["1.2.3.4"]);
      assert.equal((await digFrom(outer, "nope.hype")).status, "NXDOMAIN");
      assert.equal(up.queries, 1, "a non-loopback client's query reached the upstream");
    });
    // --allow-recursion for the namespace's address: forwarded for it.
    const allow = ["--listen", `${ip}:0`, "--allow-recursion", `${ns.clientAddress}/32`];
    await withServer(allow, async (s, up) => {
      const r = await digFrom(s.port, "www.example.net");
      assert.equal(r.status, "NOERROR", r.text);
      assert.deepEqual(datas(r), ["192.0.2.1"]);
      assert.ok(r.flags.has("ra"), r.text);
      assert.equal(up.queries, 1);
    });
    // A block that does not hold the client changes nothing.
    const other = ["--listen", `${ip}:0`, "--allow-recursion", `${ip}/32`];
    await withServer(other, async (s, up) => {
      assert.equal((await digFrom(s.port, "www.example.net")).status, "REFUSED");
      assert.equal(up.queries, 0);
    });
  } finally {
    await ns.close();
  }
});

const IPV6 = "e2e: listens on IPv6 loopback";
Deno.test({ name: IPV6, ignore: ignoring(IPV6, await needs.ipv6()) }, async () => {
  const dir = await fixtureRegistry();
  const s = await startDjdns(["--pages", dir, "--no-upstream", "--listen", "[::1]:0"]);
  try {
    for (const tcp of ["+notcp", "+tcp"]) {
      const out = await run("dig", [
        "@::1",
        "-p",
        String(s.port),
        "+time=2",
        "+tries=1",
        tcp,
        "In.Root.Demo",
      ]);
      const r = parse(out);
      assert.equal(r.status, "NOERROR");
      assert.deepEqual(datas(r), ["1.2.3.4"]);
      assert.deepEqual(r.question, ["In.Root.Demo."]);
    }
    const k = parse(
      await run("kdig", [
        "@::1",
        "-p",
        String(s.port),
        "+timeout=2",
        "+retry=0",
        "mail.hype",
        "MX",
      ]),
    );
    assert.deepEqual(datas(k), ["10 mx1.mail.hype."]);
  } finally {
    await s.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: page reloads on file change and SIGHUP; bad edits keep the old pages; SIGTERM", async (t) => {
  const outside = await Deno.makeTempDir({ prefix: "djdns-outside-" });
  const outsideRi = `${outside}/ri.json`;
  let riText = "";
  const linkRi = async (dir: string) => {
    riText = await Deno.readTextFile(`${dir}/private/ri.json`);
    await Deno.writeTextFile(outsideRi, riText);
    await Deno.remove(`${dir}/private/ri.json`);
    await Deno.symlink(outsideRi, `${dir}/private/ri.json`);
  };
  try {
    await withServer([], async (s, _up, dir) => {
      const p = s.port;
      const rootFile = `${dir}/root.json`;
      const original = await Deno.readTextFile(rootFile);
      const a = async (name: string) => datas(await digq(p, name));

      await t.step("SIGHUP reloads a change the file watcher cannot see", async () => {
        // private/ri.json is a symlink to a file outside the watched page directory (set up
        // before the server started): editing that file makes no event in the page directory,
        // so only SIGHUP can pick the change up. This step runs first, while no watcher-driven
        // reload is pending.
        assert.deepEqual(await a("gmg.ri.hype"), ["173.255.210.202"]);
        await Deno.writeTextFile(outsideRi, riText.replace("173.255.210.202", "173.255.210.203"));
        // A negative check needs a window: three times the watcher's 200 ms debounce, in which
        // a reload would have happened had the watcher seen the edit.
        await sleep(600);
        assert.deepEqual(await a("gmg.ri.hype"), ["173.255.210.202"], "reloaded without SIGHUP");
        assert.doesNotMatch(s.log(), /pages reloaded/);
        s.process.kill("SIGHUP");
        const took = await within(
          2000,
          async () => (await a("gmg.ri.hype"))[0] === "173.255.210.203",
        );
        assert.ok(took >= 0, `SIGHUP did not reload:\n${s.log()}`);
        assert.match(s.log(), /pages reloaded \("?SIGHUP"?\)/);
      });

      await t.step(
        "an edited page is served within ~2 s, and the cached answer is gone",
        async () => {
          assert.deepEqual(await a("in.root.demo"), ["1.2.3.4"]);
          assert.deepEqual(await a("in.root.demo"), ["1.2.3.4"]); // now cached
          await Deno.writeTextFile(
            rootFile,
            original.replace('"rdata": "1.2.3.4"', '"rdata": "5.6.7.8"'),
          );
          const took = await within(3000, async () => (await a("in.root.demo"))[0] === "5.6.7.8");
          assert.ok(took >= 0, `still ${await a("in.root.demo")} 3 s after the edit:\n${s.log()}`);
          assert.match(s.log(), /pages reloaded \("?files changed"?\)/);
        },
      );

      await t.step("a reload takes a name the upstream answered into the registry", async () => {
        assert.deepEqual(await a("www.example.net"), ["192.0.2.1"]); // forwarded, cached 60 s
        const claimed = JSON.parse(await Deno.readTextFile(rootFile));
        claimed.branches.unshift({
          selector: "^www\\.example\\.net$",
          records: [{ rdata: "10.1.1.1" }],
        });
        await Deno.writeTextFile(rootFile, JSON.stringify(claimed));
        const took = await within(3000, async () => (await a("www.example.net"))[0] === "10.1.1.1");
        assert.ok(
          took >= 0,
          `a registry name still gets the upstream's cached answer ${await a("www.example.net")}`,
        );
        await Deno.writeTextFile(
          rootFile,
          original.replace('"rdata": "1.2.3.4"', '"rdata": "5.6.7.8"'),
        );
        assert.ok(
          await within(3000, async () => (await a("www.example.net"))[0] === "192.0.2.1") >= 0,
        );
      });

      await t.step("invalid JSON in the root keeps the previous pages serving", async () => {
        await Deno.writeTextFile(rootFile, "{ this is not json");
        const took = await within(3000, () => Promise.resolve(/reload failed/.test(s.log())));
        assert.ok(took >= 0, `no failed reload logged:\n${s.log()}`);
        // Names not asked before (so not from the cache) still resolve from the old pages.
        assert.deepEqual(await a("fallthrough.hype"), ["10.9.9.9"]);
        assert.deepEqual(datas(await digq(p, "mail.hype", "MX")), ["10 mx1.mail.hype."]);
        assert.deepEqual(await a("in.root.demo"), ["5.6.7.8"]);
        assert.equal((await digq(p, "nope.hype")).status, "NXDOMAIN");
        await Deno.writeTextFile(rootFile, original);
        assert.ok(await within(3000, async () => (await a("in.root.demo"))[0] === "1.2.3.4") >= 0);
      });

      await t.step("SIGTERM stops the server with status 0", async () => {
        const status = await s.stop("SIGTERM");
        assert.equal(status.code, 0, s.log());
        assert.match(s.log(), /SIGTERM"?: stopping/);
        const gone = await dig(p, "in.root.demo");
        assert.notEqual(gone.code, 0, "still answering after SIGTERM");
      });
    }, linkRi);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});
