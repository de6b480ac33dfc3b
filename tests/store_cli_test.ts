import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  approveCheckpoint,
  createCheckpoint,
  createPageLog,
  proposeEvent,
} from "../lib/page/mod.ts";
import { DATABASE_FILE, loadPageLog, openStore, pageLogBatch } from "../lib/store/mod.ts";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";
import { sha256Hex } from "./fixtures/store/objects.ts";
import { spawnFixture } from "./fixtures/store/spawn.ts";

async function djdns(args: string[], env?: Record<string, string>) {
  if (env === undefined) return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...await djdnsTaskArgs(), ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A store with one followed page: 6 events, a checkpoint at the 4th, approvals by keys 0, 1. */
function populate(dir: string) {
  const log = createPageLog(genesisOf(3, { nonce: "cli" }));
  for (let i = 0; i < 6; i++) {
    const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
      branch: branch(`c${i}.example`),
    });
    log.addEvent(ev);
    for (const a of approvals(ev, [0, 1])) log.addApproval(a);
    if (i === 3) {
      const cp = createCheckpoint(log);
      log.addCheckpoint({
        checkpoint: cp,
        approvals: [0, 1, 2].map((k) => approveCheckpoint(key(k).secretKey, cp)),
      });
    }
  }
  const store = openStore(dir);
  store.putBatch({ ...pageLogBatch(log), follow: [{ pageId: log.pageId, following: true }] });
  store.close();
  return log;
}

Deno.test("store cli: stats and prune on a real page, stats as JSON", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    const log = populate(dir);
    let r = await djdns(["store", "stats", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^events {10}7$/m);
    assert.match(r.stdout, /^pages {11}1 \(1 followed\)$/m);
    assert.match(r.stdout, /^checkpoints {5}1 \(3 approvals\)$/m);
    r = await djdns(["store", "prune", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^${log.pageId}: removed 3 events, 8 approvals, 0 evidence`, "m"),
    );
    assert.match(r.stdout, /^database \d+ -> \d+ bytes \(1 pages\)$/m);
    r = await djdns(["store", "stats", "--json", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.events, 4); // genesis, the checkpoint's event, and the two after it
    assert.equal(s.approvals, 4);
    const store = openStore(dir);
    try {
      const reloaded = loadPageLog(store, log.pageId);
      assert.equal(reloaded.head(), log.head());
      assert.equal(reloaded.stateHash(), log.stateHash());
    } finally {
      store.close();
    }
    // Explicit page ids: an unknown page is an error for that page, exit 1.
    const unknown = "ab".repeat(32);
    r = await djdns(["store", "prune", "--data", dir, log.pageId, unknown]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${log.pageId}: removed 0 events`, "m"));
    assert.match(
      r.stderr,
      new RegExp(`^djdns: ${unknown}: page ${unknown} has no stored genesis$`, "m"),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store cli: prune refuses a directory a running node owns; stats still reads", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  const holder = spawnFixture("hold.ts", dir, { stdin: "piped", stdout: "piped" });
  try {
    populate(dir);
    const lines = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await lines.read()).value?.trim(), "ready");
    let r = await djdns(["store", "prune", "--data", dir]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `djdns: data directory ${dir} is in use by another djdns process (pid ${holder.pid}); ` +
        "stop it or use another --data directory",
    );
    r = await djdns(["store", "stats", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^events {10}7$/m);
    lines.releaseLock();
  } finally {
    await holder.stdin.close();
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store cli: damaged, foreign, newer and missing stores exit 1 and are left untouched", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  const path = `${dir}/${DATABASE_FILE}`;
  try {
    for (const cmd of ["stats", "prune"]) {
      const r = await djdns(["store", cmd, "--data", `${dir}/none`]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), `djdns: no djdns store in ${dir}/none`);
    }
    assert.throws(() => Deno.statSync(`${dir}/none`), Deno.errors.NotFound);

    Deno.writeTextFileSync(path, "not a database\n".repeat(100));
    for (const cmd of ["stats", "prune"]) {
      const r = await djdns(["store", cmd, "--data", dir]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^djdns: .*djdns\.db is not an SQLite database .*nothing was changed\n$/,
      );
    }
    assert.equal(Deno.readTextFileSync(path), "not a database\n".repeat(100));

    Deno.removeSync(path);
    populate(dir);
    const raw = new DatabaseSync(path);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    const hash = sha256Hex(Deno.readFileSync(path));
    const r = await djdns(["store", "prune", "--data", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /schema version 99, newer than this djdns supports .* upgrade djdns/);
    assert.equal(sha256Hex(Deno.readFileSync(path)), hash);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store cli: verify and repair on a sound store; help names every command and exit status", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    for (const cmd of ["verify", "repair"]) {
      const r = await djdns(["store", cmd, "--data", `${dir}/none`]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), `djdns: no djdns store in ${dir}/none`);
    }
    assert.throws(() => Deno.statSync(`${dir}/none`), Deno.errors.NotFound);
    populate(dir);
    const hash = sha256Hex(Deno.readFileSync(`${dir}/${DATABASE_FILE}`));
    let r = await djdns(["store", "verify", "--data", dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, "checked 23 object(s) and 1 page(s): 0 damaged record(s)\n");
    r = await djdns(["store", "verify", "--json", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      objects: 23,
      pages: 1,
      structure: [],
      damaged: 0,
      damage: [],
    });
    r = await djdns(["store", "repair", "--data", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "no damage found; nothing changed\n");
    assert.equal(sha256Hex(Deno.readFileSync(`${dir}/${DATABASE_FILE}`)), hash);
    r = await djdns(["store", "--help"]);
    assert.equal(r.code, 0);
    for (const cmd of ["stats", "prune", "verify", "repair"]) {
      assert.match(r.stdout, new RegExp(`^(Usage:| {6}) djdns store ${cmd} `, "m"));
    }
    assert.match(r.stdout, /^Exit status: 0 done \(verify: no damage found\), 1 damage found/m);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store cli: default data directory from XDG_DATA_HOME, bad arguments exit 2", async () => {
  const xdg = Deno.makeTempDirSync({ prefix: "djdns-xdg-" });
  try {
    populate(`${xdg}/djdns`);
    const r = await djdns(["store", "stats"], { XDG_DATA_HOME: xdg, HOME: "/nonexistent" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^data directory  ${xdg}/djdns$`, "m"));
    const none = await djdns(["store", "stats"], { HOME: "", XDG_DATA_HOME: "" });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^djdns: no data directory: .*pass --data DIR/);
  } finally {
    Deno.removeSync(xdg, { recursive: true });
  }
  for (
    const args of [
      ["store"],
      ["store", "frob"],
      ["store", "stats", "extra"],
      ["store", "prune", "not-a-page-id"],
      ["store", "prune", "--json"],
      ["store", "stats", "--bogus"],
      ["store", "stats", "--data"],
      ["store", "verify", "extra"],
      ["store", "repair", "--json"],
      ["store", "repair", "ab".repeat(32)],
      ["store", "verify", "--full"],
    ]
  ) {
    const r = await djdns(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^djdns: .*\(see 'djdns store --help'\)\n$/);
  }
});
