/**
 * On-demand pages: a node that meets a `djdns:<page-id>` target it does not hold fetches the
 * page from its peers while the query waits, verifies it is linked from the verified root,
 * answers, and follows the page from then on (later changes arrive by gossip). A target no peer
 * can deliver answers SERVFAIL within the deadline.
 */
import assert from "node:assert/strict";
import { nodeStatus, publish } from "../lib/net/mod.ts";
import {
  approve,
  approveCheckpoint,
  createCheckpoint,
  createGenesis,
  createPageLog,
  objectId,
  proposeEvent,
} from "../lib/page/mod.ts";
import { dig } from "./helpers/djdns.ts";
import { aRecords, change, type NetNode, startNode, testRoot, until } from "./helpers/net.ts";
import { branch, key } from "./page_fixtures.ts";

Deno.test("net fetch: a linked page is fetched while the query waits, then followed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-net-fetch-" });
  const { page: root, anchorText } = testRoot();
  await Deno.writeTextFile(`${tmp}/anchor.json`, anchorText);
  // The sub-page, moderated by key 2.
  const sub = createGenesis({
    participants: { [key(2).hex]: { weight: 1 } },
    branches: [branch("www.sub.test", "192.0.2.80")],
    nonce: crypto.randomUUID(),
  });
  const subId = objectId(sub);
  const link = proposeEvent(root, root, "LINK_PAGE", {
    selector: "(^|\\.)sub\\.test$",
    page: subId,
  });
  const dangling = proposeEvent(root, objectId(link), "LINK_PAGE", {
    selector: "(^|\\.)gone\\.test$",
    page: "ab".repeat(32),
  });
  const nodes: NetNode[] = [];
  try {
    const a = await startNode(tmp, "a", `${tmp}/anchor.json`);
    nodes.push(a);
    const b = await startNode(tmp, "b", `${tmp}/anchor.json`, ["--peer", a.hostPort]);
    nodes.push(b);
    // The root links the sub-page; a holds the sub-page (its genesis is accepted because the
    // verified root links to it).
    const r = await publish(a.hostPort, [
      link,
      approve(key(1).secretKey, link),
      dangling,
      approve(key(1).secretKey, dangling),
    ]);
    assert.deepEqual(r.map((x) => x.outcome), ["added", "added", "added", "added"]);
    const g = await publish(a.hostPort, [sub]);
    assert.deepEqual(g.map((x) => x.outcome), ["added"]);
    assert.deepEqual(await aRecords(a.port, "www.sub.test"), ["192.0.2.80"]);
    await until(
      async () => {
        const s = await nodeStatus(b.hostPort) as { pages: { head: string }[] };
        return s.pages[0].head === objectId(dangling);
      },
      20_000,
      "b to hold the root change",
    );
    let s = await nodeStatus(b.hostPort) as { pages: { page: string }[] };
    assert.equal(s.pages.length, 1, "b follows only the root so far");

    // b meets djdns:<sub> during a query: fetched from a, verified, answered.
    assert.deepEqual(await aRecords(b.port, "www.sub.test"), ["192.0.2.80"]);
    s = await nodeStatus(b.hostPort) as { pages: { page: string }[] };
    assert.ok(s.pages.some((p) => p.page === subId), "b now follows the sub-page");

    // Followed: a change to the sub-page reaches b by gossip.
    const c = change(subId, subId, "new.sub.test", "192.0.2.81");
    const c2 = { ...c, approval: approve(key(2).secretKey, c.event) };
    await publish(a.hostPort, [c2.event, c2.approval]);
    await until(
      async () => (await aRecords(b.port, "new.sub.test")).includes("192.0.2.81"),
      20_000,
      "the sub-page change at b",
    );

    // The sub-page gets a checkpoint at that change.
    const subLog = createPageLog(sub);
    subLog.addEvent(c2.event);
    subLog.addApproval(c2.approval);
    const cp = createCheckpoint(subLog);
    const cpr = await publish(a.hostPort, [cp, approveCheckpoint(key(2).secretKey, cp)]);
    assert.deepEqual(cpr.map((x) => x.outcome), ["added", "added"]);

    // A full replica (--follow all) follows the linked page without any query, starting from
    // its newest checkpoint (only what follows it is fetched), then keeps it current.
    const full = await startNode(tmp, "c", `${tmp}/anchor.json`, [
      "--peer",
      a.hostPort,
      "--follow",
      "all",
    ]);
    nodes.push(full);
    await until(
      async () => {
        const s = await nodeStatus(full.hostPort) as { pages: { page: string }[] };
        return s.pages.some((p) => p.page === subId);
      },
      20_000,
      "the full replica to follow the sub-page",
    );
    assert.deepEqual(await aRecords(full.port, "new.sub.test"), ["192.0.2.81"]);
    const fs = await nodeStatus(full.hostPort) as {
      pages: { page: string; objects: number }[];
      counters: Record<string, number>;
    };
    assert.equal(fs.counters["fetch.from-checkpoint"], 1, JSON.stringify(fs.counters));
    const as = await nodeStatus(a.hostPort) as { pages: { page: string; objects: number }[] };
    const held = (st: { pages: { page: string; objects: number }[] }) =>
      st.pages.find((p) => p.page === subId)!.objects;
    assert.ok(held(fs) < held(as), `from the checkpoint: ${held(fs)} objects, a has ${held(as)}`);
    const later = change(subId, c2.id, "later.sub.test", "192.0.2.82");
    await publish(a.hostPort, [later.event, approve(key(2).secretKey, later.event)]);
    await until(
      async () => (await aRecords(full.port, "later.sub.test")).includes("192.0.2.82"),
      20_000,
      "a change after the checkpoint at the full replica",
    );

    // A linked page nobody holds: SERVFAIL within the fetch deadline (1.5 s) plus margin.
    const t0 = performance.now();
    const gone = await dig(b.port, "www.gone.test", "A");
    const ms = performance.now() - t0;
    assert.match(gone.stdout, /status: SERVFAIL/);
    assert.ok(ms < 4000, `SERVFAIL after ${ms.toFixed(0)} ms`);
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
