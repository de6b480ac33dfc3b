// The TCP side of the drain attack (an outside reviewer's finding): SIGTERM while TCP clients
// wait on an upstream that never answers. Before, at the end of the grace their connections were
// closed without a reply; now each hears SERVFAIL for its query, as on UDP, and the process still
// exits within the grace.
import assert from "node:assert/strict";
import { fixtureRegistry, startDjdns } from "./helpers/djdns.ts";
import { startUpstream } from "./helpers/upstream_server.ts";
import { STOP_GRACE_MS } from "../lib/node/mod.ts";

function framedQuery(id: number, name: string): Uint8Array {
  const out = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of name.split(".")) out.push(l.length, ...new TextEncoder().encode(l));
  out.push(0, 0, 1, 0, 1);
  return new Uint8Array([out.length >> 8, out.length & 255, ...out]);
}

/** The first framed reply on `conn` as [id, rcode], or null if the connection ends first. */
async function readReply(conn: Deno.Conn): Promise<[number, number] | null> {
  const buf = new Uint8Array(4096);
  let n = 0;
  for (;;) {
    const r = await conn.read(buf.subarray(n)).catch(() => null);
    if (r === null) return null;
    n += r;
    if (n >= 2 && n >= 2 + ((buf[0] << 8) | buf[1]) && n >= 6) {
      return [(buf[2] << 8) | buf[3], buf[5] & 15];
    }
  }
}

Deno.test("attack drain: SIGTERM with TCP queries waiting on a dead upstream answers each SERVFAIL", async () => {
  const up = await startUpstream({ dropAll: true });
  const pages = await fixtureRegistry();
  const s = await startDjdns(["--pages", pages, "--upstream", `127.0.0.1:${up.port}`]);
  const conns: Deno.Conn[] = [];
  try {
    const n = 20;
    for (let i = 0; i < n; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      conns.push(c);
      await c.write(framedQuery(1000 + i, `tcp${i}.example.com`));
    }
    const replies = conns.map(readReply);
    for (let i = 0; i < 200 && up.queries < n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(up.queries >= n, `only ${up.queries} questions reached the upstream`);
    const t = performance.now();
    const st = await s.stop();
    const took = performance.now() - t;
    assert.equal(st.code, 0, s.log());
    assert.ok(took < STOP_GRACE_MS + 5000, `stopping took ${Math.round(took)} ms`);
    const got = await Promise.all(replies);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(got[i], [1000 + i, 2], `client ${i}: ${JSON.stringify(got[i])}`);
    }
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await s.stop();
    await up.close();
    await Deno.remove(pages, { recursive: true });
  }
});
