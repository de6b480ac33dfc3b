import assert from "node:assert/strict";
import { openStore, type Store, StoreError } from "../lib/store/mod.ts";
import { BATCH_EVENTS, CRASH_PAGE } from "./fixtures/store/crash_writer.ts";
import { chain, genesis, headAt } from "./fixtures/store/objects.ts";
import { spawnFixture } from "./fixtures/store/spawn.ts";

function run(cmd: string, ...args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, out: String(e) };
  }
}

/** Mounts a tmpfs of `size` on a new directory; returns it, or a reason it could not. */
function mountTmpfs(size: string): { dir: string } | { reason: string } {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-mnt-" });
  const r = run("mount", "-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir);
  if (r.ok) return { dir };
  Deno.removeSync(dir);
  return { reason: `cannot mount a tmpfs (${r.out || "mount failed"}); needs root` };
}

function unmount(dir: string): void {
  const r = run("umount", dir);
  assert.ok(r.ok, `umount ${dir}: ${r.out}`);
  Deno.removeSync(dir);
}

/** Why the tests on a real tmpfs cannot run here (not root, no mount), or null when they can. */
function tmpfsMissing(): string | null {
  // DJDNS_TEST_WITHOUT=tmpfs: act as a machine without (see tests/helpers/preconditions.ts).
  const without = (Deno.env.get("DJDNS_TEST_WITHOUT") ?? "").split(",").map((s) => s.trim());
  if (without.includes("tmpfs") || without.includes("root")) return "DJDNS_TEST_WITHOUT";
  const m = mountTmpfs("64k");
  if ("reason" in m) return m.reason;
  unmount(m.dir);
  return null;
}

const NO_TMPFS = tmpfsMissing();
if (NO_TMPFS !== null) console.log(`store faults: tmpfs tests ignored: ${NO_TMPFS}`);

/** Mounts a tmpfs of `size` for a test that is ignored when tmpfs is missing. */
function tmpfs(size: string): string {
  const m = mountTmpfs(size);
  if ("reason" in m) throw new Error(m.reason);
  return m.dir;
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * Writes batches of BATCH_EVENTS events on one page until the store reports a full disk.
 * Returns the page, its last committed event and the number of committed batches.
 */
function fillUntilFull(store: Store) {
  const g = genesis("full-disk");
  store.putBatch({ objects: [g], heads: [headAt(g)], follow: [{ pageId: g.id, following: true }] });
  let last = g;
  let batches = 0;
  for (let n = 0; n < 100_000; n++) {
    const events = chain(last, BATCH_EVENTS, `full-${n}`);
    try {
      store.putBatch({ objects: events, heads: [headAt(events[events.length - 1])] });
    } catch (e) {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.code, "full", e.message);
      assert.match(
        e.message,
        /disk full while storing a batch in .*nothing from this operation was stored/,
      );
      return { g, last, batches };
    }
    last = events[events.length - 1];
    batches++;
  }
  throw new Error("the disk never filled");
}

function assertHolds(store: Store, g: { id: string }, last: { id: string }, batches: number) {
  assert.deepEqual(store.checkIntegrity("full"), []);
  assert.equal(store.getPage(g.id)!.headId, last.id);
  assert.equal(store.stats().events, 1 + batches * BATCH_EVENTS);
}

Deno.test({
  name: "store faults: a real full disk (small tmpfs) refuses the batch and loses nothing",
  ignore: NO_TMPFS !== null,
}, () => {
  const m = { dir: tmpfs("640k") };
  try {
    const dir = `${m.dir}/data`;
    const store = openStore(dir);
    const { g, last, batches } = fillUntilFull(store);
    assert.ok(batches > 5, `only ${batches} batches fit`);
    // Still readable, and a retry fails the same clean way.
    assertHolds(store, g, last, batches);
    assert.throws(
      () => store.putBatch({ objects: chain(last, BATCH_EVENTS, "retry") }),
      (e: unknown) => e instanceof StoreError && e.code === "full",
    );
    store.close();
    // Reopening on the still-full disk works and holds every committed batch.
    const full = openStore(dir, { integrityCheck: "full" });
    assertHolds(full, g, last, batches);
    full.close();
    // Once space is freed, writing resumes.
    assert.ok(run("mount", "-o", "remount,size=4m", m.dir).ok);
    const roomy = openStore(dir);
    try {
      const more = chain(last, BATCH_EVENTS, "after");
      roomy.putBatch({ objects: more, heads: [headAt(more[more.length - 1])] });
      assertHolds(roomy, g, more[more.length - 1], batches + 1);
    } finally {
      roomy.close();
    }
  } finally {
    unmount(m.dir);
  }
});

Deno.test({
  name:
    "store faults: creating the store with 40-80 KiB free: the real error, no broken file left, " +
    "and it opens once space is freed",
  ignore: NO_TMPFS !== null,
}, () => {
  for (const freeKiB of [40, 52, 64, 80]) {
    const mnt = tmpfs("100k");
    try {
      Deno.writeFileSync(`${mnt}/filler`, new Uint8Array((100 - freeKiB) * 1024));
      const dir = `${mnt}/data`;
      assert.throws(() => openStore(dir), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, "full", `${freeKiB} KiB free: ${e.message}`);
        // Either creation ran out of space (nothing is left), or the complete new store could
        // not get its write-ahead log files when opened (it is left, whole).
        assert.match(
          e.message,
          new RegExp(
            `^disk full while (creating the database ${dir}/djdns\\.db: no store was created ` +
              `and nothing was left behind; free some space and try again|opening in ${dir}/)`,
          ),
        );
        return true;
      });
      const left = names(dir);
      assert.ok(
        left.join() === "LOCK" || left.includes("djdns.db"),
        `${freeKiB} KiB free: ${left}`,
      );
      assert.deepEqual(left.filter((n) => n.includes(".new")), [], `${freeKiB} KiB free`);
      // Whatever is left opens once space is freed: no djdns.db that every later command would
      // call corrupt.
      Deno.removeSync(`${mnt}/filler`);
      assert.ok(run("mount", "-o", "remount,size=4m", mnt).ok);
      const store = openStore(dir);
      const g = genesis(`free-${freeKiB}`);
      const events = chain(g, 20, "after");
      try {
        store.putBatch({ objects: [g, ...events], heads: [headAt(events[19])] });
      } finally {
        store.close();
      }
      const again = openStore(dir, { integrityCheck: "full" });
      try {
        assert.equal(again.getPage(g.id)!.headId, events[19].id);
      } finally {
        again.close();
      }
    } finally {
      unmount(mnt);
    }
  }
});

