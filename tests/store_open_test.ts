import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  DATABASE_FILE,
  LOCK_FILE,
  openStore,
  resolveDataDir,
  SCHEMA_VERSION,
  StoreError,
} from "../lib/store/mod.ts";
import { openStoreWith } from "../lib/store/open.ts";
import { MIGRATIONS } from "../lib/store/schema.ts";
import { chain, genesis, headAt, sha256Hex } from "./fixtures/store/objects.ts";
import { spawnFixture } from "./fixtures/store/spawn.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "djdns-store-" });
}

function assertStoreError(fn: () => unknown, code: string, pattern?: RegExp): StoreError {
  let caught: StoreError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StoreError, `expected StoreError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    caught = e;
    return true;
  });
  return caught!;
}

/**
 * SHA-256 of every file in `dir` that holds data: what "nothing was changed" means. Left out:
 * the lock file, SQLite's shared-memory index (`-shm`, rebuilt from the log at every open) and
 * an empty log, which a read-only check of a database in WAL mode may create.
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (!e.isFile || e.name === LOCK_FILE || e.name.endsWith("-shm")) continue;
    if (e.name.endsWith("-wal") && Deno.statSync(path).size === 0) continue;
    out[e.name] = sha256Hex(Deno.readFileSync(path));
  }
  return out;
}

/** A closed store holding one page of `n` events; returns the page's genesis and head. */
function populated(dir: string, n: number) {
  const g = genesis(`populated-${n}`);
  const events = chain(g, n, "p");
  const store = openStore(dir);
  for (let i = 0; i < events.length; i += 500) {
    store.putBatch({ objects: i === 0 ? [g, ...events.slice(0, 500)] : events.slice(i, i + 500) });
  }
  store.setHead(headAt(events[n - 1]));
  store.close();
  return { g, head: events[n - 1] };
}

function assertIntact(dir: string, g: { id: string }, headId: string, events: number) {
  const store = openStore(dir, { integrityCheck: "full" });
  try {
    assert.equal(store.getPage(g.id)!.headId, headId);
    assert.equal(store.stats().events, events);
    assert.deepEqual(store.checkIntegrity("full"), []);
  } finally {
    store.close();
  }
}

Deno.test("store open: creates the directory and database, reopens with data", () => {
  const root = tempDir();
  const dir = `${root}/nested/data`;
  try {
    const store = openStore(dir);
    assert.equal(store.dir, dir);
    assert.equal(store.path, `${dir}/${DATABASE_FILE}`);
    assert.equal(store.stats().schemaVersion, SCHEMA_VERSION);
    store.close();
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [DATABASE_FILE, LOCK_FILE].sort(),
    );
    const db = new DatabaseSync(`${dir}/${DATABASE_FILE}`, { readOnly: true });
    const pragma = (p: string) => Object.values(db.prepare(`PRAGMA ${p}`).get() as object)[0];
    assert.equal(pragma("journal_mode"), "wal");
    assert.equal(pragma("auto_vacuum"), 2); // incremental
    assert.equal(pragma("application_id"), 0x646a646e);
    db.close();
    const { g, head } = populated(dir, 10);
    assertIntact(dir, g, head.id, 11);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("store open: a half-built database from an interrupted creation is discarded", () => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(`${dir}/${DATABASE_FILE}.new`, "interrupted");
    const store = openStore(dir);
    store.close();
    assert.equal(snapshot(dir)[`${DATABASE_FILE}.new`], undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: one owner per directory, in this process and from another", async () => {
  const dir = tempDir();
  try {
    const { g, head } = populated(dir, 3);
    const first = openStore(dir);
    const e = assertStoreError(() => openStore(dir), "locked");
    assert.equal(
      e.message,
      `data directory ${dir} is in use by another djdns process (pid ${Deno.pid}); stop it or use another --data directory`,
    );
    first.close();

    const child = spawnFixture("hold.ts", dir, {
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    });
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "ready");
    assertStoreError(() => openStore(dir), "locked", new RegExp(`\\(pid ${child.pid}\\)`));
    // A read-only opener (e.g. `djdns store stats`) does not need the lock.
    const ro = openStore(dir, { readOnly: true });
    assert.equal(ro.getPage(g.id)!.headId, head.id);
    assertStoreError(() => ro.putBatch({ objects: [] }), "read-only");
    ro.close();
    await child.stdin.close();
    assert.equal((await child.status).code, 0);
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    assertIntact(dir, g, head.id, 4);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: read-only open of a directory without a store creates nothing", () => {
  const dir = tempDir();
  try {
    assertStoreError(() => openStore(`${dir}/none`, { readOnly: true }), "not-found");
    assertStoreError(() => openStore(dir, { readOnly: true }), "not-found", /no djdns store/);
    assert.deepEqual(snapshot(dir), {});
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: a newer schema version is refused and left untouched", () => {
  const dir = tempDir();
  try {
    const { g, head } = populated(dir, 5);
    const raw = new DatabaseSync(`${dir}/${DATABASE_FILE}`);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = snapshot(dir);
    assertStoreError(
      () => openStore(dir),
      "newer-version",
      new RegExp(
        `schema version ${
          SCHEMA_VERSION + 1
        }, newer than this djdns supports \\(${SCHEMA_VERSION}\\)`,
      ),
    );
    assertStoreError(() => openStore(dir, { readOnly: true }), "newer-version");
    assert.deepEqual(snapshot(dir), before);
    const fix = new DatabaseSync(`${dir}/${DATABASE_FILE}`);
    fix.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    fix.close();
    assertIntact(dir, g, head.id, 6);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: an older schema is migrated forward, atomically", () => {
  const dir = tempDir();
  try {
    // A database written by a build whose schema stopped at version 1 …
    const v1 = openStoreWith(dir, {}, MIGRATIONS.slice(0, 1));
    const g = genesis("migrate");
    v1.putBatch({ objects: [g], heads: [headAt(g)] });
    v1.close();
    const v2 = [...MIGRATIONS.slice(0, 1), {
      version: 2,
      sql: "ALTER TABLE pages ADD COLUMN note TEXT; CREATE TABLE extra (x INTEGER);",
    }];
    // … cannot be migrated by a read-only opener …
    assertStoreError(() => openStoreWith(dir, { readOnly: true }, v2), "read-only", /migration/);
    // … a failing step is rolled back whole …
    const broken = [...MIGRATIONS.slice(0, 1), {
      version: 2,
      sql: "CREATE TABLE extra (x INTEGER); ALTER TABLE no_such_table ADD COLUMN y;",
    }];
    assert.throws(() => openStoreWith(dir, {}, broken), StoreError);
    const check = new DatabaseSync(`${dir}/${DATABASE_FILE}`, { readOnly: true });
    assert.equal(
      (check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      1,
    );
    assert.equal(
      check.prepare("SELECT name FROM sqlite_schema WHERE name = 'extra'").get(),
      undefined,
    );
    check.close();
    // … and a good one moves the data forward.
    const s = openStoreWith(dir, {}, v2);
    assert.equal(s.stats().schemaVersion, 2);
    assert.equal(s.getPage(g.id)!.headId, g.id);
    s.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: a foreign SQLite database is refused and left untouched", () => {
  const dir = tempDir();
  try {
    const raw = new DatabaseSync(`${dir}/${DATABASE_FILE}`);
    raw.exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('alice');");
    raw.close();
    const before = snapshot(dir);
    assertStoreError(() => openStore(dir), "foreign", /not a djdns store.*nothing was changed/);
    assert.deepEqual(snapshot(dir), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: garbage, empty and truncated files are refused and left untouched", () => {
  const dir = tempDir();
  const path = `${dir}/${DATABASE_FILE}`;
  try {
    Deno.writeTextFileSync(path, "this is a text file, not a database\n".repeat(200));
    let before = snapshot(dir);
    assertStoreError(() => openStore(dir), "corrupt", /not an SQLite database/);
    assert.deepEqual(snapshot(dir), before);

    Deno.writeFileSync(path, new Uint8Array(0));
    assertStoreError(() => openStore(dir), "corrupt", /truncated \(0 bytes\)/);
    assert.equal(Deno.statSync(path).size, 0);

    Deno.removeSync(path);
    populated(dir, 3000);
    const full = Deno.statSync(path).size;
    assert.ok(full > 200_000, `expected a multi-page database, got ${full} bytes`);
    Deno.truncateSync(path, Math.floor(full / 2 / 4096) * 4096);
    before = snapshot(dir);
    assertStoreError(() => openStore(dir), "corrupt", /integrity check|malformed|corrupt/);
    assertStoreError(() => openStore(dir, { readOnly: true }), "corrupt");
    assert.deepEqual(snapshot(dir), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: a damaged page is caught by the integrity check, file untouched", () => {
  const dir = tempDir();
  const path = `${dir}/${DATABASE_FILE}`;
  try {
    populated(dir, 3000);
    const bytes = Deno.readFileSync(path);
    const pages = bytes.length / 4096;
    // Scribble over one page in the middle, as a bad sector or a stray write would.
    const victim = Math.floor(pages / 2);
    let x = 12345;
    for (let i = 0; i < 4096; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[victim * 4096 + i] = x >>> 24;
    }
    Deno.writeFileSync(path, bytes);
    const before = snapshot(dir);
    const e = assertStoreError(() => openStore(dir), "corrupt", /nothing was changed/);
    assert.match(e.message, new RegExp(dir));
    assert.deepEqual(snapshot(dir), before);
    // With the check disabled the damage shows up later, still as a clear corrupt error.
    try {
      const s = openStore(dir, { integrityCheck: "none" });
      try {
        assert.ok(s.checkIntegrity().length > 0);
      } finally {
        s.close();
      }
    } catch (e) {
      assert.ok(e instanceof StoreError && e.code === "corrupt", String(e));
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: a data path that is a file is a clear error", () => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(`${dir}/file`, "x");
    assertStoreError(() => openStore(`${dir}/file`), "io", /not a directory/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store open: default data directory resolution", () => {
  const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
  assert.equal(resolveDataDir("/srv/djdns", env({ HOME: "/home/a" })), "/srv/djdns");
  assert.equal(
    resolveDataDir(undefined, env({ XDG_DATA_HOME: "/x/share/", HOME: "/home/a" })),
    "/x/share/djdns",
  );
  assert.equal(
    resolveDataDir(undefined, env({ XDG_DATA_HOME: "rel", HOME: "/home/a" })),
    "/home/a/.local/share/djdns",
  );
  assert.equal(resolveDataDir("", env({ HOME: "/home/a" })), "/home/a/.local/share/djdns");
  assert.throws(() => resolveDataDir(undefined, env({})), /--data/);
});
