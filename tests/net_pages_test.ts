/**
 * lib/node's page set without sockets, on a real store with an injected clock: a sub-page opens
 * only through a link from a verified page, objects are verified before they are stored and
 * survive a reopen, senders of invalid objects lose standing, and with `--follow used` a page
 * unused for the configured time is no longer followed (the root always is).
 */
import assert from "node:assert/strict";
import { openPageSet } from "../lib/node/pages.ts";
import { approve, createGenesis, objectId, proposeEvent } from "../lib/page/mod.ts";
import { openStore } from "../lib/store/mod.ts";
import { branch, key } from "./page_fixtures.ts";

Deno.test("page set: linked pages open, verified objects persist, unused pages are dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-pageset-" });
  const root = createGenesis({
    participants: { [key(1).hex]: { weight: 1 } },
    branches: [branch("www.root.test")],
  });
  const rootId = objectId(root);
  const sub = createGenesis({
    participants: { [key(2).hex]: { weight: 1 } },
    branches: [branch("www.sub.test")],
  });
  const subId = objectId(sub);
  let clock = 1_000_000;
  const open = (store: ReturnType<typeof openStore>) =>
    openPageSet({
      store,
      anchor: { page: rootId, genesis: root },
      follow: "used",
      unusedMs: 60_000,
      fetchDeadlineMs: 1000,
      now: () => clock,
      onChange: () => {},
      log: () => {},
    });
  let store = openStore(dir);
  try {
    let ps = open(store);
    // Not linked yet: refused without storing anything.
    const early = ps.ingestFrom([sub], "peerA", "push");
    assert.equal(early[0].outcome, "dropped");
    assert.equal(early[0].code, "not-linked");
    const link = proposeEvent(rootId, rootId, "LINK_PAGE", {
      selector: "(^|\\.)sub\\.test$",
      page: subId,
    });
    const forged = { ...approve(key(1).secretKey, link), sig: "00".repeat(64) };
    const bad = ps.ingestFrom([link, forged], "liar", "gossip");
    assert.deepEqual(bad.map((r) => r.outcome), ["added", "invalid"]);
    assert.ok(ps.peers.get("liar")!.score < 0, "the liar's score fell");
    assert.equal(ps.replica(rootId)!.log.head(), rootId, "an unapproved link changes nothing");
    ps.ingestFrom([approve(key(1).secretKey, link)], "peerA", "push");
    assert.equal(ps.replica(rootId)!.log.head(), objectId(link));
    assert.deepEqual(ps.ingestFrom([sub], "peerA", "push").map((r) => r.outcome), ["added"]);
    assert.ok(ps.replica(subId), "the linked sub-page is followed");
    assert.ok(ps.pages().pages.has(`djdns:${subId}`));

    // Reopened from the store: both pages, the root at its new head.
    store.close();
    store = openStore(dir);
    ps = open(store);
    assert.equal(ps.replica(rootId)!.log.head(), objectId(link));
    assert.ok(ps.replica(subId));
    assert.equal(store.getObject(objectId(forged), "approval"), undefined, "forgery not stored");

    // Unused for longer than --follow-unused: dropped; a used page and the root stay.
    clock += 30_000;
    assert.equal(ps.sweep(), 0);
    ps.touch(subId);
    clock += 59_000;
    assert.equal(ps.sweep(), 0, "used 59 s ago: kept");
    clock += 2_000;
    assert.equal(ps.sweep(), 1);
    assert.equal(ps.replica(subId), undefined);
    assert.ok(ps.replica(rootId), "the root is never dropped");
    assert.equal(store.getPage(subId)?.following, false);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