Deno.test({
  name: "store faults: the first import on a 100 KiB tmpfs fails cleanly; once space is freed " +
    "the store opens and takes the import",
  ignore: NO_TMPFS !== null,
}, () => {
  const mnt = tmpfs("100k");
  try {
    const dir = `${mnt}/data`;
    const g = genesis("first-import");
    const events = chain(g, 200, "first");
    const batch = { objects: [g, ...events], heads: [headAt(events[199])] };
    assert.throws(() => {
      const store = openStore(dir);
      try {
        store.putBatch(batch);
      } finally {
        store.close();
      }
    }, (e: unknown) => e instanceof StoreError && e.code === "full");
    assert.deepEqual(names(dir).filter((n) => n.includes(".new")), []);
    assert.ok(run("mount", "-o", "remount,size=4m", mnt).ok);
    const store = openStore(dir, { integrityCheck: "full" });
    try {
      store.putBatch(batch);
      assert.equal(store.getPage(g.id)!.headId, events[199].id);
      assert.equal(store.stats().events, 201);
    } finally {
      store.close();
    }
  } finally {
    unmount(mnt);
  }
});

Deno.test("store faults: the SQLite size cap (max_page_count) behaves like a full disk", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    const store = openStore(dir, { maxDatabasePages: 80 });
    const { g, last, batches } = fillUntilFull(store);
    assert.ok(batches > 3, `only ${batches} batches fit`);
    assertHolds(store, g, last, batches);
    store.close();
    const uncapped = openStore(dir, { integrityCheck: "full" });
    try {
      assertHolds(uncapped, g, last, batches);
      const more = chain(last, BATCH_EVENTS, "after");
      uncapped.putBatch({ objects: more, heads: [headAt(more[more.length - 1])] });
      assertHolds(uncapped, g, more[more.length - 1], batches + 1);
    } finally {
      uncapped.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "store faults: a read-only file system (ro tmpfs) is a clear error, data kept",
  ignore: NO_TMPFS !== null,
}, () => {
  const m = { dir: tmpfs("4m") };
  try {
    const dir = `${m.dir}/data`;
    const g = genesis("ro");
    const events = chain(g, 50, "ro");
    const store = openStore(dir);
    store.putBatch({ objects: [g, ...events], heads: [headAt(events[49])] });
    store.close();
    const remount = run("mount", "-o", "remount,ro", m.dir);
    assert.ok(remount.ok, remount.out);
    // Root ignores permission bits, but not a read-only mount.
    assert.throws(() => Deno.writeTextFileSync(`${m.dir}/probe`, "x"));
    assert.throws(
      () => openStore(dir),
      (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.equal(e.code, "read-only", e.message);
        assert.match(
          e.message,
          new RegExp(`data directory ${dir} is not writable.*writable --data`),
        );
        return true;
      },
    );
    // A read-only open either reads the data or says clearly why it cannot.
    try {
      const ro = openStore(dir, { readOnly: true });
      try {
        assert.equal(ro.getPage(g.id)!.headId, events[49].id);
      } finally {
        ro.close();
      }
    } catch (e) {
      assert.ok(e instanceof StoreError && /read-only file system\?\)$/.test(e.message), String(e));
      console.log(`read-only open on a read-only mount: ${e.message}`);
    }
    assert.ok(run("mount", "-o", "remount,rw", m.dir).ok);
    const back = openStore(dir, { integrityCheck: "full" });
    try {
      assert.equal(back.getPage(g.id)!.headId, events[49].id);
      assert.equal(back.stats().events, 51);
    } finally {
      back.close();
    }
  } finally {
    unmount(m.dir);
  }
});

