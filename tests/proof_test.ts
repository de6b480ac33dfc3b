/**
 * Portable proofs: a three-level name (root → TLD page → domain page) proved from a data
 * directory and verified offline against the exported trust anchor, a proof that starts from a
 * checkpoint when that is smaller, and tampered proofs refused (a changed record, a changed
 * checkpoint state, a dropped approval, a changed claim, a foreign anchor, an unlinked page).
 */
import assert from "node:assert/strict";
import { djdnsCli as djdns, djdnsOk as ok } from "./helpers/djdns.ts";

Deno.test("prove and verify-proof: a three-level name, offline, tampering refused", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-proof-" });
  try {
    const data = ["--data", `${tmp}/data`];
    const keys = await Promise.all(
      ["a", "b", "c"].map(async (n) => (await ok("key", "new", "--out", `${tmp}/${n}.key`)).id),
    );
    const ka = ["--key", `${tmp}/a.key`];
    const newPage = async () =>
      (await ok("page", "new", ...data, ...ka, ...keys.flatMap((k) => ["--participant", k]))).id;
    const [root, tld, dom] = [await newPage(), await newPage(), await newPage()];
    // Two approvals each (0.34 of 3 needs 2 of the three keys).
    const change = async (page: string, ...words: string[]) => {
      const ev = (await ok("propose", page, ...ka, ...data, ...words)).id;
      await ok("approve", page, ev, "--key", `${tmp}/b.key`, ...data);
    };
    await change(dom, "add-record", "www.example.test", "A", "192.0.2.1");
    for (let i = 0; i < 6; i++) {
      await change(dom, "set", `meta.note${i}`, JSON.stringify("x".repeat(300)));
    }
    await change(tld, "delegate", "example.test", dom);
    await change(root, "delegate", "test", tld);
    await ok("anchor", "export", root, ...data, "--out", `${tmp}/anchor.json`);

    const p = await ok(
      "prove",
      "www.example.test",
      "A",
      ...data,
      "--anchor",
      `${tmp}/anchor.json`,
      "--out",
      `${tmp}/proof.json`,
    );
    assert.match(p.stdout, /www\.example\.test\.\t1800\tIN\tA\t192\.0\.2\.1/);
    const size = (await Deno.stat(`${tmp}/proof.json`)).size;
    console.log(`proof of a three-level name, 3 participants per page, 9 events: ${size} bytes`);
    assert.match(
      p.stderr,
      new RegExp(`${size} bytes, 3 page\\(s\\) \\(0 from a checkpoint\\), 9 event`),
    );
    const v = await ok("verify-proof", `${tmp}/proof.json`, "--anchor", `${tmp}/anchor.json`);
    assert.match(v.stdout, /;; status: NOERROR\nwww\.example\.test\.\t1800\tIN\tA\t192\.0\.2\.1/);
    assert.match(v.stderr, /through 3 signed page\(s\)/);
    const proof = JSON.parse(await Deno.readTextFile(`${tmp}/proof.json`));

    // resolve --trace shows the signed pages walked: ids, heads, selectors, targets.
    await Deno.mkdir(`${tmp}/pages`);
    await Deno.writeTextFile(
      `${tmp}/pages/root.json`,
      JSON.stringify({ branches: [{ selector: "\\.test$", targets: [`djdns:${root}`] }] }),
    );
    const trace = await ok(
      "resolve",
      "--pages",
      `${tmp}/pages`,
      ...data,
      "--no-upstream",
      "--trace",
      "www.example.test",
    );
    const heads = JSON.parse((await ok("page", "list", "--json", ...data)).stdout) as {
      page: string;
      head: string;
    }[];
    for (const [page, next] of [[root, tld], [tld, dom]]) {
      const head = heads.find((h) => h.page === page)!.head;
      assert.match(trace.stdout, new RegExp(`;;   page ${page} head ${head} `));
      assert.match(
        trace.stdout,
        new RegExp(`;;     branch 0 ".*": 0 record\\(s\\), targets djdns:${next}`),
      );
    }
    assert.match(trace.stdout, new RegExp(`;;   page ${dom} head `));
    assert.match(trace.stdout, /;; {5}branch \d+ "\^www\\\\\.example\\\\\.test\$": 1 record\(s\)/);
    // Just enough approvals: two of the three keys per event.
    for (const page of proof.pages) assert.equal(page.approvals.length, 2 * page.events.length);

    // A checkpoint on the domain page: the proof starts there when that is smaller.
    const cp = (await ok("checkpoint", "propose", dom, ...ka, ...data)).id;
    await ok("checkpoint", "approve", dom, cp, "--key", `${tmp}/b.key`, ...data);
    await ok("checkpoint", "approve", dom, cp, "--key", `${tmp}/c.key`, ...data);
    await change(dom, "add-record", "www.example.test", "AAAA", "2001:db8::1");
    const p2 = await ok(
      "prove",
      "www.example.test",
      "AAAA",
      ...data,
      "--anchor",
      `${tmp}/anchor.json`,
      "--out",
      `${tmp}/proof2.json`,
    );
    assert.match(p2.stderr, /3 page\(s\) \(1 from a checkpoint\), 3 event/);
    const size2 = (await Deno.stat(`${tmp}/proof2.json`)).size;
    console.log(`the same name once the domain page has a checkpoint: ${size2} bytes`);
    await ok("verify-proof", `${tmp}/proof2.json`, "--anchor", `${tmp}/anchor.json`);
    // NXDOMAIN is provable too.
    await ok(
      "prove",
      "nope.example.test",
      ...data,
      "--anchor",
      `${tmp}/anchor.json`,
      "--out",
      `${tmp}/nx.json`,
    );
    assert.match(
      (await ok("verify-proof", `${tmp}/nx.json`, "--anchor", `${tmp}/anchor.json`)).stdout,
      /NXDOMAIN/,
    );

    // deno-lint-ignore no-explicit-any -- the tests reach into the proof's JSON freely
    type Loose = Record<string, any>;
    const tampered: [string, (p: Loose) => void, RegExp][] = [
      ["a changed record", (x) => {
        const e = x.pages[2].events.find((e: Loose) => e.handler === "ADD_BRANCH");
        e.args.branch.records[0].rdata = "203.0.113.66";
      }, /pending|not accepted|insufficient-power/],
      [
        "a changed claim",
        (x) => x.answer.answers[0].data = "203.0.113.66",
        /not what the proof claims/,
      ],
      ["a dropped approval", (x) => x.pages[1].approvals.pop(), /insufficient-power/],
      ["an unlinked page", (x) => x.pages.splice(1, 1), /not linked from a verified page/],
      ["another root", (x) => x.root = "ab".repeat(32), /not at the anchor/],
      ["a forged signature", (x) => {
        const a = x.pages[0].approvals[0];
        a.sig = (a.sig[0] === "0" ? "1" : "0") + a.sig.slice(1);
      }, /signature/],
      ["junk", (x) => x.pages = "nope", /not a djdns proof/],
    ];
    for (const [what, mutate, pattern] of tampered) {
      const x = structuredClone(proof);
      mutate(x);
      await Deno.writeTextFile(`${tmp}/bad.json`, JSON.stringify(x));
      const r = await djdns("verify-proof", `${tmp}/bad.json`, "--anchor", `${tmp}/anchor.json`);
      assert.equal(r.code, 1, `${what}: ${r.stdout}`);
      assert.equal(r.stdout, "", what);
      assert.match(r.stderr, /^djdns: .*proof refused: /, what);
      assert.match(r.stderr, pattern, what);
    }
    // A changed checkpoint state no longer hashes to what the checkpoint says.
    const withCp = JSON.parse(await Deno.readTextFile(`${tmp}/proof2.json`));
    withCp.pages[2].state.meta.note0 = "changed";
    await Deno.writeTextFile(`${tmp}/bad.json`, JSON.stringify(withCp));
    const r = await djdns("verify-proof", `${tmp}/bad.json`, "--anchor", `${tmp}/anchor.json`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /proof refused: .*hash/);
    // Another anchor: refused.
    const other =
      (await ok("page", "new", "--data", `${tmp}/other`, ...ka, "--participant", keys[0])).id;
    await ok("anchor", "export", other, "--data", `${tmp}/other`, "--out", `${tmp}/other.json`);
    const r2 = await djdns("verify-proof", `${tmp}/proof.json`, "--anchor", `${tmp}/other.json`);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /not at the anchor/);
    // Missing files, bad arguments.
    assert.equal(
      (await djdns("verify-proof", `${tmp}/none.json`, "--anchor", `${tmp}/anchor.json`)).code,
      1,
    );
    assert.equal(
      (await djdns("verify-proof", `${tmp}/proof.json`, "--anchor", `${tmp}/none.json`)).code,
      1,
    );
    assert.equal((await djdns("prove", "www.example.test", ...data)).code, 2);
    const unreg = await djdns(
      "prove",
      "www.elsewhere.org",
      ...data,
      "--anchor",
      `${tmp}/anchor.json`,
      "--out",
      `${tmp}/x.json`,
    );
    assert.equal(unreg.code, 1);
    assert.match(unreg.stderr, /not a registry name/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
