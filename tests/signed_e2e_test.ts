/**
 * Signed pages end to end: a page built and approved with the page engine, imported into a data
 * directory through the CLI (verified before it is stored), and answered by the real server
 * through a `djdns:` target, queried with dig. Also the embedded root trust anchor.
 */
import assert from "node:assert/strict";
import { approve, createGenesis, objectId, proposeEvent } from "../lib/page/mod.ts";
import { dig, djdnsTaskArgs, run, startDjdns } from "./helpers/djdns.ts";
import { key } from "./page_fixtures.ts";

async function djdns(...args: string[]) {
  return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
}

const alice = key(1);
const bob = key(2);

function signedPage() {
  const genesis = createGenesis({
    participants: { [alice.hex]: { weight: 1 }, [bob.hex]: { weight: 1 } },
    meta: { authority: "signed.test moderators" },
  });
  const page = objectId(genesis);
  const www = proposeEvent(page, page, "ADD_BRANCH", {
    branch: { selector: "^www\\.signed\\.test$", records: [{ rtype: "A", rdata: "192.0.2.10" }] },
  });
  // Proposed but never approved: must not be served.
  const evil = proposeEvent(page, objectId(www), "ADD_BRANCH", {
    branch: {
      selector: "^evil\\.signed\\.test$",
      records: [{ rtype: "A", rdata: "203.0.113.66" }],
    },
  });
  return { genesis, page, www, evil, objects: [genesis, www, approve(alice.secretKey, www), evil] };
}

Deno.test("signed pages: import verifies, the server answers through djdns: targets", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-signed-" });
  try {
    const { page, www, evil, objects } = signedPage();
    await Deno.writeTextFile(`${tmp}/bundle.json`, JSON.stringify(objects));
    // A forged approval: bob's key, alice's signature.
    const forged = { ...approve(alice.secretKey, evil), key: bob.hex };
    await Deno.writeTextFile(`${tmp}/forged.json`, JSON.stringify([...objects, forged]));

    const bad = await djdns("page", "import", "--data", `${tmp}/data`, `${tmp}/forged.json`);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /forged\.json: object 4: .*signature/i);
    const none = await djdns("page", "show", "--data", `${tmp}/data`, page);
    assert.equal(none.code, 1, "nothing of the refused bundle was stored");

    const ok = await djdns("page", "import", "--data", `${tmp}/data`, `${tmp}/bundle.json`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      new RegExp(`page ${page}: head ${objectId(www)}, 2 event\\(s\\), 1 pending`),
    );

    const show = await djdns("page", "show", "--data", `${tmp}/data`, page);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`${objectId(www)}  accepted`));
    assert.match(show.stdout, new RegExp(`${objectId(evil)}  pending .*unapproved`));

    await Deno.mkdir(`${tmp}/pages`);
    await Deno.writeTextFile(
      `${tmp}/pages/root.json`,
      JSON.stringify({
        branches: [
          { selector: "(^|\\.)signed\\.test$", targets: [`djdns:${page}`] },
          { selector: "(^|\\.)unheld\\.test$", targets: [`djdns:${"0".repeat(64)}`] },
        ],
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
      const a = await dig(server.port, "www.signed.test", "A");
      assert.match(a.stdout, /status: NOERROR/);
      assert.match(a.stdout, /flags: qr aa/);
      assert.match(a.stdout, /www\.signed\.test\.\s+1800\s+IN\s+A\s+192\.0\.2\.10/);
      const e = await dig(server.port, "evil.signed.test", "A");
      assert.match(e.stdout, /status: NXDOMAIN/);
      assert.doesNotMatch(e.stdout, /203\.0\.113\.66/);
      // A djdns: target this node does not hold is an error, not a non-existent name.
      const u = await dig(server.port, "x.unheld.test", "A");
      assert.match(u.stdout, /status: SERVFAIL/);
      // The running node owns the data directory.
      const busy = await djdns("page", "import", "--data", `${tmp}/data`, `${tmp}/bundle.json`);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /data directory .* (is in use|locked|owned)/i);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }

    const exported = await djdns("page", "export", "--data", `${tmp}/data`, page);
    assert.equal(exported.code, 0, exported.stderr);
    const ids = (JSON.parse(exported.stdout) as never[]).map((o) => objectId(o)).sort();
    assert.deepEqual(ids, objects.map((o) => objectId(o)).sort());
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the embedded root trust anchor serves the djdns. names", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-anchor-" });
  const server = await startDjdns(["--data", `${tmp}/data`, "--no-upstream"]);
  try {
    const a = await dig(server.port, "localhost.djdns", "A");
    assert.match(a.stdout, /localhost\.djdns\.\s+86400\s+IN\s+A\s+127\.0\.0\.1/);
    const nx = await dig(server.port, "nothing.djdns", "A");
    assert.match(nx.stdout, /status: NXDOMAIN/);
    const out = await dig(server.port, "example.com", "A");
    assert.match(out.stdout, /status: REFUSED/);
    assert.match(server.log(), /registry: "root anchor [0-9a-f]{64}/);
  } finally {
    await server.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
