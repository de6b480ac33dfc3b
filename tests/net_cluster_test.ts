/**
 * Five real `djdns run` processes on loopback form a network from one bootstrap peer: a change
 * published at the far end is answered by dig everywhere; a change made while a node is down
 * reaches it when it returns (from its store, then by sync); a late joiner with an empty data
 * directory catches up; `djdns status` shows the peers, the page and the counters.
 */
import assert from "node:assert/strict";
import { nodeStatus, publish } from "../lib/net/client.ts";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";
import { aRecords, change, type NetNode, startNode, testRoot, until } from "./helpers/net.ts";

const WAIT = 30_000;

async function answersEverywhere(nodes: NetNode[], name: string, ip: string) {
  await Promise.all(
    nodes.map((n) =>
      until(async () => (await aRecords(n.port, name)).includes(ip), WAIT, `${name} at ${n.data}`)
    ),
  );
}

Deno.test("net cluster: 5 processes, push, stop/return, late joiner, status", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-net-cluster-" });
  const { page, anchorText } = testRoot();
  const anchor = `${tmp}/anchor.json`;
  await Deno.writeTextFile(anchor, anchorText);
  const nodes: NetNode[] = [];
  try {
    const boot = await startNode(tmp, "n0", anchor);
    nodes.push(boot);
    for (const name of ["n1", "n2", "n3"]) {
      nodes.push(await startNode(tmp, name, anchor, ["--peer", boot.hostPort]));
    }

    // A change published at the far end (n3) reaches every node, the bootstrap first.
    let head = page;
    const c1 = change(page, head, "one.net.test", "192.0.2.11");
    head = c1.id;
    const r1 = await publish(nodes[3].hostPort, [c1.event, c1.approval]);
    assert.deepEqual(r1.map((r) => r.outcome), ["added", "added"]);
    await answersEverywhere(nodes, "one.net.test", "192.0.2.11");
    // It travelled by gossip (periodic catch-up is off in these tests; a catch-up on a new
    // connection may carry it to some node first, so count over the receivers).
    let gossiped = 0;
    for (const n of nodes.slice(0, 3)) {
      const s = await nodeStatus(n.hostPort) as { counters: Record<string, number> };
      gossiped += s.counters["gossip.added"] ?? 0;
    }
    assert.ok(gossiped >= 2, `objects received by gossip: ${gossiped}`);

    // A change approved at the bootstrap reaches the others.
    const c2 = change(page, head, "two.net.test", "192.0.2.12");
    head = c2.id;
    await publish(boot.hostPort, [c2.event, c2.approval]);
    await answersEverywhere(nodes, "two.net.test", "192.0.2.12");

    // n2 stops; a change happens meanwhile; a fresh node joins late.
    assert.equal((await nodes[2].stop()).code, 0);
    const c3 = change(page, head, "three.net.test", "192.0.2.13");
    head = c3.id;
    await publish(nodes[1].hostPort, [c3.event, c3.approval]);
    await answersEverywhere([nodes[0], nodes[1], nodes[3]], "three.net.test", "192.0.2.13");
    const late = await startNode(tmp, "n4", anchor, ["--peer", boot.hostPort]);
    nodes.push(late);
    await answersEverywhere([late], "one.net.test", "192.0.2.11");
    await answersEverywhere([late], "three.net.test", "192.0.2.13");

    // n2 returns: its store still answers what it had, and it catches up on what it missed.
    nodes[2] = await startNode(tmp, "n2", anchor, ["--peer", boot.hostPort]);
    assert.deepEqual(await aRecords(nodes[2].port, "two.net.test"), ["192.0.2.12"]);
    await answersEverywhere([nodes[2]], "three.net.test", "192.0.2.13");

    // The operator's view, through the CLI.
    const st = await run(Deno.execPath(), [
      ...await djdnsTaskArgs(),
      "status",
      "--node",
      boot.hostPort,
      "--json",
    ]);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout);
    assert.equal(status.pages[0].page, page);
    assert.equal(status.pages[0].head, head);
    assert.ok(status.connected.length >= 3, `bootstrap connected to ${status.connected.length}`);
    assert.ok((status.counters["push.added"] ?? 0) >= 2);
    const text = await run(Deno.execPath(), [
      ...await djdnsTaskArgs(),
      "status",
      "--node",
      boot.hostPort,
    ]);
    assert.match(text.stdout, new RegExp(`${page} \\(root\\)\\s+head ${head}`));
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
