/**
 * Legacy imports: the fixture DJDNS page directory imported as signed pages is answered by dig
 * exactly as `djdns run --pages` answers the directory itself (what could not be carried is
 * reported); a DEJE Next document becomes one signed page.
 */
import assert from "node:assert/strict";
import { dig, djdnsCli as djdns, fixtureRegistry, startDjdns } from "./helpers/djdns.ts";

/** The answer of a dig reply without what differs between two servers (id, timing, server). */
function answerOf(out: string): string {
  const status = /status: (\w+)/.exec(out)?.[1];
  const flags = /flags: ([a-z ]+);/.exec(out)?.[1];
  const sections = out.split("\n").filter((l) => l && !l.startsWith(";") && !l.startsWith("\t"))
    .sort();
  return [status, flags, ...sections].join("\n");
}

Deno.test("import pages: the signed copy of a legacy directory answers as the directory does", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-import-" });
  const legacy = await fixtureRegistry();
  try {
    const key = `${tmp}/a.key`;
    assert.equal((await djdns("key", "new", "--out", key)).code, 0);
    const imp = await djdns("import", "pages", legacy, "--key", key, "--data", `${tmp}/data`);
    assert.equal(imp.code, 0, imp.stderr);
    const root = imp.stdout.trim();
    assert.match(root, /^[0-9a-f]{64}$/);
    assert.match(imp.stderr, /not carried: private\/missing\.json: no such page file/);
    assert.match(
      imp.stderr,
      /not carried: private\/invalid\.json: branch 0: record 0: unsupported rtype/,
    );
    assert.match(
      imp.stderr,
      /not carried: private\/loop-b\.json: target private\/loop-a\.json closes a cycle/,
    );
    assert.match(imp.stderr, /imported 8 signed page\(s\)/);
    const show = await djdns("page", "show", "--data", `${tmp}/data`, root);
    assert.match(show.stdout, /meta {10}authority: djdns tests/);

    // The imported root is reached through a root page with the legacy root's selectors.
    const legacyRoot = JSON.parse(await Deno.readTextFile(`${legacy}/root.json`));
    await Deno.mkdir(`${tmp}/pages`);
    await Deno.writeTextFile(
      `${tmp}/pages/root.json`,
      JSON.stringify({
        branches: legacyRoot.branches.map((b: { selector: string }) => ({
          selector: b.selector,
          targets: [`djdns:${root}`],
        })),
      }),
    );
    const [a, b] = await Promise.all([
      startDjdns(["--pages", legacy, "--no-upstream"]),
      startDjdns(["--pages", `${tmp}/pages`, "--data", `${tmp}/data`, "--no-upstream"]),
    ]);
    try {
      const questions = [
        ["in.root.demo", "A"],
        ["in.root.demo", "AAAA"],
        ["ri.hype", "AAAA"],
        ["orchard.ri.hype", "A"],
        ["alias.hype", "A"],
        ["nope.hype", "AAAA"],
        ["x.demo", "A"],
        ["x.fwd.test", "A"], // a dns:// target, carried as it is
        // (not broken.test: its missing and invalid files are reported, not carried)
        ["example.com", "A"],
      ];
      let answered = 0;
      for (const [name, type] of questions) {
        const [x, y] = await Promise.all([dig(a.port, name, type), dig(b.port, name, type)]);
        assert.equal(answerOf(y.stdout), answerOf(x.stdout), `${name} ${type}`);
        if (/ANSWER: [1-9]/.test(x.stdout)) answered++;
      }
      assert.ok(answered >= 4, "the comparison includes real answers");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(legacy, { recursive: true });
  }
});

Deno.test("import deje: the tip state of a DEJE document becomes a signed page", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-import-deje-" });
  try {
    const key = `${tmp}/a.key`;
    const pub = (await djdns("key", "new", "--out", key)).stdout.trim();
    const doc = new URL("./fixtures/deje/dns_roaming_initiative/document/input", import.meta.url)
      .pathname;
    const imp = await djdns("import", "deje", doc, "--key", key, "--data", `${tmp}/data`);
    assert.equal(imp.code, 0, imp.stderr);
    const page = imp.stdout.trim();
    const show = JSON.parse(
      (await djdns("page", "show", "--json", "--data", `${tmp}/data`, page)).stdout,
    );
    assert.equal(show.meta.authority, "Campadrenalin/Rainfly_X/Philip Horger");
    assert.equal(show.branches, 2);
    assert.deepEqual(show.participants.map((p: { key: string }) => p.key), [pub]);
    // Served through a djdns: link of a root page.
    await Deno.mkdir(`${tmp}/pages`);
    await Deno.writeTextFile(
      `${tmp}/pages/root.json`,
      JSON.stringify({ branches: [{ selector: "\\.hype$", targets: [`djdns:${page}`] }] }),
    );
    const res = await djdns(
      "resolve",
      "--pages",
      `${tmp}/pages`,
      "--data",
      `${tmp}/data`,
      "--no-upstream",
      "orchard.ri.hype",
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /orchard\.ri\.hype\.\t\d+\tIN\tA\t106\.186\.18\.242/);
    const bad = await djdns(
      "import",
      "deje",
      `${tmp}/nope.json`,
      "--key",
      key,
      "--data",
      `${tmp}/data`,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^djdns: .*nope\.json: no such file\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
