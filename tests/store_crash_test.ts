import assert from "node:assert/strict";
import { openStore } from "../lib/store/mod.ts";
import { BATCH_EVENTS, CRASH_PAGE } from "./fixtures/store/crash_writer.ts";
import { headAt } from "./fixtures/store/objects.ts";
import { prng } from "./helpers/prng.ts";
import { spawnFixture } from "./fixtures/store/spawn.ts";

const KILLS = 50;
const SEED = Number(Deno.env.get("STORE_CRASH_SEED") ?? 20251125);

/**
 * Runs the writer and kills it with SIGKILL `delayMs` after `from`: its spawn (the kill may land
 * in creation, open or the write loop, whatever the machine's load), or its first "committed"
 * report (the kill lands in the write loop, after at least one commit, however slowly the writer
 * started). Returns its log.
 */
async function runAndKill(
  dir: string,
  from: "spawn" | "committed",
  delayMs: number,
): Promise<string[]> {
  const child = spawnFixture("crash_writer.ts", dir, { stdout: "piped", stderr: "piped" });
  const stderr = new Response(child.stderr).text();
  let out = "";
  const committed = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (/^committed \d+$/m.test(out)) committed.resolve();
    }
    committed.reject(new Error("the writer's output ended before it committed"));
  })();
  if (from === "committed") {
    const timer = setTimeout(() => committed.reject(new Error("no commit within 120 s")), 120_000);
    try {
      await committed.promise;
    } catch (e) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      throw new Error(`${(e as Error).message}: ${await stderr}`);
    } finally {
      clearTimeout(timer);
    }
  }
  committed.promise.catch(() => {});
  await new Promise((r) => setTimeout(r, delayMs));
  try {
    child.kill("SIGKILL");
  } catch { /* it may have died on its own; the status tells */ }
  const status = await child.status;
  await reading;
  const err = await stderr;
  assert.equal(status.signal, "SIGKILL", `writer exited on its own (${status.code}): ${err}`);
  return out.split("\n").filter((l) => l !== "");
}

/**
 * Milliseconds from spawn until a writer prints "ready" on a fresh directory: the start-up cost on
 * this machine now (~60-100 ms when idle, several times that on a loaded one).
 */
async function startupMs(): Promise<number> {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-crash-warmup-" });
  const t0 = performance.now();
  const child = spawnFixture("crash_writer.ts", dir, { stdout: "piped", stderr: "null" });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    while (!/^ready/m.test(seen)) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the writer exited before it was ready");
      seen += value;
    }
    return performance.now() - t0;
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel().catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("store crash: 50 SIGKILLs never lose a reported batch nor leave half of one", async () => {
  // Kill times span creation, open and the write loop whatever the machine's load.
  const startup = await startupMs();
  const dir = Deno.makeTempDirSync({ prefix: "djdns-crash-" });
  const rand = prng(SEED);
  let reported = 0; // highest batch any child reported committed
  let stored = 0;
  let killedBeforeReady = 0;
  let killedUnreported = 0;
  let afterCommit = 0;
  try {
    for (let k = 0; k < KILLS; k++) {
      // Half the kills (seeded; the first two one of each) are timed from spawn and may land
      // anywhere from creation on; the others after the child's first commit, so batches are
      // stored and reported even when a loaded machine makes start-up slower than any delay.
      const from = k < 2 ? (k === 0 ? "spawn" : "committed") : rand() < 0.5 ? "spawn" : "committed";
      const delay = from === "spawn"
        ? 20 + Math.floor(rand() * (startup + 200))
        : Math.floor(rand() * 40);
      if (from === "committed") afterCommit++;
      const log = await runAndKill(dir, from, delay);
      if (!log.some((l) => l.startsWith("ready"))) killedBeforeReady++;
      for (const line of log) {
        const m = /^committed (\d+)$/.exec(line);
        if (m) reported = Math.max(reported, Number(m[1]));
      }
      const ctx =
        `kill ${k + 1} ${delay} ms after ${from === "spawn" ? "spawn" : "its first commit"} ` +
        `(seed ${SEED})`;
      // Opening runs the integrity check; a damaged database would throw here.
      const store = openStore(dir, { integrityCheck: "full" });
      try {
        assert.deepEqual(store.checkIntegrity("full"), [], ctx);
        const page = store.getPage(CRASH_PAGE.id);
        if (page === undefined || page.headId === null) {
          assert.equal(reported, 0, `${ctx}: page lost after batches were reported`);
          continue;
        }
        const s = store.stats();
        assert.equal(
          (s.events - 1) % BATCH_EVENTS,
          0,
          `${ctx}: partial batch (${s.events} events)`,
        );
        const batches = (s.events - 1) / BATCH_EVENTS;
        assert.ok(batches >= reported, `${ctx}: ${batches} batches stored, ${reported} reported`);
        // At most the one batch that committed just before the kill went unreported.
        assert.ok(batches <= reported + 1, `${ctx}: ${batches} stored, ${reported} reported`);
        if (batches > reported) killedUnreported++;
        assert.equal(s.approvals, batches, ctx);
        assert.equal(page.objects, 1 + batches * (BATCH_EVENTS + 1), ctx);
        // The head moved in the same transaction as its batch: it is the last event stored.
        const events = store.eventsOf(CRASH_PAGE.id);
        const last = events[events.length - 1];
        assert.equal(page.headId, last.id, ctx);
        assert.equal(page.stateHash, headAt(last).stateHash, ctx);
        for (let i = 1; i < events.length; i++) {
          assert.equal(events[i].parentId, events[i - 1].id, `${ctx}: chain broken at ${i}`);
        }
        stored = batches;
        reported = batches; // the next child resumes after what is stored
      } finally {
        store.close();
      }
    }
    console.log(
      `crash test: ${KILLS} kills, ${stored} batches (${stored * BATCH_EVENTS} events) stored, ` +
        `${killedBeforeReady} kills before ready, ${afterCommit} after a commit, ` +
        `${killedUnreported} commits caught unreported ` +
        `(start-up ${Math.round(startup)} ms)`,
    );
    assert.ok(stored > 0, "the writer never committed anything; the test did not test");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
