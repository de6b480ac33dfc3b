/**
 * The client API of lib/net (publish, fetchPage, nodeStatus) against a real `djdns run` node:
 * a published change is verified, stored, answered by dig and kept across a restart; forged
 * objects are refused with a reason and change nothing; an unreachable node is a clear error.
 */
import assert from "node:assert/strict";
import { fetchPage, nodeStatus, NodeUnreachableError, publish } from "../lib/net/client.ts";
import { objectId } from "../lib/page/mod.ts";
import { aRecords, change, startNode, testRoot } from "./helpers/net.ts";

Deno.test("net client: publish, fetchPage and status against a running node", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-net-client-" });
  const { genesis, page, anchorText } = testRoot();
  await Deno.writeTextFile(`${tmp}/anchor.json`, anchorText);
  let node = await startNode(tmp, "a", `${tmp}/anchor.json`);
  try {
    assert.deepEqual(await aRecords(node.port, "www.net.test"), ["192.0.2.1"]);
    const c = change(page, page, "new.net.test", "192.0.2.77");
    const forged = { ...c.approval, sig: "ab".repeat(64) };
    const bad = await publish(node.hostPort, [forged]);
    assert.equal(bad[0].outcome, "invalid");
    assert.equal(bad[0].code, "bad-signature");
    const r = await publish(node.hostPort, [c.event, c.approval]);
    assert.deepEqual(r.map((x) => x.outcome), ["added", "added"]);
    assert.deepEqual(r.map((x) => x.id), [c.id, objectId(c.approval)]);
    assert.deepEqual(await aRecords(node.port, "new.net.test"), ["192.0.2.77"]);
    const again = await publish(node.hostPort, [c.event]);
    assert.equal(again[0].outcome, "duplicate");
    const unknown = await publish(node.hostPort, [
      change("ab".repeat(32), "cd".repeat(32), "x.test", "192.0.2.9").event,
    ]);
    assert.equal(unknown[0].outcome, "dropped");
    assert.equal(unknown[0].code, "unknown-page");

    const objects = await fetchPage(node.hostPort, page);
    assert.deepEqual(
      new Set(objects.map((o) => objectId(o))),
      new Set([page, c.id, objectId(c.approval)]),
    );
    assert.deepEqual(await fetchPage(node.hostPort, "00".repeat(32)), []);

    const status = await nodeStatus(node.hostPort) as {
      pages: { page: string; head: string }[];
      counters: Record<string, number>;
    };
    assert.equal(status.pages[0].page, page);
    assert.equal(status.pages[0].head, c.id);
    assert.equal(status.counters["push.invalid.bad-signature"], 1);
    assert.equal(status.counters["push.added"], 2);

    // Stored: a restarted node answers the change without any peer.
    assert.equal((await node.stop()).code, 0);
    node = await startNode(tmp, "a", `${tmp}/anchor.json`);
    assert.deepEqual(await aRecords(node.port, "new.net.test"), ["192.0.2.77"]);
    assert.equal(genesis.type, "genesis");
  } finally {
    await node.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("net client: an unreachable node is a clear error", async () => {
  await assert.rejects(
    () => publish("127.0.0.1:1", [], { timeoutMs: 3000 }),
    NodeUnreachableError,
  );
  await assert.rejects(() => fetchPage("127.0.0.1:1", "00".repeat(32)), NodeUnreachableError);
});
