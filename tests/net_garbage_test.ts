/**
 * Garbage and mutated protocol messages on a node's gossip port: raw junk on TCP, frames that are
 * not JSON or claim a huge length, requests of the wrong shape, mutated signed objects. The node
 * does not crash, its page state does not change, its memory stays bounded, it keeps answering
 * DNS and honest peers, and the senders lose standing.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { nodeStatus, publish } from "../lib/net/mod.ts";
import { encodeObject } from "../lib/page/mod.ts";
import { aRecords, change, startNode, testRoot } from "./helpers/net.ts";
import { prng } from "./helpers/prng.ts";

async function rssKiB(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(text)![1]);
}

/** Mutations of a valid JSON value: dropped and retyped fields, junk strings, deep nesting. */
function mutate(rand: () => number, v: unknown, depth = 0): unknown {
  const r = rand();
  if (depth > 3 || r < 0.1) {
    const junk = [null, -1, 1e308, "", "x".repeat(70), [], {}, true, "0".repeat(64), "~"];
    return junk[Math.floor(rand() * junk.length)];
  }
  if (Array.isArray(v)) return v.map((x) => (rand() < 0.3 ? mutate(rand, x, depth + 1) : x));
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (rand() < 0.15) continue;
      o[rand() < 0.05 ? k + "x" : k] = rand() < 0.4 ? mutate(rand, x, depth + 1) : x;
    }
    return o;
  }
  return mutate(rand, null, depth + 1);
}

Deno.test("net garbage: junk on the gossip port changes nothing and crashes nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-net-garbage-" });
  const { page, anchorText } = testRoot();
  await Deno.writeTextFile(`${tmp}/anchor.json`, anchorText);
  const node = await startNode(tmp, "n", `${tmp}/anchor.json`);
  try {
    const good = change(page, page, "good.net.test", "192.0.2.5");
    await publish(node.hostPort, [good.event, good.approval]);
    const rss0 = await rssKiB(node.process.pid);
    const port = Number(node.hostPort.split(":")[1]);
    const rand = prng(99);

    // 1. Raw junk on TCP: random bytes, a truncated multistream header, a flood of bytes.
    for (let i = 0; i < 20; i++) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const junk = i % 3 === 0
          ? new TextEncoder().encode("\x13/multistream/1.0.0\n\x10/noise\n" + "A".repeat(i * 50))
          : crypto.getRandomValues(new Uint8Array(1 + Math.floor(rand() * 60_000)));
        await conn.write(junk).catch(() => {});
        conn.close();
      } catch { /* refused by the per-host connection rate limit: fine */ }
    }

    // 2. Bad frames and requests on /djdns/sync/1, from many identities.
    const request = { t: "want", page, ids: [good.id] };
    const rec = { t: "rec", page, ranges: [{ u: "~", m: "fp", fp: "0".repeat(32), n: 5 }] };
    const corpus: (Uint8Array | unknown)[] = [
      new TextEncoder().encode("not json"),
      new Uint8Array([0xff, 0xfe, 0x00]),
      { t: "sum", pages: new Array(2000).fill({}) },
      { t: "fetch", page, from: -5 },
      { t: "objs", objects: [mutate(rand, good.event), mutate(rand, good.approval)] },
    ];
    for (let i = 0; i < 30; i++) corpus.push(mutate(rand, i % 2 ? request : rec));
    for (let i = 0; i < 10; i++) {
      const bytes = encodeObject(good.approval).slice();
      bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
      corpus.push({
        t: "objs",
        objects: [(() => {
          try {
            return JSON.parse(new TextDecoder().decode(bytes));
          } catch {
            return "broken";
          }
        })()],
      });
    }
    let sent = 0;
    for (let id = 0; sent < corpus.length; id++) {
      const client = await createLibp2p({
        privateKey: await generateKeyPair("Ed25519"),
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: () => false },
      });
      await client.start();
      try {
        for (let k = 0; k < 3 && sent < corpus.length; k++, sent++) {
          try {
            const stream = await client.dialProtocol(multiaddr(node.gossip), "/djdns/sync/1", {
              signal: AbortSignal.timeout(3000),
            });
            const lp = lpStream(stream);
            const item = corpus[sent];
            await lp.write(
              item instanceof Uint8Array ? item : new TextEncoder().encode(JSON.stringify(item)),
            );
            await lp.read({ signal: AbortSignal.timeout(3000) }).catch(() => {});
            await stream.close().catch(() => {});
          } catch { /* closed or refused (banned): fine */ }
        }
        // A frame claiming 100 MiB: refused from its length prefix.
        try {
          const stream = await client.dialProtocol(multiaddr(node.gossip), "/djdns/sync/1", {
            signal: AbortSignal.timeout(3000),
          });
          stream.send(new Uint8Array([0x80, 0x80, 0x80, 0x32, 1, 2, 3]));
          await new Promise((r) => setTimeout(r, 50));
          stream.abort(new Error("done"));
        } catch { /* refused */ }
      } finally {
        await client.stop();
      }
    }

    // Every connection above came from 127.0.0.1: the per-host inbound limit (20 a second)
    // refuses more for a moment. Then the node is alive, answers DNS and honest clients, and its page did not change.
    assert.deepEqual(await aRecords(node.port, "good.net.test"), ["192.0.2.5"]);
    await new Promise((r) => setTimeout(r, 1500));
    const status = await nodeStatus(node.hostPort) as {
      pages: { head: string; objects: number }[];
      counters: Record<string, number>;
    };
    assert.equal(status.pages[0].head, good.id);
    assert.equal(status.pages[0].objects, 3, "genesis, event, approval: nothing else stored");
    assert.ok((status.counters["stream.garbage"] ?? 0) >= 5, JSON.stringify(status.counters));
    assert.ok((status.counters["peers.banned"] ?? 0) >= 1, JSON.stringify(status.counters));
    const next = change(page, good.id, "next.net.test", "192.0.2.6");
    const r = await publish(node.hostPort, [next.event, next.approval]);
    assert.deepEqual(r.map((x) => x.outcome), ["added", "added"]);
    const rss1 = await rssKiB(node.process.pid);
    assert.ok(rss1 - rss0 < 150 * 1024, `RSS grew ${((rss1 - rss0) / 1024).toFixed(0)} MiB`);
  } finally {
    assert.equal((await node.stop()).code, 0, "clean exit after the junk");
    await Deno.remove(tmp, { recursive: true });
  }
});
