/**
 * Response rate limiting (lib/server/rrl.ts) as pure logic, time injected: per-network token
 * buckets, slip, the bounded table, and the truncated reply; and network keys (prefix.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createRrl, truncatedReply } from "../lib/server/rrl.ts";
import { prefixKey } from "../lib/server/prefix.ts";
import { buildQuery, header } from "./helpers/raw_dns.ts";
import { privateNetnsAvailable, runInPrivateNetns } from "./helpers/netns.ts";

function count(actions: string[]) {
  const out: Record<string, number> = { send: 0, slip: 0, drop: 0 };
  for (const a of actions) out[a]++;
  return out;
}

Deno.test("rrl: a network gets `rate` responses a second, then every slip-th truncated", () => {
  const rrl = createRrl({ rate: 10, slip: 2 });
  const burst = Array.from({ length: 30 }, () => rrl.decide("198.51.100.7", 1000));
  assert.deepEqual(count(burst), { send: 10, slip: 10, drop: 10 });
  assert.deepEqual(burst.slice(10, 14), ["drop", "slip", "drop", "slip"]);
  // Another address of the same /24 shares the bucket; another /24 does not.
  assert.equal(rrl.decide("198.51.100.200", 1000), "drop");
  assert.equal(rrl.decide("198.51.101.1", 1000), "send");
  // Tokens come back at `rate` per second: 0.5 s later, 5 more.
  const later = Array.from({ length: 8 }, () => rrl.decide("198.51.100.7", 1500));
  assert.equal(count(later).send, 5);
  assert.deepEqual(rrl.stats, { slipped: 11 + 1, dropped: 11 + 1 });
});

Deno.test("rrl: slip 0 drops everything over the limit, slip 1 truncates everything", () => {
  const none = createRrl({ rate: 5, slip: 0 });
  assert.deepEqual(count(Array.from({ length: 20 }, () => none.decide("192.0.2.1", 0))), {
    send: 5,
    slip: 0,
    drop: 15,
  });
  const all = createRrl({ rate: 5, slip: 1 });
  assert.deepEqual(count(Array.from({ length: 20 }, () => all.decide("192.0.2.1", 0))), {
    send: 5,
    slip: 15,
    drop: 0,
  });
});

Deno.test("rrl: rate 0 disables the limit", () => {
  const off = createRrl({ rate: 0, slip: 2 });
  for (let i = 0; i < 10_000; i++) assert.equal(off.decide("203.0.113.9", 0), "send");
  assert.equal(off.entries, 0);
});

Deno.test("rrl: IPv6 networks are /56; IPv4-mapped addresses count as IPv4", () => {
  const rrl = createRrl({ rate: 1, slip: 0 });
  assert.equal(rrl.decide("2001:db8:0:ab00::1", 0), "send");
  assert.equal(rrl.decide("2001:db8:0:abff:ffff::2", 0), "drop"); // same /56
  assert.equal(rrl.decide("2001:db8:0:ac00::1", 0), "send"); // next /56
  assert.equal(rrl.decide("::ffff:192.0.2.9", 0), "send");
  assert.equal(rrl.decide("192.0.2.10", 0), "drop"); // same /24 as the mapped one
});

Deno.test("rrl: the table is bounded; idle networks are forgotten first", () => {
  const rrl = createRrl({ rate: 2, slip: 0, maxEntries: 100 });
  // A flood from a limited network stays limited while 10,000 other networks pass by.
  rrl.decide("10.0.0.1", 0);
  rrl.decide("10.0.0.1", 0);
  assert.equal(rrl.decide("10.0.0.1", 0), "drop");
  for (let i = 0; i < 10_000; i++) {
    rrl.decide(`10.${(i >> 8) & 0xff}.${i & 0xff}.1`, 1);
    assert.ok(rrl.entries <= 100);
  }
  // Two seconds on, every bucket has refilled: the sweep frees the table.
  rrl.decide("172.16.0.1", 2000);
  rrl.decide("172.16.1.1", 2000);
  assert.ok(rrl.entries <= 3, `${rrl.entries} entries after idle networks were swept`);
});

Deno.test("rrl: prefix keys", () => {
  assert.equal(prefixKey("198.51.100.77", 24, 56), "198.51.100.0/24");
  assert.equal(prefixKey("198.51.100.77", 32, 64), "198.51.100.77/32");
  assert.equal(prefixKey("2001:db8::1", 24, 56), "2001:db8:0:0/56");
  assert.equal(prefixKey("2001:db8:1:2:3:4:5:6", 24, 64), "2001:db8:1:2/64");
  assert.equal(prefixKey("::ffff:10.1.2.3", 24, 56), "10.1.2.0/24");
  assert.equal(prefixKey("::1", 24, 128), "0:0:0:0:0:0:0:1/128");
  assert.equal(prefixKey("not an address", 24, 56), "not an address");
});

Deno.test("rrl: the truncated reply keeps header and question, sets TC, drops records", () => {
  const q = buildQuery({ id: 0xbeef, name: "big.txt.test", qtype: 16, edns: {} });
  // A reply: the query with QR, one fake answer appended and the counts saying so.
  const reply = new Uint8Array(q.length + 20);
  reply.set(q);
  reply[2] |= 0x80;
  reply[7] = 1;
  const t = truncatedReply(reply);
  const h = header(t);
  assert.equal(h.id, 0xbeef);
  assert.ok(h.tc);
  assert.deepEqual([h.qdcount, h.ancount, h.nscount, h.arcount], [1, 0, 0, 0]);
  const questionEnd = 12 + "big.txt.test".length + 2 + 4;
  assert.equal(t.length, questionEnd);
  assert.deepEqual(t.subarray(12), q.subarray(12, questionEnd));
  // A reply without a question (FORMERR of junk) keeps its header only.
  const bare = new Uint8Array(12);
  bare[2] = 0x80;
  assert.equal(truncatedReply(bare).length, 12);
});

// End to end needs a client address outside loopback: a private network namespace (root and
// unshare(1)) whose loopback device also holds two TEST-NET addresses. Traffic never leaves it.
const netnsAvailable = privateNetnsAvailable();

Deno.test({
  name: "rrl e2e: a non-loopback /24 gets --rrl-rate responses, every 2nd of the rest TC=1; " +
    "loopback is not limited",
  ignore: !netnsAvailable,
  async fn() {
    const script = new URL("./helpers/rrl_netns.ts", import.meta.url).pathname;
    type Burst = { replies: number; full: number; truncated: number };
    const r = await runInPrivateNetns(script) as { outside: Burst; loopback: Burst; dig: string };
    // 100 queries at once from 198.19.0.2: the bucket holds 20 (a few more may refill while
    // the burst is read); of the other ~80, every second is truncated, the rest dropped.
    assert.ok(r.outside.full >= 20 && r.outside.full <= 30, JSON.stringify(r));
    assert.ok(Math.abs(r.outside.truncated - (100 - r.outside.full) / 2) <= 1, JSON.stringify(r));
    assert.deepEqual(r.loopback, { replies: 100, full: 100, truncated: 0 });
    // dig, limited, gets TC=1 and its answer over TCP.
    assert.equal(r.dig, "1.2.3.4");
  },
});
