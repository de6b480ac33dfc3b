import assert from "node:assert/strict";
import dnsPacket, { type Answer } from "dns-packet";
import {
  createCache,
  MAX_NEGATIVE_TTL_SECONDS,
  MAX_POSITIVE_TTL_SECONDS,
  negativeTtl,
  positiveTtl,
  responseTtl,
  SERVFAIL_TTL_SECONDS,
} from "../lib/cache/mod.ts";

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("cache: hit before TTL, miss and eviction at expiry", () => {
  const c = clock();
  const cache = createCache<string>({ maxEntries: 10, maxBytes: 1000, now: c.now });
  assert.equal(cache.set("a", "A", 100, 10), true);
  c.advance(99);
  assert.equal(cache.get("a"), "A");
  c.advance(1);
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("cache: LRU eviction by entry count keeps recently used entries", () => {
  const cache = createCache<number>({ maxEntries: 2, maxBytes: 1000, now: clock().now });
  cache.set("a", 1, 1000, 1);
  cache.set("b", 2, 1000, 1);
  assert.equal(cache.get("a"), 1); // "b" is now least recently used
  cache.set("c", 3, 1000, 1);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.get("c"), 3);
  assert.equal(cache.size, 2);
});

Deno.test("cache: LRU eviction by bytes", () => {
  const cache = createCache<string>({ maxEntries: 100, maxBytes: 100, now: clock().now });
  cache.set("a", "a", 1000, 40);
  cache.set("b", "b", 1000, 40);
  cache.get("a");
  cache.set("c", "c", 1000, 40); // 120 > 100: evict "b", the least recently used
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), "a");
  assert.equal(cache.bytes, 80);
  cache.set("d", "d", 1000, 100); // needs the whole budget
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, 100);
  assert.equal(cache.get("d"), "d");
});

Deno.test("cache: entry larger than maxBytes or with TTL <= 0 is not stored", () => {
  const cache = createCache<string>({ maxEntries: 10, maxBytes: 100, now: clock().now });
  cache.set("keep", "k", 1000, 10);
  assert.equal(cache.set("big", "x", 1000, 101), false);
  assert.equal(cache.set("zero", "x", 0, 1), false);
  assert.equal(cache.set("nan", "x", NaN, 1), false);
  assert.equal(cache.get("big"), undefined);
  assert.equal(cache.get("keep"), "k");
  assert.equal(cache.bytes, 10);
});

Deno.test("cache: overwrite replaces size accounting; delete and clear", () => {
  const cache = createCache<string>({ maxEntries: 10, maxBytes: 100, now: clock().now });
  cache.set("a", "1", 1000, 30);
  cache.set("a", "2", 1000, 50);
  assert.equal(cache.bytes, 50);
  assert.equal(cache.get("a"), "2");
  assert.equal(cache.delete("a"), true);
  assert.equal(cache.delete("a"), false);
  cache.set("b", "b", 1000, 5);
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

const a = (ttl: number): Answer => ({ type: "A", name: "x.test", ttl, data: "192.0.2.1" });
const soa = (ttl: number, minimum: number): Answer => ({
  type: "SOA",
  name: "test",
  ttl,
  data: { mname: "ns.test", rname: "h.test", serial: 1, minimum },
});

Deno.test("ttl: positive TTL is the RRset minimum, clamped, 0 when empty", () => {
  assert.equal(positiveTtl([a(300), a(60), a(120)]), 60);
  assert.equal(positiveTtl([a(10 * MAX_POSITIVE_TTL_SECONDS)]), MAX_POSITIVE_TTL_SECONDS);
  assert.equal(positiveTtl([]), 0);
  assert.equal(positiveTtl([a(0x80000000)]), 0, "RFC 2181 §8: MSB set means zero");
});

Deno.test("ttl: negative TTL is min(SOA TTL, SOA MINIMUM), capped; no SOA means no caching", () => {
  assert.equal(negativeTtl([soa(3600, 60)]), 60);
  assert.equal(negativeTtl([soa(30, 600)]), 30);
  assert.equal(negativeTtl([soa(86400, 86400)]), MAX_NEGATIVE_TTL_SECONDS);
  assert.equal(negativeTtl([]), 0);
  assert.equal(negativeTtl([a(300)]), 0);
});

Deno.test("ttl: responseTtl classifies decoded responses by RCODE", () => {
  const decode = (p: dnsPacket.Packet & { rcode?: string }) =>
    dnsPacket.decode(dnsPacket.encode(p));
  const base = { type: "response" as const, id: 1, questions: [{ type: "A" as const, name: "x" }] };
  assert.equal(responseTtl(decode({ ...base, answers: [a(42)] })), 42);
  assert.equal(responseTtl(decode({ ...base, authorities: [soa(100, 50)] })), 50);
  const nx = decode({ ...base, flags: 3, authorities: [soa(100, 70)] });
  assert.equal(responseTtl(nx), 70);
  assert.equal(responseTtl(decode({ ...base, flags: 2 })), SERVFAIL_TTL_SECONDS);
  assert.equal(responseTtl(decode({ ...base, flags: 5 })), 0);
});
