/**
 * Damage inside stored records (not SQLite's b-tree: its checks still say ok): one byte changed
 * in the real database file, under an event, an approval, a page's materialized state and a
 * pruned page's root state. Every reader refuses it by name and writes nothing; `djdns store
 * verify` lists it, `djdns store repair` drops it, and a re-import restores the page.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import {
  approveCheckpoint,
  canonicalize,
  createCheckpoint,
  createPageLog,
  encodeObject,
  objectId,
  type PageLog,
  proposeEvent,
} from "../lib/page/mod.ts";
import {
  type Damage,
  DATABASE_FILE,
  loadPageLog,
  openStore,
  pageLogBatch,
  prunePage,
  type StoredObject,
  StoreError,
} from "../lib/store/mod.ts";
import { digest } from "../lib/store/integrity.ts";
import { dig, djdnsTaskArgs, run, startDjdns } from "./helpers/djdns.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";
import {
  approval,
  chain,
  checkpoint,
  genesis,
  headAt,
  sha256Hex,
} from "./fixtures/store/objects.ts";
import { prng } from "./helpers/prng.ts";

async function djdns(...args: string[]) {
  return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
}

/** A page of `n` events, each approved by keys 0 and 1 of 3; a checkpoint at `checkpointAt`. */
function history(n: number, nonce: string, checkpointAt?: number): PageLog {
  const log = createPageLog(genesisOf(3, { nonce }));
  for (let i = 0; i < n; i++) {
    const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
      branch: branch(`h${i}.${nonce}.example`),
    });
    log.addEvent(ev);
    for (const a of approvals(ev, [0, 1])) log.addApproval(a);
    if (i === checkpointAt) {
      const cp = createCheckpoint(log);
      log.addCheckpoint({
        checkpoint: cp,
        approvals: [0, 1, 2].map((k) => approveCheckpoint(key(k).secretKey, cp)),
      });
    }
  }
  return log;
}

/** Writes the page's objects as a bundle file (what `djdns page export` prints). */
function writeBundle(dir: string, log: PageLog, name: string): string {
  const dec = new TextDecoder();
  const objects = (pageLogBatch(log).objects ?? []).map((o) => JSON.parse(dec.decode(o.bytes)));
  const path = `${dir}/${name}.json`;
  Deno.writeTextFileSync(path, JSON.stringify(objects));
  return path;
}

/**
 * Changes one byte of `record` where it lies in the closed database file at `path`: in the middle
 * of a 48-byte window of it that occurs exactly once in the file and in none of the `others`
 * records (so the byte changed is this record's). `how`: flip the lowest bit, or write 0xff (no
 * longer UTF-8).
 */
function damageFile(
  path: string,
  record: Uint8Array | string,
  how: "flip" | "not-utf8",
  others: (Uint8Array | string)[],
): void {
  // Rebuild the file first so that no stale copy of a record lingers on a free page.
  const raw = new DatabaseSync(path);
  raw.exec("VACUUM");
  raw.close();
  const bytes = Buffer.from(record);
  const elsewhere = others.map((o) => Buffer.from(o));
  const file = Buffer.from(Deno.readFileSync(path));
  for (let off = 0; off + 48 <= bytes.length; off += 4) {
    const window = bytes.subarray(off, off + 48);
    if (elsewhere.some((o) => o.indexOf(window) >= 0)) continue;
    const at = file.indexOf(window);
    if (at < 0 || file.indexOf(window, at + 1) >= 0) continue;
    const pos = at + 24;
    const f = Deno.openSync(path, { write: true });
    try {
      f.seekSync(pos, Deno.SeekMode.Start);
      f.writeSync(Uint8Array.of(how === "flip" ? file[pos] ^ 0x01 : 0xff));
    } finally {
      f.close();
    }
    return;
  }
  throw new Error("no window of the record occurs exactly once in the file");
}

/** The canonical bytes of every object of `log` but `except`, and its head state. */
function everythingBut(log: PageLog, except?: Uint8Array): (Uint8Array | string)[] {
  const out: (Uint8Array | string)[] = (pageLogBatch(log).objects ?? []).map((o) => o.bytes)
    .filter((b) => except === undefined || Buffer.compare(b, except) !== 0);
  out.push(canonicalize(log.state()));
  return out;
}

