import assert from "node:assert/strict";
import { DEFAULT_LIMITS, openStore, type Store, StoreError } from "../lib/store/mod.ts";
import {
  approval,
  chain,
  checkpoint,
  child,
  evidence,
  genesis,
  headAt,
  keyOf,
} from "./fixtures/store/objects.ts";

function withStore(
  fn: (store: Store, dir: string) => void,
  limits: Partial<typeof DEFAULT_LIMITS> = {},
) {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  const store = openStore(dir, { limits });
  try {
    fn(store, dir);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

function assertStoreError(fn: () => unknown, code: string, pattern?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StoreError, `expected StoreError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("store batch: objects, head and follow flag are stored and read back", () => {
  withStore((store, dir) => {
    const g = genesis("a");
    const events = chain(g, 3, "a");
    const apps = events.map((e, i) => approval(e, `signer${i}`));
    const r = store.putBatch({
      objects: [g, ...events, ...apps],
      heads: [headAt(events[2])],
      follow: [{ pageId: g.id, following: true }],
    });
    assert.deepEqual(r, { inserted: 7, duplicates: 0 });
    const page = store.getPage(g.id)!;
    assert.equal(page.headId, events[2].id);
    assert.equal(page.state, headAt(events[2]).state);
    assert.equal(page.stateHash, headAt(events[2]).stateHash);
    assert.equal(page.following, true);
    assert.equal(page.objects, 7);
    assert.equal(page.bytes, [g, ...events, ...apps].reduce((n, o) => n + o.bytes.length, 0));
    assert.deepEqual(store.eventsOf(g.id).map((e) => e.id), [g, ...events].map((e) => e.id));
    assert.deepEqual(store.approvalsOf(events[1].id), [apps[1]]);
    assert.deepEqual(store.childrenOf(events[0].id).map((e) => e.id), [events[1].id]);
    assert.deepEqual(store.getObject(apps[0].id), apps[0]);
    assert.deepEqual(store.getObject(apps[0].id, "approval"), apps[0]);
    assert.equal(store.getObject(apps[0].id, "event"), undefined);
    assert.equal(store.objectsOf(g.id, "approval").length, 3);
    assert.equal(store.objectsOf(g.id).length, 7);
    // Re-sending is idempotent.
    assert.deepEqual(store.putBatch({ objects: [g, ...events] }), { inserted: 0, duplicates: 4 });
    store.close();
    const again = openStore(dir);
    try {
      assert.deepEqual(again.getPage(g.id), page);
      assert.deepEqual(again.eventsOf(g.id), [g, ...events]);
      assert.deepEqual(again.listPages({ following: true }).map((p) => p.pageId), [g.id]);
      assert.deepEqual(again.listPages({ following: false }), []);
    } finally {
      again.close();
    }
  });
});

Deno.test("store batch: a batch may list children before parents", () => {
  withStore((store) => {
    const g = genesis("order");
    const [e1, e2] = chain(g, 2, "o");
    const a = approval(e2, "s");
    store.putBatch({ objects: [a, e2, e1, g], heads: [headAt(e2)] });
    assert.equal(store.getPage(g.id)!.headId, e2.id);
    assert.deepEqual(store.eventsOf(g.id).map((e) => e.id), [e2.id, e1.id, g.id]);
  });
});

Deno.test("store batch: a failing invariant stores nothing of the batch", () => {
  withStore((store) => {
    const g = genesis("inv");
    const [e1, e2] = chain(g, 2, "i");
    store.putBatch({ objects: [g], heads: [headAt(g)] });
    const orphan = child(genesis("elsewhere"), "x");
    // e2's parent e1 is in the batch, but the orphan's parent is nowhere.
    assertStoreError(
      () => store.putBatch({ objects: [e1, e2, orphan], heads: [headAt(e2)] }),
      "invariant",
      /not a stored event of its page/,
    );
    assert.deepEqual(store.eventsOf(g.id).map((e) => e.id), [g.id]);
    assert.equal(store.getPage(g.id)!.headId, g.id);
    assert.equal(store.getPage(g.id)!.objects, 1);
    assert.equal(store.getPage(orphan.pageId), undefined);
    assert.equal(store.stats().events, 1);
  });
});

Deno.test("store batch: invariants on references, ids, sizes and heads", () => {
  withStore((store) => {
    const g = genesis("refs");
    const [e1] = chain(g, 1, "r");
    const other = genesis("other");
    store.putBatch({ objects: [g, other] });
    // An approval must refer to a stored event of the same page.
    assertStoreError(() => store.putBatch({ objects: [approval(e1, "s")] }), "invariant");
    const crossPage = { ...approval(g, "s"), pageId: other.id };
    assertStoreError(() => store.putBatch({ objects: [crossPage] }), "invariant");
    // An event of another page cannot hang off this page's genesis.
    assertStoreError(
      () => store.putBatch({ objects: [{ ...e1, pageId: other.id }] }),
      "invariant",
    );
    // Only the genesis lacks a parent; the genesis has none.
    assertStoreError(() => store.putBatch({ objects: [{ ...e1, parentId: null }] }), "invariant");
    assertStoreError(
      () => store.putBatch({ objects: [{ ...g, parentId: e1.id }] }),
      "invariant",
      /genesis/,
    );
    assertStoreError(
      () => store.putBatch({ objects: [{ ...approval(g, "s"), signer: null }] }),
      "invariant",
    );
    assertStoreError(() => store.putBatch({ objects: [{ ...e1, id: "ABC" }] }), "invariant");
    assertStoreError(
      () => store.putBatch({ objects: [{ ...e1, id: e1.id.toUpperCase() }] }),
      "invariant",
    );
    assertStoreError(
      () => store.putBatch({ objects: [{ ...e1, kind: "gossip" as "event" }] }),
      "invariant",
    );
    assertStoreError(
      () => store.putBatch({ objects: [{ ...e1, bytes: new Uint8Array(0) }] }),
      "invariant",
    );
    // Bytes that do not hash to the id are refused: what is read back must be what was verified.
    const forged = { ...g, bytes: new TextEncoder().encode("{}") };
    assertStoreError(
      () => store.putBatch({ objects: [forged] }),
      "invariant",
      /event .* of page .*: its bytes do not hash to its id/,
    );
    // The same object claimed for another page: refused rather than silently keeping either.
    const vote = approval(g, "same-id");
    store.putBatch({ objects: [vote] });
    assertStoreError(
      () => store.putBatch({ objects: [{ ...vote, pageId: other.id, parentId: other.id }] }),
      "invariant",
      /differs/,
    );
    // Evidence needs a known page; a checkpoint may arrive before any event.
    const unknown = genesis("unknown");
    assertStoreError(
      () => store.putBatch({ objects: [evidence(unknown.id, unknown.id, "bad")] }),
      "invariant",
    );
    store.putBatch({ objects: [evidence(g.id, g.id, "bad")] });
    // A head must be a stored event (or checkpoint anchor) of its page.
    assertStoreError(() => store.setHead(headAt(e1)), "invariant", /not a stored event/);
    assertStoreError(
      () => store.setHead({ ...headAt(g), pageId: other.id }),
      "invariant",
    );
    assertStoreError(() => store.setHead({ ...headAt(g), stateHash: "00" }), "invariant");
    assertStoreError(
      () => store.setHead({ ...headAt(g), state: "{}" }),
      "invariant",
      /state of page .* does not hash to its state hash/,
    );
    // Any JSON text of the right state is taken; the canonical text (what the hash covers) is
    // what is stored and read back.
    const canonical = headAt(g);
    const reordered = JSON.stringify({ meta: {}, head: g.id, branches: [] });
    assert.notEqual(reordered, canonical.state);
    store.setHead({ ...canonical, state: reordered });
    assert.equal(store.getPage(g.id)!.state, canonical.state);
    assert.equal(store.stats().events, 2);
  });
});

Deno.test("store batch: size limits on objects, states and batches", () => {
  withStore((store) => {
    const g = genesis("size");
    store.putBatch({ objects: [g] });
    const big = { ...child(g, "big"), bytes: new Uint8Array(1025) };
    assertStoreError(() => store.putBatch({ objects: [big] }), "invariant", /1025 bytes/);
    assertStoreError(
      () => store.setHead({ ...headAt(g), state: "x".repeat(4097) }),
      "invariant",
      /over the 4096-byte limit/,
    );
    assertStoreError(
      () => store.putBatch({ objects: chain(g, 11, "b") }),
      "limit",
      /11 objects/,
    );
    store.putBatch({ objects: chain(g, 10, "b") });
    assert.equal(store.stats().events, 11);
  }, { maxObjectBytes: 1024, maxStateBytes: 4096, maxBatchObjects: 10 });
});

Deno.test("store batch: a checkpoint lets a page start without history", () => {
  withStore((store) => {
    const g = genesis("cp-start");
    const events = chain(g, 5, "c");
    const cp = checkpoint(events[2]);
    // A new node gets the checkpoint and what follows its anchor, never the genesis.
    store.putBatch({
      objects: [cp, events[3], approval(events[3], "s"), events[4]],
      heads: [headAt(events[4])],
      follow: [{ pageId: g.id, following: true }],
    });
    assert.equal(store.getPage(g.id)!.headId, events[4].id);
    store.setHead(headAt(events[2])); // the anchor itself may be the head
    assert.equal(store.getPage(g.id)!.headId, events[2].id);
    // An approval of the anchor is accepted, of an unknown older event not.
    store.putBatch({ objects: [approval(events[2], "s")] });
    assertStoreError(() => store.putBatch({ objects: [approval(events[1], "s")] }), "invariant");
  });
});

Deno.test("store batch: unfollowed pages are bounded per page, per peer and in total", () => {
  withStore((store) => {
    const a = genesis("la");
    const b = genesis("lb");
    const c = genesis("lc");
    const src = "192.0.2.1:5353";
    store.putBatch({ source: src, objects: [a, ...chain(a, 4, "a")] }); // 5 of 5
    assertStoreError(
      () => store.putBatch({ source: src, objects: [child(a, "one-more")] }),
      "limit",
      /not followed .* 6 objects \(limit 5\)/,
    );
    assert.equal(store.getPage(a.id)!.objects, 5);
    // Following lifts the per-page limit for that page.
    store.putBatch({
      source: src,
      objects: [child(a, "one-more")],
      follow: [{ pageId: a.id, following: true }],
    });
    assert.equal(store.getPage(a.id)!.objects, 6);
    // The same peer may store at most 8 objects for unfollowed pages (a is followed now).
    store.putBatch({ source: src, objects: [b, ...chain(b, 4, "b")] });
    assertStoreError(
      () => store.putBatch({ source: src, objects: [c, ...chain(c, 3, "c")] }),
      "limit",
      /peer 192\.0\.2\.1:5353 .* 9 objects .*limit 8/,
    );
    // Another peer may, until the total over unfollowed pages (10) is reached.
    store.putBatch({ source: "198.51.100.2:5353", objects: [c, ...chain(c, 3, "c")] });
    const d = genesis("ld");
    assertStoreError(
      () => store.putBatch({ source: "203.0.113.3:5353", objects: [d, child(d, "d")] }),
      "limit",
      /unfollowed pages would hold 11 objects/,
    );
    // Local objects (no source) are not limited.
    store.putBatch({ objects: [d, ...chain(d, 7, "d")] });
    assert.equal(store.getPage(d.id)!.objects, 8);
  }, { maxObjectsPerUnfollowedPage: 5, maxObjectsPerPeer: 8, maxUnfollowedObjects: 10 });
});

Deno.test("store batch: the peer table is bounded and evicts the weakest peers", () => {
  withStore((store) => {
    const now = 1_700_000_000_000;
    const peers = Array.from({ length: 5 }, (_, i) => ({
      address: `192.0.2.${i}:5353`,
      score: i,
      bannedUntil: 0,
      lastSeen: now + i,
    }));
    assert.equal(store.putPeers(peers), 0);
    assert.equal(
      store.putPeers([{
        address: "[2001:db8::1]:5353",
        score: 10,
        bannedUntil: now + 60_000,
        lastSeen: now,
      }]),
      1,
    );
    assert.equal(store.getPeer("192.0.2.0:5353"), undefined, "lowest score evicted");
    assert.equal(store.listPeers({ includeBanned: true }).length, 5);
    assert.deepEqual(
      store.listPeers({ now }).map((p) => p.address),
      ["192.0.2.4:5353", "192.0.2.3:5353", "192.0.2.2:5353", "192.0.2.1:5353"],
      "banned peer hidden, best first",
    );
    assert.equal(store.listPeers({ now: now + 60_000 }).length, 5, "ban expired");
    // A batch bigger than the table keeps the best of the new peers.
    const flood = Array.from({ length: 8 }, (_, i) => ({
      address: `203.0.113.${i}:5353`,
      score: 100 + i,
      bannedUntil: 0,
      lastSeen: now,
    }));
    store.putPeers(flood);
    assert.deepEqual(
      store.listPeers().map((p) => p.address),
      [
        "203.0.113.7:5353",
        "203.0.113.6:5353",
        "203.0.113.5:5353",
        "203.0.113.4:5353",
        "203.0.113.3:5353",
      ],
    );
    assert.equal(store.removePeer("203.0.113.7:5353"), true);
    assert.equal(store.removePeer("203.0.113.7:5353"), false);
    assertStoreError(
      () => store.putPeers([{ address: "", score: 0, bannedUntil: 0, lastSeen: 0 }]),
      "invariant",
    );
    assertStoreError(
      () => store.putPeers([{ address: "x", score: NaN, bannedUntil: 0, lastSeen: 0 }]),
      "invariant",
    );
    assert.equal(store.stats().peers, 4);
  }, { maxPeers: 5 });
});

Deno.test("store batch: evidence and keys round-trip; closed store refuses calls", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    const store = openStore(dir);
    const g = genesis("ev");
    const ev = evidence(g.id, g.id, "equivocator");
    store.putBatch({ objects: [g, ev] });
    assert.equal(store.getObject(ev.id)!.signer, keyOf("equivocator"));
    assert.equal(store.stats().evidence, 1);
    store.close();
    store.close(); // idempotent
    assertStoreError(() => store.getPage(g.id), "closed");
    assertStoreError(() => store.putBatch({ objects: [] }), "closed");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
