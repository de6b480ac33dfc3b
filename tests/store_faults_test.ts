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

Deno.test("store faults: a real full disk (small tmpfs) refuses the batch and loses nothing", () => {
  const m = mountTmpfs("640k");
  if ("reason" in m) {
    console.log(`skipped: ${m.reason}`);
    return;
  }
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

Deno.test("store faults: a read-only file system (ro tmpfs) is a clear error, data kept", () => {
  const m = mountTmpfs("4m");
  if ("reason" in m) {
    console.log(`skipped: ${m.reason}`);
    return;
  }
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
