/**
 * The moderators' workflow end to end, driving only the `djdns` command line (with the binary's
 * permission flags) and answering with the real server, checked with dig: three keys, a page with
 * three participants, a change approved by one (pending: `page show` says so, dig does not see
 * it) then by a second (accepted, dig sees it), a delegation that lets one participant carry
 * another's power, a participant change that needs Track 2 power, a threshold change, a record
 * removal, and a checkpoint whose anchor file opens.
 */
import assert from "node:assert/strict";
import { parseAnchorFile } from "../lib/anchor/file.ts";
import { openAnchor } from "../lib/page/mod.ts";
import { dig, djdnsOk as ok, startDjdns } from "./helpers/djdns.ts";

/** Serves the data directory behind a root page linking example.test to `page`; runs `body`. */
async function serving(tmp: string, page: string, body: (port: number) => Promise<void>) {
  await Deno.mkdir(`${tmp}/pages`, { recursive: true });
  await Deno.writeTextFile(
    `${tmp}/pages/root.json`,
    JSON.stringify({
      branches: [{ selector: "(^|\\.)example\\.test$", targets: [`djdns:${page}`] }],
    }),
  );
  const server = await startDjdns([
    "--pages",
    `${tmp}/pages`,
    "--data",
    `${tmp}/data`,
    "--no-upstream",
  ]);
  try {
    await body(server.port);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
}

Deno.test("moderators: three keys, a page, proposals, approvals, delegation, Track 2, dig", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-moderators-" });
  const data = ["--data", `${tmp}/data`];
  try {
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map(async (n) => (await ok("key", "new", "--out", `${tmp}/${n}.key`)).id),
    );
    for (const [n, pub] of [["a", a], ["b", b], ["c", c]]) {
      assert.match(pub, /^[0-9a-f]{64}$/);
      assert.equal((await Deno.stat(`${tmp}/${n}.key`)).mode! & 0o777, 0o600);
      assert.equal((await ok("key", "show", `${tmp}/${n}.key`)).id, pub);
    }
    const key = (n: string) => ["--key", `${tmp}/${n}.key`];
    const page = (await ok(
      "page",
      "new",
      ...data,
      ...key("a"),
      "--participant",
      a,
      "--participant",
      b,
      "--participant",
      c,
      "--meta",
      "authority=example.test moderators",
    )).id;
    assert.match(page, /^[0-9a-f]{64}$/);

    // Proposed by a: 1 of the 1.02 the content threshold needs.
    const www = await ok(
      "propose",
      page,
      ...key("a"),
      ...data,
      "add-record",
      "www.example.test",
      "A",
      "192.0.2.1",
    );
    assert.match(www.stderr, /pending: approving power 1, needs 1\.02, content track/);
    const show1 = await ok("page", "show", ...data, page);
    assert.match(show1.stdout, new RegExp(`${www.id}  pending .*insufficient-power`));
    assert.match(
      show1.stdout,
      /add branch "\^www\\\\\.example\\\\\.test\$": www\.example\.test A 192\.0\.2\.1/,
    );
    assert.match(show1.stdout, /approving power 1, needs 1\.02 \(content track\)/);
    const json1 = JSON.parse((await ok("page", "show", "--json", ...data, page)).stdout);
    assert.deepEqual(json1.events.map((e: { id: string; status: string }) => [e.id, e.status]), [[
      www.id,
      "pending",
    ]]);
    await serving(tmp, page, async (port) => {
      const r = await dig(port, "www.example.test", "A");
      assert.match(r.stdout, /status: NXDOMAIN/);
      assert.doesNotMatch(r.stdout, /192\.0\.2\.1/);
    });

    // Approved by b: accepted.
    const appr = await ok("approve", page, www.id, ...key("b"), ...data);
    assert.equal(appr.id, www.id);
    assert.match(appr.stderr, /accepted \(approving power 2, needs 1\.02/);
    assert.match(
      (await ok("page", "show", ...data, page)).stdout,
      new RegExp(`${www.id}  accepted`),
    );
    await serving(tmp, page, async (port) => {
      const r = await dig(port, "www.example.test", "A");
      assert.match(r.stdout, /www\.example\.test\.\s+1800\s+IN\s+A\s+192\.0\.2\.1/);
    });

    // c hands all its power to a; a alone now carries 2 of 3.
    const del = await ok("delegate", page, ...key("c"), "--to", `${a}=100`, ...data);
    assert.match(del.stderr, /accepted .*delegation track/);
    assert.match(
      (await ok("page", "show", ...data, page)).stdout,
      new RegExp(`${c}  weight 1  delegates 100% to ${a.slice(0, 12)}`),
    );
    const aaaa = await ok(
      "propose",
      page,
      ...key("a"),
      ...data,
      "add-record",
      "www.example.test",
      "AAAA",
      "2001:db8::1",
      "--ttl",
      "60",
    );
    assert.match(aaaa.stderr, /accepted \(approving power 2, needs 1\.02/);

    // A participant change needs Track 2 (0.7 of 3 = 2.1): a with c's power is not enough.
    const x = (await ok("key", "new", "--out", `${tmp}/x.key`)).id;
    const addX = await ok("propose", page, ...key("a"), ...data, "add-participant", `${x}:1`);
    assert.match(addX.stderr, /pending: approving power 2, needs 2\.1, membership track/);
    await ok("approve", page, addX.id, ...key("b"), ...data);
    const show2 = await ok("page", "show", ...data, page);
    assert.match(show2.stdout, new RegExp(`${addX.id}  accepted`));
    assert.match(show2.stdout, /participants {2}4 \(total weight 4\)/);

    // A threshold change (Track 2, 0.7 of 4 = 2.8), proposed by the new participant.
    const thr = await ok("propose", page, ...key("x"), ...data, "set-threshold", "content", "0.5");
    assert.match(thr.stderr, /pending: approving power 1, needs 2\.8/);
    await ok("approve", page, thr.id, ...key("a"), ...data); // 1 + a 1 + c's 1 = 3
    assert.match(
      (await ok("page", "show", ...data, page)).stdout,
      /content 0\.5 \(needs 2 of total weight 4\)/,
    );

    // A record removal: a with c's power has 2 of the 2 needed.
    const rm = await ok(
      "propose",
      page,
      ...key("a"),
      ...data,
      "remove-record",
      "www.example.test",
      "A",
      "192.0.2.1",
    );
    assert.match(rm.stderr, /accepted/);
    await serving(tmp, page, async (port) => {
      const r4 = await dig(port, "www.example.test", "A");
      assert.match(r4.stdout, /status: NOERROR/);
      assert.match(r4.stdout, /ANSWER: 0/);
      const r6 = await dig(port, "www.example.test", "AAAA");
      assert.match(r6.stdout, /www\.example\.test\.\s+60\s+IN\s+AAAA\s+2001:db8::1/);
    });

    // A checkpoint (approved under the genesis governance: a, b, c, 2.1 needed), then the anchor.
    const cp = await ok("checkpoint", "propose", page, ...key("a"), ...data);
    assert.match(cp.stderr, /pending \(approving power 1, needs 2\.1\)/);
    assert.match(
      (await ok("page", "show", ...data, page)).stdout,
      new RegExp(`pending ${cp.id} at height \\d+: .*approving power 1, needs 2\\.1`),
    );
    await ok("checkpoint", "approve", page, cp.id, ...key("b"), ...data);
    const cp3 = await ok("checkpoint", "approve", page, cp.id, ...key("c"), ...data);
    assert.match(cp3.stderr, /valid, now part of the chain \(approving power 3/);
    await ok("anchor", "export", page, ...data, "--out", `${tmp}/anchor.json`);
    const anchor = parseAnchorFile(await Deno.readTextFile(`${tmp}/anchor.json`));
    assert.equal(anchor.checkpoints?.length, 1);
    const log = openAnchor(anchor);
    assert.equal(log.pageId, page);
    assert.equal(log.checkpoints().length, 1);

    const history = await ok("page", "log", ...data, page);
    for (const id of [www.id, del.id, aaaa.id, addX.id, thr.id, rm.id]) {
      assert.match(history.stdout, new RegExp(`${id}  accepted`));
    }
    assert.match(
      (await ok("page", "list", ...data)).stdout,
      new RegExp(`${page}  followed .*"example\\.test moderators"`),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
