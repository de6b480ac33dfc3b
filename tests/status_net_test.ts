/**
 * The operator's views of a networked node agree: `djdns status` (over the gossip port), the
 * Prometheus metrics and the status page in a browser show the same identity, peers, followed
 * pages and counters.
 */
import assert from "node:assert/strict";
import { publish } from "../lib/net/client.ts";
import { dumpDom } from "./helpers/browser.ts";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";
import { aRecords, change, type NetNode, startNode, testRoot, until } from "./helpers/net.ts";

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("operator views agree: djdns status, /metrics and the status page", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-status-net-" });
  const { page, anchorText } = testRoot();
  const anchor = `${tmp}/anchor.json`;
  await Deno.writeTextFile(anchor, anchorText);
  const nodes: NetNode[] = [];
  try {
    const a = await startNode(tmp, "a", anchor, ["--metrics", "127.0.0.1:0"]);
    nodes.push(a);
    nodes.push(await startNode(tmp, "b", anchor, ["--peer", a.hostPort]));
    const c = change(page, page, "seen.net.test", "192.0.2.77");
    await publish(nodes[1].hostPort, [c.event, c.approval]);
    await until(
      async () => (await aRecords(a.port, "seen.net.test")).includes("192.0.2.77"),
      30_000,
      "the change at a",
    );

    const m = /metrics and status page on "?(http:\/\/127\.0\.0\.1:\d+\/)/.exec(a.log());
    assert.ok(m, a.log());
    const base = m[1];
    const st = await run(Deno.execPath(), [
      ...await djdnsTaskArgs(),
      "status",
      "--node",
      a.hostPort,
      "--json",
    ]);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout);
    const metrics = await (await fetch(`${base}metrics`)).text();
    const check = await run("promtool", ["check", "metrics"], new TextEncoder().encode(metrics));
    assert.equal(check.code, 0, check.stdout + check.stderr);
    // `djdns status` is itself a connected peer while it asks: one more than afterwards.
    const connected = value(metrics, 'djdns_peers{state="connected"}') ?? 0;
    assert.ok(connected >= 1 && connected <= status.connected.length, `${connected}`);
    assert.equal(value(metrics, 'djdns_peers{state="known"}'), status.peers.length);
    assert.equal(value(metrics, "djdns_pages_followed"), status.pages.length);
    assert.ok(status.connected.length >= 1);
    // Counters move only forward: the metrics, read after the status, are at least as high.
    for (const [event, n] of Object.entries(status.counters as Record<string, number>)) {
      if (n === 0) continue;
      const v = value(metrics, `djdns_network_events_total{event="${event}"}`);
      assert.ok(v !== undefined && v >= n, `${event}: metrics ${v}, status ${n}`);
    }

    const dom = await dumpDom(base);
    assert.ok(dom.includes(status.peerId), "the page shows the node's peer id");
    for (const p of status.pages) {
      assert.ok(dom.includes(p.page), `followed page ${p.page}`);
      // The head can only move on; here nothing else changes, so it is the same.
      assert.ok(dom.includes(p.head), `head of ${p.page}`);
    }
    for (const peer of status.peers) assert.ok(dom.includes(peer.id), `peer ${peer.id}`);
    assert.match(dom, /<table class="list" id="counters">/);
    // The tree shows the root signed page as held and verified.
    assert.match(dom, new RegExp(`class="node signed"><title>djdns:${page}`));
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
