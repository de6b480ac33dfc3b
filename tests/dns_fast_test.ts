/**
 * The native UDP face (`djdns run --udp-native`, under the `djdns-ffi` task's --allow-ffi)
 * against the normal one: the same queries to both servers, the same replies (header, length,
 * sections; TTLs masked, since forwarded answers age by the second), dig and kdig through it,
 * a registry reload seen, hostile datagrams survived, a clean stop, and the refusal without
 * --allow-ffi. The non-loopback half (RRL, recursion ACL) runs in a network namespace:
 * tests/helpers/fast_netns.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  dig,
  djdnsCli,
  fixtureRegistry,
  kdig,
  run,
  type RunningServer,
  startDjdns,
} from "./helpers/djdns.ts";
import { startUpstream, type TestUpstream, type Zone } from "./helpers/upstream_server.ts";
import {
  buildQuery,
  decode,
  header,
  type QuerySpec,
  seededRandom,
  UdpClient,
} from "./helpers/raw_dns.ts";
import { ignoring, needs } from "./helpers/preconditions.ts";
import { privateNetnsAvailable, runInPrivateNetns } from "./helpers/netns.ts";

const ZONE: Zone = {
  "www.example.com": [{ type: "A", ttl: 600, data: "192.0.2.10" }],
  "txt.example.com": [{ type: "TXT", ttl: 600, data: ["hello", "world"] }],
  // 100 addresses: 1,600+ bytes, over every UDP limit (512 without EDNS, 1232 with it).
  "big.example.com": Array.from({ length: 100 }, (_, i) => ({
    type: "A",
    ttl: 600,
    data: `198.51.100.${i + 1}`,
  })),
};

/** The questions both faces must answer alike (ids fixed, so replies compare byte for byte). */
const CASES: [string, QuerySpec | Uint8Array][] = [
  ["registry name", { name: "in.root.demo" }],
  ["registry name, 0x20 case, EDNS with DO", {
    name: "In.ROOT.dEmO",
    edns: { udpSize: 4096, dnssecOk: true },
  }],
  ["registry name without RD", { name: "in.root.demo", rd: false }],
  ["registry name, no data (AAAA)", { name: "in.root.demo", qtype: 28 }],
  ["registry NXDOMAIN", { name: "nothing.demo" }],
  ["forwarded name", { name: "www.example.com" }],
  ["forwarded name with EDNS, CD", { name: "WWW.example.com", edns: {}, cd: true }],
  ["forwarded TXT", { name: "txt.example.com", qtype: 16 }],
  ["forwarded NXDOMAIN", { name: "nope.example.com" }],
  ["oversize without EDNS: TC", { name: "big.example.com" }],
  ["oversize with EDNS 4096: TC at 1232", { name: "big.example.com", edns: { udpSize: 4096 } }],
  ["class CH: REFUSED", { name: "in.root.demo", qclass: 3 }],
  ["AXFR: NOTIMP", { name: "demo", qtype: 252 }],
  ["EDNS version 1: BADVERS", { name: "in.root.demo", edns: { version: 1 } }],
  ["opcode STATUS: NOTIMP", { name: "in.root.demo", opcode: 2 }],
  ["qtype OPT: FORMERR", { name: "in.root.demo", qtype: 41 }],
  ["two questions: FORMERR", Uint8Array.of(0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1)],
  ["a response: no reply", Uint8Array.of(0, 8, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0)],
  ["too short: no reply", Uint8Array.of(0, 9, 1)],
];

/** A reply with every TTL set to 0 and the rest as decoded, for comparing two servers. */
function masked(reply: Uint8Array): unknown {
  try {
    const p = decode(reply);
    for (const s of [p.answers, p.authorities, p.additionals]) {
      for (const r of s ?? []) if (r.type !== "OPT") (r as { ttl?: number }).ttl = 0;
    }
    return p;
  } catch {
    return Array.from(reply); // not decodable (a header-only error): compare the bytes
  }
}

/**
 * startDjdns, tried again when port 0 gave a UDP port whose TCP twin another process holds (a
 * race of any `--listen HOST:0` on this shared machine, not of the face under test).
 */
