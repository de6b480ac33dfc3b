/**
 * The moderators' workflow through running nodes (`--node HOST:PORT`, the gossip port): a
 * proposal submitted at one node is pending (page show says so, dig on the other node does not
 * see it), an approval submitted at the other node makes it accepted and dig sees it on the
 * first; a delegation and a zone import travel the same way; an unreachable node is one clear
 * line and a non-zero exit.
 */
import assert from "node:assert/strict";
import { djdnsCli as djdns, djdnsOk as ok } from "./helpers/djdns.ts";
import { aRecords, startNode, until } from "./helpers/net.ts";

Deno.test("moderators through running nodes: --node propose, approve, delegate, zone import", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-modnet-" });
  const nodes = [];
  try {
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map(async (n) => (await ok("key", "new", "--out", `${tmp}/${n}.key`)).id),
    );
    const key = (n: string) => ["--key", `${tmp}/${n}.key`];
    const page = (await ok(
      "page",
      "new",
      "--data",
      `${tmp}/seed`,
      ...key("a"),
      "--participant",
      a,
      "--participant",
      b,
      "--participant",
      c,
    )).id;
    await ok("anchor", "export", page, "--data", `${tmp}/seed`, "--out", `${tmp}/anchor.json`);
    const n1 = await startNode(tmp, "n1", `${tmp}/anchor.json`);
    nodes.push(n1);
    const n2 = await startNode(tmp, "n2", `${tmp}/anchor.json`, ["--peer", n1.gossip]);
    nodes.push(n2);

    const www = await ok(
      "propose",
      page,
      ...key("a"),
      "--node",
      n1.hostPort,
      "add-record",
      "www.mod.test",
      "A",
      "192.0.2.7",
    );
    assert.match(
      www.stderr,
      /proposed on node 127\.0\.0\.1:\d+: add www\.mod\.test A 192\.0\.2\.7/,
    );
    assert.match(www.stderr, /pending: approving power 1, needs 1\.02/);
    // The first node holds it, pending; the second does not answer it.
    await until(
      async () => {
        const r = await djdns("page", "show", "--data", n1.data, page);
        return r.code === 0 && r.stdout.includes(`${www.id}  pending`);
      },
      10_000,
      "the proposal at the first node",
    );
    assert.deepEqual(await aRecords(n2.port, "www.mod.test"), []);
    // ... and says so when asked through its gossip port.
    const shown = await ok("page", "show", "--node", n1.hostPort, page);
    assert.match(shown.stdout, new RegExp(`${www.id}  pending .*insufficient-power`));
    assert.match(shown.stdout, /approving power 1, needs 1\.02 \(content track\)/);

    // Approved at the second node: accepted; dig at the first node sees it.
    const appr = await ok("approve", page, www.id, ...key("b"), "--node", n2.hostPort);
    assert.match(appr.stderr, /accepted/);
    await until(
      async () => (await aRecords(n1.port, "www.mod.test")).includes("192.0.2.7"),
      15_000,
      "dig at the first node",
    );

    await until(
      async () => {
        const r = await djdns("page", "log", "--node", n1.hostPort, page);
        return r.stdout.includes(`${www.id}  accepted`);
      },
      10_000,
      "page log through the first node",
    );
    // c hands its power to a through the first node; a alone then carries a change.
    await ok("delegate", page, ...key("c"), "--to", `${a}=100`, "--node", n1.hostPort);
    const mail = await ok(
      "propose",
      page,
      ...key("a"),
      "--node",
      n2.hostPort,
      "add-record",
      "mail.mod.test",
      "A",
      "192.0.2.8",
    );
    assert.match(mail.stderr, /accepted \(approving power 2/);
    await until(
      async () => (await aRecords(n1.port, "mail.mod.test")).includes("192.0.2.8"),
      15_000,
      "the delegated change",
    );

    // A zone file through a node: one BATCH.
    await Deno.writeTextFile(`${tmp}/z.zone`, "$ORIGIN mod.test.\n$TTL 60\nftp A 192.0.2.9\n");
    await ok("zone", "import", page, `${tmp}/z.zone`, ...key("a"), "--node", n1.hostPort);
    await until(
      async () => (await aRecords(n2.port, "ftp.mod.test")).includes("192.0.2.9"),
      15_000,
      "the zone import",
    );

    // A checkpoint through a node (it holds pending checkpoints; approvals go to the same node).
    const cp = await ok("checkpoint", "propose", page, ...key("a"), "--node", n1.hostPort);
    assert.match(cp.stderr, /published to node .* needs 2\.1/);
    await ok("checkpoint", "approve", page, cp.id, ...key("b"), "--node", n1.hostPort);
    const last = await ok("checkpoint", "approve", page, cp.id, ...key("c"), "--node", n1.hostPort);
    assert.match(last.stderr, /valid at node .*, now part of the chain/);
    assert.match(
      (await ok("page", "show", "--node", n1.hostPort, page)).stdout,
      new RegExp(`checkpoints {3}1 \\(last ${cp.id} `),
    );

    // The anchor as a node holds the page (with its checkpoint now): it opens and extends ours.
    await ok("anchor", "export", page, "--node", n2.hostPort, "--out", `${tmp}/from-node.json`);
    const fromNode = JSON.parse(await Deno.readTextFile(`${tmp}/from-node.json`));
    assert.equal(fromNode.page, page);
    assert.deepEqual(
      fromNode.genesis,
      JSON.parse(await Deno.readTextFile(`${tmp}/anchor.json`)).genesis,
    );

    // A proof of an answer, made through a node and checked offline against the anchor.
    const proof = await ok(
      "prove",
      "mail.mod.test",
      "--node",
      n2.hostPort,
      "--anchor",
      `${tmp}/anchor.json`,
      "--out",
      `${tmp}/proof.json`,
    );
    assert.match(proof.stderr, /1 page\(s\)/);
    const checked = await ok("verify-proof", `${tmp}/proof.json`, "--anchor", `${tmp}/anchor.json`);
    assert.match(checked.stdout, /mail\.mod\.test\.\t1800\tIN\tA\t192\.0\.2\.8/);

    // Every node stored what it verified (a refused write is logged as an error).
    for (const n of nodes) assert.doesNotMatch(n.log(), /\[ERR\]|ERROR/, n.log());

    // Errors: one line, non-zero.
    for (
      const args of [
        [
          "propose",
          page,
          ...key("a"),
          "--node",
          "127.0.0.1:1",
          "add-record",
          "x.mod.test",
          "A",
          "192.0.2.1",
        ],
        ["approve", page, www.id, ...key("c"), "--node", "127.0.0.1:1"],
        [
          "propose",
          "ab".repeat(32),
          ...key("a"),
          "--node",
          n1.hostPort,
          "add-record",
          "x.mod.test",
          "A",
          "192.0.2.1",
        ],
      ]
    ) {
      const r = await djdns(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^djdns: /);
    }
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
