/**
 * Every moderator command's error cases: bad arguments (exit 2), a missing or unreadable file, a
 * page or event id that does not exist, a key that is not a participant, an unreachable node, a
 * change that would be rejected, an approval that would be equivocation (exit 1). Each must print
 * one line starting `djdns:` on stderr, nothing on stdout, and write nothing: the whole working
 * directory (data directory, key files, outputs) is hashed before and after every command.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { djdnsCli as djdns, startDjdns } from "./helpers/djdns.ts";

async function ok(...args: string[]): Promise<string> {
  const r = await djdns(...args);
  assert.equal(r.code, 0, `djdns ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!;
}

/**
 * SHA-256 over every file's path, mode and bytes under `dir`, except the store's lock file (it
 * holds the pid of the last process that opened the store) and SQLite's -wal/-shm files (closing
 * the store folds the log into the database file, which is hashed).
 */
async function treeHash(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (d: string) => {
    const entries = [];
    for await (const e of Deno.readDir(d)) entries.push(e);
    entries.sort((x, y) => (x.name < y.name ? -1 : 1));
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.name === "LOCK" || /-(wal|shm)$/.test(e.name)) continue;
      h.update(p + "\0");
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        h.update(String((await Deno.stat(p)).mode) + "\0");
        h.update(await Deno.readFile(p));
      }
    }
  };
  await walk(dir);
  return h.digest("hex");
}