Deno.test("store faults: a concurrent reader never sees a half-applied batch", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  const child = spawnFixture("crash_writer.ts", dir, { stdout: "piped", stderr: "inherit" });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    // Wait for the first commit so the page exists.
    let seen = "";
    while (!/committed 1\b/.test(seen)) {
      const { value, done } = await lines.read();
      assert.ok(!done, "writer exited");
      seen += value;
    }
    const drain = (async () => {
      while (!(await lines.read()).done) { /* keep the pipe flowing */ }
    })();
    const reader = openStore(dir, { readOnly: true });
    const counts = new Set<number>();
    let polls = 0;
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const s = reader.stats();
        // One snapshot: every batch adds BATCH_EVENTS events and one approval together.
        assert.equal(s.events - 1, s.approvals * BATCH_EVENTS, `torn read: ${JSON.stringify(s)}`);
        const p = reader.getPage(CRASH_PAGE.id)!;
        assert.equal((p.objects - 1) % (BATCH_EVENTS + 1), 0, `torn page row: ${p.objects}`);
        const head = reader.getObject(p.headId!, "event");
        assert.ok(head, "head names a stored event");
        counts.add(s.approvals);
        polls++;
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      reader.close();
    }
    assert.ok(counts.size >= 3, `only ${counts.size} distinct states seen in ${polls} polls`);
    child.kill("SIGKILL");
    await child.status;
    await drain;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already dead */ }
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
});