async function start(args: string[], opts: { task?: string } = {}): Promise<RunningServer> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startDjdns(args, opts);
    } catch (e) {
      if (attempt === 3 || !/AddrInUse/.test((e as Error).message)) throw e;
    }
  }
}

async function ask(c: UdpClient, port: number, q: Uint8Array): Promise<Uint8Array | null> {
  c.drain();
  return await c.exchange(port, q, 700);
}

async function withServers(
  fn: (normal: RunningServer, native: RunningServer, dir: string, up: TestUpstream) => Promise<
    void
  >,
) {
  const up = await startUpstream({ zone: ZONE });
  const dir = await fixtureRegistry(up.port);
  const args = ["--pages", dir, "--upstream", `127.0.0.1:${up.port}`];
  let normal: RunningServer | undefined;
  let native: RunningServer | undefined;
  try {
    normal = await start(args);
    native = await start([...args, "--udp-native"], { task: "djdns-ffi" });
    await fn(normal, native, dir, up);
  } finally {
    await normal?.stop();
    await native?.stop();
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fast: --udp-native answers every kind of query as the node:dgram face does; reloads; survives junk; stops cleanly", async (t) => {
  await withServers(async (normal, native, dir) => {
    const c = await UdpClient.open();
    try {
      await t.step("same replies, query by query", async () => {
        let id = 100;
        for (const [what, spec] of CASES) {
          const q = spec instanceof Uint8Array ? spec : buildQuery({ ...spec, id: id++ });
          // Twice each: the first may be resolved, the second comes from the answer cache.
          for (const pass of ["first", "cached"]) {
            const a = await ask(c, normal.port, q);
            const b = await ask(c, native.port, q);
            const label = `${what} (${pass})`;
            if (a === null) {
              assert.equal(b, null, `${label}: the native face replied, the normal one did not`);
              continue;
            }
            assert.ok(b, `${label}: no reply from the native face`);
            assert.deepEqual(b.subarray(0, 12), a.subarray(0, 12), `${label}: header`);
            assert.equal(b.length, a.length, `${label}: length`);
            assert.deepEqual(masked(b), masked(a), `${label}: sections`);
          }
        }
        const tc = header((await ask(c, native.port, buildQuery({ name: "big.example.com" })))!);
        assert.ok(tc.tc, "an oversize answer must be truncated");
      });

      await t.step("dig and kdig through the native face", async () => {
        for (const name of ["in.root.demo", "www.example.com"]) {
          const a = await dig(normal.port, "+short", name);
          const b = await dig(native.port, "+short", name);
          assert.equal(b.stdout, a.stdout);
          assert.notEqual(b.stdout.trim(), "");
        }
        // dig retries a truncated answer over TCP and gets all 100 addresses.
        const big = await dig(native.port, "+short", "big.example.com");
        assert.equal(big.stdout.trim().split("\n").length, 100);
        const k = await kdig(native.port, "+noall", "+answer", "txt.example.com", "TXT");
        assert.match(k.stdout, /"hello" "world"/);
        const nx = await kdig(native.port, "nothing.demo");
        assert.match(nx.stdout, /status: NXDOMAIN/);
      });

      await t.step("a registry change is seen", async () => {
        const root = `${dir}/root.json`;
        await Deno.writeTextFile(
          root,
          (await Deno.readTextFile(root)).replace('"rdata": "1.2.3.4"', '"rdata": "1.2.3.99"'),
        );
        const deadline = Date.now() + 15_000;
        let got = "";
        while (Date.now() < deadline) {
          got = (await dig(native.port, "+short", "in.root.demo")).stdout.trim();
          if (got === "1.2.3.99") break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(got, "1.2.3.99", `the reload was not seen:\n${native.log()}`);
      });

      await t.step(
        "hostile datagrams: 10,000 random, oversize ones, a flood; still answers",
        async () => {
          const rand = seededRandom(13);
          for (let i = 0; i < 10_000; i++) {
            const len = Math.floor(rand() * 300);
            const junk = new Uint8Array(len);
            for (let j = 0; j < len; j++) junk[j] = Math.floor(rand() * 256);
            // Half of them look like queries (QR=0, QDCOUNT 1), to reach the parser's depths.
            if (len >= 12 && i % 2 === 0) {
              junk[2] &= 0x7f;
              junk[4] = 0;
              junk[5] = 1;
            }
            void c.send(native.port, junk);
            if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
          }
          // Longer than the 4,096-byte read: cut, so FORMERR or nothing, never a crash.
          const huge = new Uint8Array(9000);
          huge.set(buildQuery({ id: 77 }));
          await c.send(native.port, huge);
          const flood = buildQuery({ name: "in.root.demo" });
          for (let i = 0; i < 5000; i++) {
            const q = flood.slice();
            q[0] = i >> 8;
            q[1] = i & 0xff;
            void c.send(native.port, q);
            if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
          }
          await new Promise((r) => setTimeout(r, 500));
          const alive = await ask(c, native.port, buildQuery({ id: 4242, name: "in.root.demo" }));
          assert.ok(alive, `no answer after the junk:\n${native.log()}`);
          assert.equal(header(alive).rcode, 0);
          assert.doesNotMatch(native.log(), /djdns·udp|SocketError|uncaught/i);
        },
      );
    } finally {
      await c.close();
    }
    await t.step("SIGTERM stops it cleanly and quickly", async () => {
      const at = Date.now();
      const status = await native.stop();
      assert.equal(status.code, 0, native.log());
      assert.ok(Date.now() - at < 5000, `took ${Date.now() - at} ms`);
    });
  });
});

Deno.test({
  name: "fast: --udp-native on IPv6 loopback",
  ignore: ignoring("fast ipv6", await needs.ipv6()),
  async fn() {
    const dir = await fixtureRegistry();
    const s = await start([
      "--pages",
      dir,
      "--no-upstream",
      "--listen",
      "[::1]:0",
      "--udp-native",
    ], {
      task: "djdns-ffi",
    });
    try {
      const r = await run("dig", [
        "@::1",
        "-p",
        String(s.port),
        "+time=2",
        "+tries=1",
        "+short",
        "in.root.demo",
      ]);
      assert.equal(r.stdout.trim(), "1.2.3.4");
    } finally {
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("fast: --udp-native without --allow-ffi is refused with one line naming the permission", async () => {
  const r = await djdnsCli("run", "--no-upstream", "--listen", "127.0.0.1:0", "--udp-native");
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /--udp-native: .*--allow-ffi/);
});

Deno.test({
  name: "fast: --udp-native from outside loopback: recursion ACL and RRL as the normal face",
  ignore: ignoring(
    "fast netns",
    privateNetnsAvailable() ? undefined : "needs root and unshare --net",
  ),
  async fn() {
    const script = new URL("./helpers/fast_netns.ts", import.meta.url).pathname;
    type Face = {
      acl: { registry: number; forwarded: number; ra: boolean };
      loopback: { forwarded: number; ra: boolean };
      rrl: { replies: number; full: number; truncated: number };
    };
    const r = await runInPrivateNetns(script) as Record<"normal" | "native", Face>;
    const text = JSON.stringify(r);
    for (const face of ["normal", "native"] as const) {
      const f = r[face];
      // Outside the ACL: registry names yes, forwarded names REFUSED, RA clear.
      assert.deepEqual(f.acl, { registry: 0, forwarded: 5, ra: false }, `${face} ${text}`);
      // Loopback may recurse.
      assert.deepEqual(f.loopback, { forwarded: 0, ra: true }, `${face} ${text}`);
      // 100 at once from 198.19.0.2 with --rrl-rate 20: ~20 full, half the rest truncated.
      assert.ok(f.rrl.full >= 20 && f.rrl.full <= 30, `${face} ${text}`);
      assert.ok(Math.abs(f.rrl.truncated - (100 - f.rrl.full) / 2) <= 1, `${face} ${text}`);
    }
  },
});