Deno.test("moderator commands: errors are one line, non-zero, and write nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-moderr-" });
  try {
    const a = await ok("key", "new", "--out", `${tmp}/a.key`);
    const b = await ok("key", "new", "--out", `${tmp}/b.key`);
    await ok("key", "new", "--out", `${tmp}/z.key`); // not a participant
    await Deno.writeTextFile(`${tmp}/open.key`, await Deno.readTextFile(`${tmp}/a.key`));
    await Deno.chmod(`${tmp}/open.key`, 0o644);
    await Deno.writeTextFile(`${tmp}/junk.key`, "not a key\n", { mode: 0o600 });
    await Deno.chmod(`${tmp}/junk.key`, 0o600);
    const data = ["--data", `${tmp}/data`];
    const page = await ok(
      "page",
      "new",
      ...data,
      "--key",
      `${tmp}/a.key`,
      "--participant",
      a,
      "--participant",
      `${b}:2`,
    );
    // a proposes E1 (1 of 3, pending); b proposes E2 on the same head (b approved E2).
    const e1 = await ok(
      "propose",
      page,
      "--key",
      `${tmp}/a.key`,
      ...data,
      "add-record",
      "a.example",
      "A",
      "192.0.2.1",
    );
    const e2 = await ok(
      "propose",
      page,
      "--key",
      `${tmp}/b.key`,
      ...data,
      "add-record",
      "b.example",
      "A",
      "192.0.2.2",
    );
    assert.notEqual(e1, e2);
    // E2 has b's 2 of 3: accepted; E1 lost the race but is still pending on the old head.
    const ka = ["--key", `${tmp}/a.key`];
    const kz = ["--key", `${tmp}/z.key`];
    const nopage = "ab".repeat(32);
    const cases: [number, string[], RegExp?][] = [
      // key
      [2, ["key", "new"], /--out/],
      [1, ["key", "new", "--out", `${tmp}/a.key`], /already exists/],
      [1, ["key", "new", "--out", `${tmp}/nodir/k.key`], /no such file/],
      [1, ["key", "show", `${tmp}/missing.key`], /no such file/],
      [1, ["key", "show", `${tmp}/open.key`], /too open.*chmod 600/],
      [1, ["key", "show", `${tmp}/junk.key`], /not a djdns key file/],
      [1, ["key", "show", tmp], /not a regular file/],
      [2, ["key", "frob"]],
      // page new
      [2, ["page", "new", ...data, "--participant", a], /--key/],
      [2, ["page", "new", ...data, ...ka], /--participant/],
      [1, ["page", "new", ...data, ...kz, "--participant", a], /not among the participants/],
      [2, ["page", "new", ...data, ...ka, "--participant", "1234"], /not a public key/],
      [2, ["page", "new", ...data, ...ka, "--participant", a, "--content-threshold", "1.5"]],
      [2, ["page", "new", ...data, ...ka, "--participant", a, "--meta", "novalue"]],
      [1, ["page", "new", ...data, "--key", `${tmp}/missing.key`, "--participant", a]],
      [2, ["page", "show", ...data, "--participant", a, page], /'page new' only/],
      // propose
      [2, ["propose", "xyz", ...ka, ...data, "set", "meta.x", "1"], /PAGE-ID/],
      [2, ["propose", page, ...data, "set", "meta.x", "1"], /--key/],
      [1, ["propose", nopage, ...ka, ...data, "set", "meta.x", "1"], /not in the data directory/],
      [1, ["propose", page, "--key", `${tmp}/missing.key`, ...data, "set", "meta.x", "1"]],
      [1, ["propose", page, "--key", `${tmp}/open.key`, ...data, "set", "meta.x", "1"], /too open/],
      [1, ["propose", page, ...kz, ...data, "set", "meta.x", "1"], /is not a participant/],
      [2, ["propose", page, ...ka, ...data], /missing CHANGE/],
      [2, ["propose", page, ...ka, ...data, "frob"], /unknown CHANGE/],
      [2, ["propose", page, ...ka, ...data, "add-record", "w.example", "BOGUS", "x"], /type/],
      [2, ["propose", page, ...ka, ...data, "add-record", "w.example", "A", "1.2.3"], /IPv4/],
      [2, ["propose", page, ...ka, ...data, "add-record", "bad..name", "A", "1.2.3.4"]],
      [2, ["propose", page, ...ka, ...data, "add-record", "w.e", "A", "1.2.3.4", "--ttl", "x"]],
      [1, ["propose", page, ...ka, ...data, "remove-record", "w.e", "A", "1.2.3.4"], /no record/],
      [1, ["propose", page, ...ka, ...data, "remove-participant", "cd".repeat(32)]],
      [2, ["propose", page, ...ka, ...data, "add-participant", "00".repeat(32)], /usable/],
      [2, ["propose", page, ...ka, ...data, "set-threshold", "content", "0"]],
      [1, ["propose", page, ...ka, ...data, "set", "a.b.c", "1"], /would be rejected/],
      [1, ["propose", page, ...ka, ...data, "delete", "branches.7"], /would be rejected/],
      [2, ["propose", page, ...ka, ...data, "set", "meta.x", "{bad"], /not JSON/],
      [1, ["propose", page, ...ka, "--data", `${tmp}/nodata`, "set", "meta.x", "1"], /no djdns/],
      [2, ["propose", page, ...ka, ...data, "--node", "127.0.0.1:1", "set", "meta.x", "1"]],
      [2, ["propose", page, ...ka, "--node", "nonsense", "set", "meta.x", "1"], /HOST:PORT/],
      [1, ["propose", page, ...ka, "--node", "127.0.0.1:1", "set", "meta.x", "1"], /node/],
      // approve
      [2, ["approve", page, ...ka, ...data], /EVENT-ID/],
      [1, ["approve", page, nopage, ...ka, ...data], /is not in page/],
      [1, ["approve", nopage, e1, ...ka, ...data], /not in the data directory/],
      [1, ["approve", page, e2, ...kz, ...data], /not a participant/],
      [1, ["approve", page, e1, "--key", `${tmp}/b.key`, ...data], /equivocation/],
      // delegate
      [2, ["delegate", page, ...ka, ...data], /--to .* or --revoke/],
      [2, ["delegate", page, ...ka, ...data, "--to", `${a}=50`], /itself/],
      [2, ["delegate", page, ...ka, ...data, "--to", `${b}=150`], /at most 100/],
      [2, ["delegate", page, ...ka, ...data, "--to", `${b}=50`, "--revoke"], /exclude/],
      [1, ["delegate", page, ...kz, ...data, "--to", `${b}=50`], /not a participant/],
      [1, ["delegate", page, ...ka, ...data, "--revoke"], /no delegations/],
      // anchor
      [2, ["anchor", "export", page, ...data], /--out/],
      [1, ["anchor", "export", nopage, ...data, "--out", `${tmp}/x.json`], /not in the data/],
      [1, ["anchor", "export", page, ...data, "--out", `${tmp}/nodir/x.json`], /no such/],
      [2, ["anchor", "frob"]],
      // checkpoint
      [2, ["checkpoint", "approve", page, ...ka, ...data], /CHECKPOINT-ID/],
      [1, ["checkpoint", "approve", page, nopage, ...ka, ...data], /not a pending checkpoint/],
      [1, ["checkpoint", "propose", page, ...kz, ...data], /not a participant/],
      // zone
      [2, ["zone", "import", page, ...ka, ...data], /FILE/],
      [1, ["zone", "import", page, `${tmp}/none.zone`, ...ka, ...data], /no such file/],
      [1, ["zone", "import", page, `${tmp}/a.zone`, ...kz, ...data], /not a participant/],
      [1, ["zone", "import", page, `${tmp}/bad.zone`, ...ka, ...data], /nothing to add/],
      [1, ["zone", "import", nopage, `${tmp}/a.zone`, ...ka, ...data], /not in the data/],
      [1, ["zone", "export", nopage, ...data], /not in the data directory/],
      [2, ["zone", "export", page, ...ka, ...data], /--key/],
      // legacy imports
      [1, ["import", "pages", `${tmp}/nodir`, ...ka, ...data], /no such root page file/],
      [2, ["import", "deje", `${tmp}/x.json`, ...data], /--key/],
      [1, ["import", "deje", `${tmp}/a.zone`, ...ka, ...data]],
      [1, ["import", "pages", tmp, "--root", "junk.key", ...ka, ...data], /not carried/],
      // proofs
      [2, ["prove", "a.example", ...data], /--out/],
      [1, ["prove", "a.example", ...data, "--anchor", `${tmp}/none.json`, "--out", `${tmp}/p`]],
      [1, ["verify-proof", `${tmp}/none.json`], /no such file/],
      [1, ["verify-proof", `${tmp}/a.zone`], /not JSON/],
      // page show/log
      [1, ["page", "show", ...data, nopage], /not in the data directory/],
      [2, ["page", "log", ...data, "xyz"], /PAGE-ID/],
      [1, ["page", "list", "--data", `${tmp}/nodata`], /no djdns store/],
    ];
    await Deno.writeTextFile(`${tmp}/a.zone`, "$ORIGIN example.\n$TTL 60\nq A 192.0.2.9\n");
    await Deno.writeTextFile(`${tmp}/bad.zone`, "$ORIGIN example.\nq 60 HINFO a b\n");
    let before = await treeHash(tmp);
    for (const [code, args, pattern] of cases) {
      const r = await djdns(...args);
      const what = `djdns ${args.join(" ")}`;
      assert.equal(r.code, code, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout, "", `${what}: stdout ${r.stdout}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^djdns: /, what);
      if (pattern) assert.match(r.stderr, pattern, what);
      const after = await treeHash(tmp);
      assert.equal(after, before, `${what} changed the working directory`);
      before = after;
    }

    // A running node owns its data directory: the commands say so and change nothing.
    await Deno.mkdir(`${tmp}/pages`);
    await Deno.writeTextFile(`${tmp}/pages/root.json`, '{"branches": []}');
    const server = await startDjdns(["--pages", `${tmp}/pages`, ...data, "--no-upstream"]);
    try {
      const r = await djdns("propose", page, ...ka, ...data, "set", "meta.c", '"3"');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^djdns: .*data directory .* (is in use|locked|owned)/i);
      // Reading works beside it.
      assert.match(await ok("page", "show", ...data, page), /./);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("moderator commands: --help documents each", async () => {
  const cmds = ["key", "page", "propose", "approve", "delegate", "anchor", "checkpoint"];
  const results = await Promise.all(cmds.map((c) => djdns(c, "--help")));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${cmds[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: djdns ${cmds[i]}`));
  });
  assert.match(results[2].stdout, /add-record NAME TYPE RDATA/);
  const top = await djdns("--help");
  for (const c of cmds) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
});
