/**
 * The check of every stored record that a node runs in the background after it starts: queries
 * are answered while it runs over a large store, and a damaged page is withheld from the
 * resolver, never written and never replicated (the networked node's page set), while the other
 * pages are served.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { DatabaseSync } from "node:sqlite";
import { createPageLog, objectId, type PageLog, proposeEvent } from "../lib/page/mod.ts";
import { DATABASE_FILE, openStore, pageLogBatch, StoreError } from "../lib/store/mod.ts";
import { openPageSet } from "../lib/node/pages.ts";
import { EMBEDDED_ANCHOR, loadRegistry } from "../lib/node/registry.ts";
import { createDamageBook } from "../lib/node/store_check.ts";
import { approvals, branch, genesisOf } from "./page_fixtures.ts";
import { approval, chain, genesis, headAt } from "./fixtures/store/objects.ts";
import { startDjdns } from "./helpers/djdns.ts";

/** A page of `n` events, each approved by keys 0 and 1 of 3. */
function history(n: number, nonce: string): PageLog {
  const log = createPageLog(genesisOf(3, { nonce }));
  for (let i = 0; i < n; i++) {
    const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
      branch: branch(`h${i}.${nonce}.example`),
    });
    log.addEvent(ev);
    for (const a of approvals(ev, [0, 1])) log.addApproval(a);
  }
  return log;
}

/** One A query for `name` over UDP; the reply's rcode and answer count, and how long it took. */
async function ask(port: number, name: string, id: number) {
  const sock = dgram.createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
    const q = new Uint8Array([
      id >> 8,
      id & 255,
      1,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      ...labels,
      0,
      0,
      1,
      0,
      1,
    ]);
    const t0 = performance.now();
    const reply = new Promise<Uint8Array>((r) => sock.on("message", (m: Uint8Array) => r(m)));
    sock.send(q, port, "127.0.0.1");
    const m = await Promise.race([
      reply,
      new Promise<null>((r) => setTimeout(() => r(null), 5000)),
    ]);
    assert.ok(m, `no answer to ${name} within 5 s`);
    return { ms: performance.now() - t0, rcode: m[3] & 0xf, answers: m[7] };
  } finally {
    sock.close();
  }
}

