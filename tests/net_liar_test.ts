/**
 * A lying peer (a test double speaking the djdns protocol over libp2p: gossipsub on the page
 * topic and the /djdns/sync/1 stream) against two honest `djdns run` processes. It gossips
 * forged approvals, approvals by non-participants, objects of another page on the topic and
 * non-canonical bytes; it advertises a head it never delivers (withholding); it serves a stale
 * history. The honest nodes answer only the verified truth, keep getting it from the honest
 * peer, and the liar's score falls until it is banned. An equivocating participant's two
 * approvals are detected and count for neither change.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { gossipsub, StrictNoSign } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { sha256Hex } from "../lib/crypto/mod.ts";
import { messageId, nodeStatus, publish } from "../lib/net/mod.ts";
import { serveStream } from "../lib/net/rpc.ts";
import { approve, encodeObject, type SignedObject } from "../lib/page/mod.ts";
import { topicOf } from "../lib/sync/mod.ts";
import { aRecords, change, type NetNode, startNode, testRoot, until } from "./helpers/net.ts";
import { key } from "./page_fixtures.ts";

interface Status {
  peers: { id: string; score: number; bannedUntil?: string }[];
  pages: { head: string }[];
  counters: Record<string, number>;
}

async function startLiar(page: string, fakeHead: string | undefined) {
  const node = await createLibp2p({
    privateKey: await generateKeyPair("Ed25519"),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        allowPublishToZeroTopicPeers: true,
        msgIdFn: (m) => messageId(m.topic, m.data),
      }),
    },
  });
  let delivered = 0;
  // Withholding: it claims a head and an object set it never delivers.
  await node.handle(
    "/djdns/sync/1",
    (stream, connection) =>
      serveStream(stream, connection, (req) => {
        const r = req as { t: string; pages?: { page: string }[] };
        if (r.t === "sum" && fakeHead === undefined) return { t: "sum", pages: [] };
        if (r.t === "sum") {
          return {
            t: "sum",
            pages: [{
              page,
              head: fakeHead,
              height: 99,
              checkpoint: null,
              n: 3,
              fp: "0".repeat(32),
            }],
          };
        }
        if (r.t === "rec") {
          return { t: "rec", page, ranges: [{ u: "~", m: "ids", ids: [fakeHead!] }] };
        }
        if (r.t === "want") {
          delivered++;
          return { t: "objs", objects: [] };
        }
        if (r.t === "objs") return { t: "res", results: [] };
        return { t: "err", code: "x", message: "x" };
      }, () => {}),
  );
  await node.start();
  node.services.pubsub.subscribe(topicOf(page));
  return {
    node,
    id: node.peerId.toString(),
    delivered: () => delivered,
    async gossip(objects: (SignedObject | Uint8Array)[]) {
      for (const o of objects) {
        const data = o instanceof Uint8Array ? o : encodeObject(o);
        await node.services.pubsub.publish(topicOf(page), data).catch(() => {});
      }
    },
  };
}

Deno.test("net liar: forged, withheld, stale and equivocating data never win", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-net-liar-" });
  const { page, anchorText, genesis: testRootGenesis } = testRoot();
  const other = testRoot("x.other.test");
  const anchor = `${tmp}/anchor.json`;
  await Deno.writeTextFile(anchor, anchorText);
  const nodes: NetNode[] = [];
  // One liar forges gossip; another advertises a head it withholds.
  const liar = await startLiar(page, undefined);
  const withholder = await startLiar(page, sha256Hex("fake head"));
  try {
    const h1 = await startNode(tmp, "h1", anchor);
    nodes.push(h1);
    const h2 = await startNode(tmp, "h2", anchor, ["--peer", h1.hostPort]);
    nodes.push(h2);
    await liar.node.dial(multiaddr(h1.gossip));
    await liar.node.dial(multiaddr(h2.gossip));
    await withholder.node.dial(multiaddr(h1.gossip));
    // The honest nodes catch up with a new peer on connect: the withholder advertises a head
    // it does not deliver when asked, and loses standing.
    const sw = await until(
      async () => {
        const s = await nodeStatus(h1.hostPort) as Status;
        return (s.counters["sync.undelivered"] ?? 0) >= 1 ? s : undefined;
      },
      20_000,
      "the withheld head to be noticed",
    );
    assert.ok(withholder.delivered() >= 1, "the honest node asked for what was advertised");
    const w = sw.peers.find((p) => p.id === withholder.id);
    assert.ok(w && w.score < 0, `withholder's score ${w?.score}`);
    // Let the gossip mesh form.
    await until(
      () => liar.node.services.pubsub.getSubscribers(topicOf(page)).length >= 2,
      10_000,
      "mesh",
    );

    // An honest change, published at h2.
    const good = change(page, page, "good.net.test", "192.0.2.50");
    await publish(h2.hostPort, [good.event, good.approval]);

    // Forgeries on the topic: a change "approved" with a bad signature, the same change
    // approved by a non-participant, another page's object, non-canonical bytes.
    const evil = change(page, good.id, "evil.net.test", "203.0.113.66");
    const badSig = { ...evil.approval, sig: "ab".repeat(64) };
    const outsider = approve(key(9).secretKey, evil.event);
    const foreign = change(other.page, other.page, "x.other.test", "203.0.113.1");
    const notCanonical = new TextEncoder().encode(
      " " + new TextDecoder().decode(encodeObject(foreign.event)),
    );
    await liar.gossip([foreign.event, notCanonical, evil.event, badSig, outsider]);

    for (const n of nodes) {
      await until(
        async () => (await aRecords(n.port, "good.net.test")).includes("192.0.2.50"),
        20_000,
        "the honest change",
      );
    }
    const s1 = await until(
      async () => {
        const s = await nodeStatus(h1.hostPort) as Status;
        return s.peers.find((p) => p.id === liar.id && p.bannedUntil) ? s : undefined;
      },
      20_000,
      "the liar to be banned",
    );
    // Each kind of junk was refused (the liar is banned after the third; what it sent after
    // that was dropped with its connection).
    for (const code of ["wrong-topic", "not-canonical", "bad-signature"]) {
      assert.ok(
        s1.counters[`gossip.invalid.${code}`] >= 1,
        `${code}: ${JSON.stringify(s1.counters)}`,
      );
    }
    const liarEntry = s1.peers.find((p) => p.id === liar.id)!;
    assert.ok(liarEntry.score < 0, `liar score ${liarEntry.score}`);
    for (const n of nodes) {
      assert.deepEqual(await aRecords(n.port, "evil.net.test"), [], "forged change not answered");
      const s = await nodeStatus(n.hostPort) as Status;
      assert.equal(s.pages[0].head, good.id, "head is the honest change");
    }
    // Banned: the liar's connections are closed and it cannot reconnect.
    await until(
      () =>
        !liar.node.getConnections().some((c) =>
          c.remoteAddr.toString().includes(h1.hostPort.split(":")[1])
        ),
      10_000,
      "h1 to hang up on the liar",
    );
    // A banned peer that dials again is refused (the gater closes it after the handshake).
    await liar.node.dial(multiaddr(h1.gossip), { signal: AbortSignal.timeout(5000) })
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      !liar.node.getConnections().some((c) =>
        c.status === "open" && c.remoteAddr.toString().includes(`/tcp/${h1.hostPort.split(":")[1]}`)
      ),
      "the banned liar could reconnect",
    );

    // Stale history: replaying older objects (the genesis, the change before the head) cannot
    // move a node back; what a node holds only grows, and the fork choice is over all of it.
    const replay = await publish(h2.hostPort, [testRootGenesis, good.event, good.approval]);
    assert.deepEqual(replay.map((r) => r.outcome), ["duplicate", "duplicate", "duplicate"]);
    assert.equal((await nodeStatus(h2.hostPort) as Status).pages[0].head, good.id);

    // Equivocation: the only participant approves two different children of one parent. The
    // evidence is derived where both approvals meet and gossiped like any object, and neither
    // change is answered anywhere.
    const a = change(page, good.id, "left.net.test", "192.0.2.61");
    const b = change(page, good.id, "right.net.test", "192.0.2.62");
    await publish(h1.hostPort, [a.event, a.approval]);
    await publish(h2.hostPort, [b.event, b.approval]);
    for (const n of [h1, h2]) {
      await until(
        async () => {
          const l = await aRecords(n.port, "left.net.test");
          const r = await aRecords(n.port, "right.net.test");
          const s = await nodeStatus(n.hostPort) as Status;
          return l.length === 0 && r.length === 0 && s.pages[0].head === good.id;
        },
        20_000,
        "both equivocated changes to lose",
      );
    }
    let derived = 0;
    for (const n of [h1, h2]) {
      const s = await nodeStatus(n.hostPort) as Status;
      derived += s.counters["evidence.derived"] ?? 0;
    }
    assert.ok(derived >= 1, "evidence derived and published");
  } finally {
    await liar.node.stop();
    await withholder.node.stop();
    for (const n of nodes) await n.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