/** SQLite's own checks: the damage is inside a record, so both say ok. */
function assertSqliteSaysOk(path: string): void {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    for (const pragma of ["quick_check", "integrity_check"]) {
      assert.deepEqual(
        (db.prepare(`PRAGMA ${pragma}`).all() as Record<string, string>[]).map((r) =>
          Object.values(r)[0]
        ),
        ["ok"],
      );
    }
  } finally {
    db.close();
  }
}

function fileHash(path: string): string {
  return sha256Hex(Deno.readFileSync(path));
}

function damagedMessage(dir: string, what: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `database ${esc(dir)}/djdns\\.db is damaged: ${what}.*; run 'djdns store verify --data ` +
      `${esc(dir)}' to list the damage and 'djdns store repair --data ${esc(dir)}' to drop it, ` +
      "then re-import the affected pages — nothing was changed",
  );
}

Deno.test("store damage: one byte changed in a stored event is refused everywhere by name; run withholds its page; verify, repair, re-import", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-damage-" });
  const db = `${dir}/${DATABASE_FILE}`;
  try {
    const a = history(40, "damaged");
    const b = history(3, "unrelated");
    const bundleA = writeBundle(dir, a, "a");
    const bundleB = writeBundle(dir, b, "b");
    let r = await djdns("page", "import", "--data", dir, bundleA, bundleB);
    assert.equal(r.code, 0, r.stderr);

    const victim = a.events()[9];
    const id = objectId(victim);
    damageFile(db, encodeObject(victim), "flip", [
      ...everythingBut(a, encodeObject(victim)),
      ...everythingBut(b),
    ]);
    assertSqliteSaysOk(db);
    const refused = damagedMessage(
      dir,
      `event ${id} of page ${a.pageId}: its bytes do not hash to its id`,
    );
    const before = fileHash(db);

    // Every command that reads the store refuses it, naming the event and the page.
    for (
      const args of [
        ["page", "show", "--data", dir, a.pageId],
        ["page", "import", "--data", dir, bundleB],
        ["page", "import", "--data", dir, bundleA],
        ["store", "stats", "--data", dir],
        ["store", "prune", "--data", dir],
      ]
    ) {
      r = await djdns(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}`);
      assert.match(r.stderr, refused, args.join(" "));
    }
    assert.equal(fileHash(db), before, "nothing was written");

    // The node opens without reading every record: it answers at once from the pages' verified
    // states, finds the damage in the background, and withholds that page only.
    const pages = `${dir}/pages`;
    Deno.mkdirSync(pages);
    Deno.writeTextFileSync(
      `${pages}/root.json`,
      JSON.stringify({
        branches: [
          { selector: "\\.damaged\\.example$", targets: [`djdns:${a.pageId}`] },
          { selector: "\\.unrelated\\.example$", targets: [`djdns:${b.pageId}`] },
        ],
      }),
    );
    const server = await startDjdns([
      "--pages",
      pages,
      "--data",
      dir,
      "--no-upstream",
      "--metrics",
      "127.0.0.1:0",
    ]);
    try {
      r = await dig(server.port, "h1.unrelated.example", "A");
      assert.match(r.stdout, /status: NOERROR/, r.stdout);
      assert.match(r.stdout, /h1\.unrelated\.example\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1/);
      const logged = new RegExp(
        `store damage: event ${id} of page ${a.pageId}: its bytes do not hash to its id; page ` +
          `${a.pageId} is no longer served .*'djdns store verify --data ${dir}'.*` +
          `'djdns store repair --data ${dir}'`,
      );
      for (const t0 = Date.now(); !logged.test(server.log());) {
        assert.ok(Date.now() - t0 < 20_000, `no damage logged:\n${server.log()}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      for (const name of ["h1.damaged.example", "h39.damaged.example"]) {
        r = await dig(server.port, name, "A");
        assert.match(r.stdout, /status: SERVFAIL/, `${name}: ${r.stdout}`);
      }
      r = await dig(server.port, "h2.unrelated.example", "A");
      assert.match(r.stdout, /status: NOERROR/, r.stdout);
      const url = /metrics and status page on \S*?(http:\/\/[^\s"]+)/.exec(server.log())![1];
      for (const t0 = Date.now();;) {
        const text = await (await fetch(`${url}metrics`)).text();
        assert.match(text, /^djdns_store_damaged_records 1$/m);
        if (/^djdns_store_check_complete 1$/m.test(text)) break;
        assert.ok(Date.now() - t0 < 20_000, "the background check never completed");
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.match(server.log(), /1 damaged record\(s\) in 1 page\(s\), not served/);
    } finally {
      const status = await server.stop();
      assert.equal(status.code, 0, server.log());
    }
    assert.equal(fileHash(db), before, "the node wrote nothing");

    r = await djdns("store", "verify", "--data", dir);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("damaged:")), [
      `damaged: event ${id} of page ${a.pageId}: its bytes do not hash to its id`,
    ]);
    assert.match(r.stdout, /^checked 131 object\(s\) and 2 page\(s\): 1 damaged record\(s\)$/m);
    assert.match(r.stdout, /djdns store repair --data /);
    assert.equal(fileHash(db), before, "verify writes nothing");

    r = await djdns("store", "repair", "--data", dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^dropped event ${id} of page ${a.pageId}: its bytes do not hash to its id$`, "m"),
    );
    assert.match(r.stdout, new RegExp(`^cleared page ${a.pageId}: head and state dropped;`, "m"));
    assert.match(r.stdout, /^repaired: dropped 1 object\(s\), cleared 1 page\(s\)$/m);
    r = await djdns("store", "verify", "--data", dir);
    assert.equal(r.code, 0, r.stdout);
    r = await djdns("store", "repair", "--data", dir);
    assert.match(r.stdout, /^no damage found; nothing changed$/m);

    // The page is no longer served from damaged bytes; the full history comes back in.
    r = await djdns("page", "import", "--data", dir, bundleA, bundleB);
    assert.equal(r.code, 0, r.stderr);
    r = await djdns("page", "show", "--json", "--data", dir, a.pageId);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(r.stdout);
    assert.equal(shown.head, a.head());
    assert.equal(shown.stateHash, a.stateHash());
    assert.ok(shown.events.every((e: { status: string }) => e.status === "accepted"));
    r = await djdns("store", "verify", "--json", "--data", dir);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(JSON.parse(r.stdout), {
      objects: 121 + 10,
      pages: 2,
      structure: [],
      damaged: 0,
      damage: [],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store damage: an approval that is no longer UTF-8 JSON is named, with its page", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-damage-" });
  const db = `${dir}/${DATABASE_FILE}`;
  try {
    const log = history(6, "approval");
    let store = openStore(dir);
    store.putBatch({ ...pageLogBatch(log), follow: [{ pageId: log.pageId, following: true }] });
    store.close();
    const victim = log.approvals(objectId(log.events()[2]))[1];
    const id = objectId(victim);
    damageFile(db, encodeObject(victim), "not-utf8", everythingBut(log, encodeObject(victim)));
    assertSqliteSaysOk(db);
    const before = fileHash(db);
    const named = damagedMessage(
      dir,
      `approval ${id} of page ${log.pageId}: its bytes do not hash to its id and are not ` +
        "UTF-8 JSON",
    );
    for (const options of [{}, { readOnly: true }, { create: false }]) {
      assert.throws(() => openStore(dir, options), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, "damaged");
        assert.match(e.message, named);
        return true;
      });
    }
    // Read back without the check at open: the read itself refuses the record.
    store = openStore(dir, { checkRecords: false });
    try {
      assert.throws(() => loadPageLog(store, log.pageId), (e: unknown) => {
        assert.ok(e instanceof StoreError && e.code === "damaged", String(e));
        assert.match(e.message, named);
        return true;
      });
      assert.throws(() => store.approvalsOf(objectId(log.events()[2])), StoreError);
      assert.equal(store.getPage(log.pageId)!.headId, log.head(), "the state itself is sound");
    } finally {
      store.close();
    }
    assert.equal(fileHash(db), before);
    const r = await djdns("store", "stats", "--data", dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, named);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store damage: a changed byte in a page's materialized state; repair drops the state only", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-damage-" });
  const db = `${dir}/${DATABASE_FILE}`;
  try {
    const log = history(30, "state");
    const batch = { ...pageLogBatch(log), follow: [{ pageId: log.pageId, following: true }] };
    let store = openStore(dir);
    store.putBatch(batch);
    const state = store.getPage(log.pageId)!.state!;
    store.close();
    damageFile(db, state, "flip", everythingBut(log).slice(0, -1));
    assertSqliteSaysOk(db);
    assert.throws(() => openStore(dir, { readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof StoreError && e.code === "damaged", String(e));
      assert.match(
        e.message,
        damagedMessage(
          dir,
          `the materialized state of page ${log.pageId}: its state does not hash to its state hash`,
        ),
      );
      return true;
    });
    store = openStore(dir, { checkRecords: false });
    try {
      assert.throws(() => store.listPages(), /materialized state of page .* does not hash/);
      const found: unknown[] = [];
      const v = store.verify((d) => found.push(d));
      assert.deepEqual(found, [{
        what: "state",
        pageId: log.pageId,
        problem: "its state does not hash to its state hash",
      }]);
      assert.equal(v.objects, 91);
      const r = store.repair();
      assert.deepEqual(r, { droppedObjects: [], clearedPages: [log.pageId], clearedRoots: [] });
      const page = store.getPage(log.pageId)!;
      assert.equal(page.headId, null);
      assert.equal(page.state, null);
      assert.equal(page.objects, 91, "every object kept");
      assert.equal(store.verify().damaged, 0);
      // The page's state comes back from its own objects, re-verified by the page module.
      const reloaded = loadPageLog(store, log.pageId);
      assert.equal(reloaded.stateHash(), log.stateHash());
      store.putBatch(pageLogBatch(reloaded));
    } finally {
      store.close();
    }
    store = openStore(dir, { integrityCheck: "full" });
    try {
      assert.equal(store.getPage(log.pageId)!.stateHash, log.stateHash());
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store damage: a pruned page's root state is held to its checkpoint's commitment", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-damage-" });
  const db = `${dir}/${DATABASE_FILE}`;
  try {
    const log = history(8, "root", 4);
    let store = openStore(dir);
    store.putBatch({ ...pageLogBatch(log), follow: [{ pageId: log.pageId, following: true }] });
    const cp = log.checkpoints()[0].checkpoint;
    assert.equal(prunePage(store, log.pageId).anchorId, cp.event);
    const rootState = store.rootOf(log.pageId)!.state;
    store.close();
    damageFile(db, rootState, "flip", everythingBut(log));
    assertSqliteSaysOk(db);
    assert.throws(
      () => openStore(dir),
      damagedMessage(
        dir,
        `the root state of page ${log.pageId}: its root state does not hash to the state hash ` +
          "its checkpoint commits to",
      ),
    );
    store = openStore(dir, { checkRecords: false });
    try {
      assert.throws(() => store.rootOf(log.pageId), /root state of page/);
      const r = store.repair();
      assert.deepEqual(r, {
        droppedObjects: [],
        clearedPages: [log.pageId],
        clearedRoots: [log.pageId],
      });
      assert.equal(store.rootOf(log.pageId), undefined);
      assert.equal(store.verify().damaged, 0);
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store damage: verify finds every damaged record of a 100,000-event store, repair drops exactly those", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-damage-" });
  const db = `${dir}/${DATABASE_FILE}`;
  try {
    const PAGES = 10;
    const rand = prng(14);
    const pages: { g: StoredObject; events: StoredObject[] }[] = [];
    let store = openStore(dir);
    for (let p = 0; p < PAGES; p++) {
      const g = genesis(`large-${p}`);
      const events = chain(g, 10_000, `large-${p}`);
      const votes = events.filter((_, i) => i % 10 === 0).map((e) => approval(e, "alice"));
      const last = events[events.length - 1];
      store.putBatch({
        objects: [g, ...events, ...votes],
        heads: [headAt(last)],
        follow: [{ pageId: g.id, following: true }],
      });
      pages.push({ g, events });
    }
    // One more page, pruned, so that it has a root state to damage.
    const rootedGenesis = genesis("large-rooted");
    const rootedEvents = chain(rootedGenesis, 100, "large-rooted");
    const anchor = rootedEvents[90];
    store.putBatch({
      objects: [rootedGenesis, ...rootedEvents, checkpoint(anchor)],
      heads: [headAt(rootedEvents[99])],
    });
    store.prune(rootedGenesis.id, { anchorState: headAt(anchor).state });
    const rooted = { g: rootedGenesis, events: rootedEvents };
    pages.unshift(rooted);
    const total = store.stats();
    store.close();

    // Damage through a raw connection, as a disk would: the store is not asked.
    const raw = new DatabaseSync(db);
    const expected = new Set<string>();
    const seqs = (raw.prepare("SELECT seq FROM objects").all() as { seq: number }[]).map((r) =>
      r.seq
    );
    const picked = new Set<number>();
    while (picked.size < 60) picked.add(seqs[Math.floor(rand() * seqs.length)]);
    const row = raw.prepare("SELECT id, bytes FROM objects WHERE seq = ?");
    let n = 0;
    for (const seq of picked) {
      const r = row.get(seq) as { id: Uint8Array; bytes: Uint8Array };
      const bytes = new Uint8Array(r.bytes);
      const id = new Uint8Array(r.id);
      const at = Math.floor(rand() * bytes.length);
      switch (n++ % 4) {
        case 0:
          bytes[at] ^= 1 << Math.floor(rand() * 8);
          raw.prepare("UPDATE objects SET bytes = ? WHERE seq = ?").run(bytes, seq);
          break;
        case 1:
          bytes[at] = 0xff;
          raw.prepare("UPDATE objects SET bytes = ? WHERE seq = ?").run(bytes, seq);
          break;
        case 2:
          id[Math.floor(rand() * 32)] ^= 0x10;
          raw.prepare("UPDATE objects SET id = ? WHERE seq = ?").run(id, seq);
          break;
        default:
          raw.prepare(
            "UPDATE objects SET bytes = substr(bytes, 1, length(bytes) - 1) WHERE seq = ?",
          )
            .run(seq);
      }
      expected.add(`object ${id.toHex()}`);
    }
    const pageRow = raw.prepare("SELECT pno, state, state_hash FROM pages WHERE page_id = ?");
    const setPage = (sql: string, ...args: (Uint8Array | string | number)[]) =>
      raw.prepare(`UPDATE pages SET ${sql} WHERE pno = ?`).run(...args);
    for (const [i, how] of ["state", "state_hash", "head", "root_state"].entries()) {
      const pageId = pages[how === "root_state" ? 0 : i + 1].g.id;
      const r = pageRow.get(Uint8Array.fromHex(pageId)) as {
        pno: number;
        state: string;
        state_hash: Uint8Array;
      };
      if (how === "state") setPage("state = ?", r.state.replace("head", "haed"), r.pno);
      if (how === "state_hash") {
        const h = new Uint8Array(r.state_hash);
        h[7] ^= 1;
        setPage("state_hash = ?", h, r.pno);
      }
      if (how === "head") setPage("head = ?", digest("no such event"), r.pno);
      if (how === "root_state") setPage("root_state = root_state || ' '", r.pno);
      expected.add(`${how === "root_state" ? "root" : "state"} ${pageId}`);
    }
    raw.close();
    assertSqliteSaysOk(db);

    assert.throws(() => openStore(dir, { readOnly: true }), (e: unknown) => {
      assert.ok(e instanceof StoreError && e.code === "damaged", String(e));
      assert.match(e.message, new RegExp(`\\(and ${expected.size - 1} more damaged records\\)`));
      return true;
    });
    store = openStore(dir, { checkRecords: false });
    try {
      const found: Damage[] = [];
      const v = store.verify((d) => found.push(d));
      const key = (d: Damage) =>
        d.objectId === undefined ? `${d.what} ${d.pageId}` : `object ${d.objectId}`;
      assert.deepEqual(new Set(found.map(key)), expected);
      assert.equal(found.length, expected.size, "each damage reported once");
      assert.equal(v.damaged, expected.size);
      assert.equal(v.objects, total.events + total.approvals + total.checkpoints);
      assert.equal(total.events, PAGES * 10_001 + 11, "100,000 events and more");

      const r = store.repair();
      assert.deepEqual(
        new Set(r.droppedObjects.map(key)),
        new Set([...expected].filter((k) => k.startsWith("object "))),
      );
      const touched = new Set([
        ...found.map((d) => d.pageId),
      ]);
      assert.deepEqual(new Set(r.clearedPages), touched);
      assert.deepEqual(r.clearedRoots, [rooted.g.id]);
      const after = store.stats();
      assert.equal(
        after.events + after.approvals + after.checkpoints,
        v.objects - r.droppedObjects.length,
      );
      assert.equal(store.verify().damaged, 0);
      for (const page of r.clearedPages) assert.equal(store.getPage(page)!.headId, null);
    } finally {
      store.close();
    }
    // Sound again: every check at open passes.
    openStore(dir, { integrityCheck: "full" }).close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