Deno.test("store background check: a node answers at once while every record of a 200,000-object store is checked", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-bgcheck-" });
  try {
    // 10 pages of 10,000 events, each event approved: 200,010 objects, as a disk holds them.
    const store = openStore(dir);
    for (let p = 0; p < 10; p++) {
      const g = genesis(`bg-${p}`);
      const events = chain(g, 10_000, `bg-${p}`);
      store.putBatch({
        objects: [g, ...events, ...events.map((e) => approval(e, "alice"))],
        heads: [headAt(events[events.length - 1])],
        follow: [{ pageId: g.id, following: true }],
      });
    }
    store.close();
    const pages = `${dir}/pages`;
    Deno.mkdirSync(pages);
    Deno.writeTextFileSync(
      `${pages}/root.json`,
      JSON.stringify({
        branches: [{
          selector: "^www\\.fast\\.test$",
          records: [{ rtype: "A", rdata: "192.0.2.7" }],
        }],
      }),
    );
    const server = await startDjdns([
      "--pages",
      pages,
      "--data",
      dir,
      "--no-upstream",
      "--cache-entries",
      "0",
      "--metrics",
      "127.0.0.1:0",
    ]);
    try {
      // The metrics port starts just after the DNS listeners: wait for its log line.
      let found: RegExpExecArray | null = null;
      for (const t0 = Date.now(); !found; await new Promise((r) => setTimeout(r, 10))) {
        found = /metrics and status page on \S*?(http:\/\/[^\s"]+)/.exec(server.log());
        assert.ok(found || Date.now() - t0 < 20_000, `no metrics line:\n${server.log()}`);
      }
      const url = found[1];
      const metric = async (name: string) => {
        const text = await (await fetch(`${url}metrics`)).text();
        return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)![1]);
      };
      // Queries one after the other as soon as the node listens: each answered, and quickly
      // (a generous bound for a loaded machine: a slice of the check on the event loop, or a
      // check that blocked it, would take seconds here).
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await ask(server.port, "www.fast.test", 100 + i);
        assert.equal(r.rcode, 0);
        assert.equal(r.answers, 1);
        times.push(r.ms);
      }
      assert.equal(
        await metric("djdns_store_check_complete"),
        0,
        "the queries were answered while the check ran",
      );
      assert.ok(Math.max(...times) < 1000, `answers during the check took ${times.join(", ")} ms`);
      for (const t0 = Date.now(); await metric("djdns_store_check_complete") !== 1;) {
        assert.ok(Date.now() - t0 < 120_000, "the background check never completed");
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await metric("djdns_store_damaged_records"), 0);
      assert.match(
        server.log(),
        /store: checked 200010 stored object\(s\) and 10 page\(s\) in \d+ ms: no damage/,
      );
    } finally {
      assert.equal((await server.stop()).code, 0, server.log());
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store background check: a damaged page is withheld, never written, and not replicated; the others are served", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-bgcheck-" });
  try {
    const bad = history(5, "withheld");
    const good = history(3, "healthy");
    let store = openStore(dir);
    for (const log of [bad, good]) {
      store.putBatch({ ...pageLogBatch(log), follow: [{ pageId: log.pageId, following: true }] });
    }
    store.close();
    // One byte of one stored event changed, as a disk would.
    const victim = objectId(bad.events()[2]);
    const raw = new DatabaseSync(`${dir}/${DATABASE_FILE}`);
    const row = raw.prepare("SELECT bytes FROM objects WHERE id = ?");
    const bytes = new Uint8Array(
      (row.get(Uint8Array.fromHex(victim)) as { bytes: Uint8Array }).bytes,
    );
    bytes[40] ^= 0x01;
    raw.prepare("UPDATE objects SET bytes = ? WHERE id = ?").run(bytes, Uint8Array.fromHex(victim));
    raw.close();

    store = openStore(dir, { checkRecords: false });
    try {
      const book = createDamageBook(dir);
      const logs: string[] = [];
      const ps = openPageSet({
        store,
        anchor: EMBEDDED_ANCHOR,
        follow: "used",
        unusedMs: 3_600_000,
        fetchDeadlineMs: 1000,
        now: Date.now,
        onChange: () => {},
        log: (_level, msg) => logs.push(msg),
        damage: book,
      });
      // Loading the followed pages met the damage: that page is out, the other in.
      assert.ok(book.has(bad.pageId), logs.join("\n"));
      assert.equal(ps.replica(bad.pageId), undefined, "not offered to peers");
      assert.ok(ps.replica(good.pageId));
      assert.ok(!ps.followed().some((r) => r.pageId === bad.pageId));
      assert.match(logs.join("\n"), new RegExp(`event ${victim} of page ${bad.pageId}`));

      // Objects of the damaged page from a peer or a client are dropped, and nothing is stored.
      const before = store.stats();
      const next = proposeEvent(bad.pageId, bad.head(), "ADD_BRANCH", {
        branch: branch("late.withheld.example"),
      });
      const results = ps.ingestFrom([next, ...approvals(next, [0, 1])], undefined, "push");
      for (const r of results) {
        assert.equal(r.outcome, "dropped");
        assert.equal(r.code, "damaged-page");
      }
      assert.deepEqual(store.stats(), before, "nothing written");
      await assert.rejects(
        () => ps.fetchMissing(bad.pageId, { key: `djdns:${EMBEDDED_ANCHOR.page}` } as never),
        /is not served: the data directory's copy is damaged/,
      );

      // The registry serves it as an error (SERVFAIL), the healthy page as before.
      const registry = await loadRegistry({ signed: () => ps.pages(), damage: book });
      const withheld = registry.snapshot.pages.get(`djdns:${bad.pageId}`);
      assert.ok(withheld instanceof Error);
      assert.match(withheld.message, /djdns store repair --data /);
      assert.doesNotMatch(withheld.message, /is not held/, "not fetched again from peers");
      assert.ok(!(registry.snapshot.pages.get(`djdns:${good.pageId}`) instanceof Error));

      // Damage found later (the background check) takes a loaded page out the same way.
      book.note({ what: "state", pageId: good.pageId, problem: "test" });
      ps.quarantine([good.pageId]);
      assert.equal(ps.replica(good.pageId), undefined);
      const again = ps.ingestFrom([good.events()[1]], "peer-x", "gossip");
      assert.equal(again[0].code, "damaged-page");
      await registry.reload();
      assert.ok(registry.snapshot.pages.get(`djdns:${good.pageId}`) instanceof Error);

      // A DNS-only node reads the pages' states from the store: they are sound (the damage is in
      // an event), so both are served until the check names the damage; then that page is not.
      const fresh = createDamageBook(dir);
      const direct = await loadRegistry({ store, damage: fresh });
      assert.ok(!(direct.snapshot.pages.get(`djdns:${bad.pageId}`) instanceof Error));
      fresh.note({ what: "object", pageId: bad.pageId, objectId: victim, problem: "test" });
      await direct.reload();
      assert.ok(direct.snapshot.pages.get(`djdns:${bad.pageId}`) instanceof Error);
      assert.ok(!(direct.snapshot.pages.get(`djdns:${good.pageId}`) instanceof Error));
    } finally {
      store.close();
    }
    assert.throws(
      () => openStore(dir),
      (e: unknown) => e instanceof StoreError && e.code === "damaged",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
