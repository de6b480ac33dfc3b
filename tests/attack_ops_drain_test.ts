// SIGTERM with hundreds of queries in flight to an upstream that never answers (an outside
// reviewer's attack on the drain): the process must exit within the grace period, and every
// client that asked must hear SERVFAIL rather than nothing (before: 0 of 5,000 got a reply,
// since a dead upstream's SERVFAIL takes 4.5 s and the grace is 2.5 s).
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { fixtureRegistry, startDjdns } from "./helpers/djdns.ts";
import { STOP_GRACE_MS } from "../lib/node/mod.ts";

function query(id: number, name: string): Uint8Array {
  const out = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split(".")) out.push(l.length, ...new TextEncoder().encode(l));
  out.push(0, 0, 1, 0, 1);
  return new Uint8Array(out);
}

Deno.test("attack drain: SIGTERM with 300 queries waiting on a dead upstream answers them all SERVFAIL", async () => {
  const hole = dgram.createSocket("udp4");
  let asked = 0;
  hole.on("message", () => asked++);
  await new Promise<void>((r) => hole.bind(0, "127.0.0.1", () => r()));
  const pages = await fixtureRegistry();
  // Room for all 300 upstream queries (the default bound, 256, would drop the rest on arrival):
  // this is about the ones that are waiting when SIGTERM comes.
  const s = await startDjdns([
    "--pages",
    pages,
    "--upstream",
    `127.0.0.1:${hole.address().port}`,
    "--upstream-max",
    "400",
  ]);
  const client = dgram.createSocket("udp4");
  const rcodes = new Map<number, number>();
  client.on("message", (m: Uint8Array) => rcodes.set((m[0] << 8) | m[1], m[3] & 15));
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
  try {
    const n = 300;
    for (let i = 0; i < n; i++) {
      client.send(query(i, `q${i}.example.com`), s.port, "127.0.0.1");
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 100 && asked < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(asked >= n * 0.9, `only ${asked} questions reached the upstream`);
    const t = performance.now();
    const st = await s.stop();
    const took = performance.now() - t;
    assert.equal(st.code, 0, s.log());
    assert.ok(took < STOP_GRACE_MS + 5000, `stopping took ${Math.round(took)} ms`);
    await new Promise((r) => setTimeout(r, 200));
    const servfail = [...rcodes.values()].filter((c) => c === 2).length;
    assert.ok(
      servfail >= n * 0.95,
      `${servfail}/${n} clients heard SERVFAIL (${rcodes.size} replies)`,
    );
  } finally {
    client.close();
    hole.close();
    await s.stop();
    await Deno.remove(pages, { recursive: true });
  }
});
