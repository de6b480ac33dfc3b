/**
 * Store benchmarks: events inserted per second in batches of 1 and of 100, open time of a store
 * holding 1,000 pages and 100,000 events (each with one signed approval) with and without the
 * record check (one SHA-256 per object and state), `djdns store verify` on that store against
 * SQLite's `integrity_check` of it, and that verify finds every damaged record; database bytes
 * per event.
 *
 * `deno bench -A tools/store_bench.ts` runs them as Deno benchmarks; `deno run -A
 * tools/store_bench.ts` prints the table recorded in BENCHMARKS.md. Data lives in a temporary
 * directory on the file system of $TMPDIR (the figures depend on its fsync cost).
 *
 * @module
 */
import { sha256 } from "../lib/crypto/mod.ts";
import {
  approve,
  canonicalize,
  createGenesis,
  type Genesis,
  type JsonObject,
  objectId,
  type PageEvent,
  proposeEvent,
} from "../lib/page/mod.ts";
import { publicKeyOf } from "../lib/crypto/mod.ts";
import { DatabaseSync } from "node:sqlite";
import {
  type Batch,
  checkStoredObject,
  type Damage,
  openStore,
  type Store,
  type StoredObject,
  toStoredObject,
} from "../lib/store/mod.ts";

const PAGES = 1_000;
const EVENTS_PER_PAGE = 100;

const secret = sha256(new TextEncoder().encode("djdns store bench key"));
const pub = publicKeyOf(secret).toHex();

function branch(name: string): JsonObject {
  return {
    selector: `^${name.replaceAll(".", "\\.")}$`,
    targets: [],
    records: [{ domain_name: name, rtype: "A", rdata: "192.0.2.1" }],
  };
}

function genesisOf(i: number): Genesis {
  return createGenesis({ participants: { [pub]: { weight: 1 } }, nonce: `bench page ${i}` });
}

function eventOn(page: string, parent: string, name: string): PageEvent {
  return proposeEvent(page, parent, "ADD_BRANCH", { branch: branch(name) });
}

/** The materialized state after `n` ADD_BRANCH events (what the page engine would hold). */
function stateAfter(g: Genesis, names: string[]): { state: string; stateHash: string } {
  const state = canonicalize({ ...g.state, branches: names.map(branch) });
  return { state, stateHash: sha256(new TextEncoder().encode(state)).toHex() };
}

/** Writes PAGES pages of EVENTS_PER_PAGE events, one approval each, heads and states. */
export function buildDataset(dir: string): { seconds: number; objectBytes: number } {
  const t0 = performance.now();
  const store = openStore(dir);
  let objectBytes = 0;
  try {
    for (let p = 0; p < PAGES; p++) {
      const g = genesisOf(p);
      const page = objectId(g);
      const objects: StoredObject[] = [toStoredObject(g)];
      const names: string[] = [];
      let parent = page;
      for (let i = 0; i < EVENTS_PER_PAGE - 1; i++) {
        const name = `host${i}.page${p}.example`;
        const ev = eventOn(page, parent, name);
        objects.push(toStoredObject(ev), toStoredObject(approve(secret, ev)));
        names.push(name);
        parent = objectId(ev);
      }
      for (const o of objects) objectBytes += o.bytes.length;
      store.putBatch({
        objects,
        heads: [{ pageId: page, headId: parent, ...stateAfter(g, names) }],
        follow: [{ pageId: page, following: true }],
      });
    }
  } finally {
    store.close();
  }
  return { seconds: (performance.now() - t0) / 1000, objectBytes };
}

/**
 * An open store with one page: `next(n)` builds the batch of the next `n` events (outside any
 * timing: building and hashing events is the page engine's cost, not the store's), `put` stores
 * one.
 */
function appender(dir: string): { store: Store; next(n: number): Batch; put(b: Batch): void } {
  const store = openStore(dir);
  const g = genesisOf(-1);
  const page = objectId(g);
  store.putBatch({ objects: [toStoredObject(g)], follow: [{ pageId: page, following: true }] });
  let parent = page;
  let count = 0;
  // The state is not recomputed per batch: the bench measures the store, not the page engine.
  const { state, stateHash } = stateAfter(g, []);
  return {
    store,
    next(n: number): Batch {
      const objects: StoredObject[] = [];
      for (let i = 0; i < n; i++) {
        const ev = eventOn(page, parent, `host${count++}.bench.example`);
        objects.push(toStoredObject(ev));
        parent = objectId(ev);
      }
      return { objects, heads: [{ pageId: page, headId: parent, state, stateHash }] };
    },
    put: (b: Batch) => void store.putBatch(b),
  };
}

/** How the bench opens: the default (quick_check and the record check), without records, none. */
type OpenMode = "quick+records" | "quick" | "none";

function openAndLoad(dir: string, mode: OpenMode): number {
  const store = openStore(dir, {
    integrityCheck: mode === "none" ? "none" : "quick",
    checkRecords: mode === "quick+records",
  });
  try {
    return store.listPages({ following: true }).length;
  } finally {
    store.close();
  }
}

/**
 * Changes one byte in `n` distinct random objects (and in the states of n / 10 pages) through a
 * raw connection, as a disk would; returns the keys verify must report (object ids, pages).
 */
function damageRecords(dir: string, n: number): Set<string> {
  const db = new DatabaseSync(`${dir}/djdns.db`);
  const out = new Set<string>();
  try {
    const max = (db.prepare("SELECT max(seq) AS m FROM objects").get() as { m: number }).m;
    const row = db.prepare("SELECT id, bytes FROM objects WHERE seq = ?");
    const put = db.prepare("UPDATE objects SET bytes = ? WHERE seq = ?");
    let seed = 14;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    while (out.size < n) {
      const seq = 1 + Math.floor(rand() * max);
      const r = row.get(seq) as { id: Uint8Array; bytes: Uint8Array } | undefined;
      if (r === undefined || out.has(r.id.toHex())) continue;
      const bytes = new Uint8Array(r.bytes);
      bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
      put.run(bytes, seq);
      out.add(r.id.toHex());
    }
    const pages = db.prepare("SELECT pno, page_id, state FROM pages LIMIT ?").all(n / 10) as {
      pno: number;
      page_id: Uint8Array;
      state: string;
    }[];
    const setState = db.prepare("UPDATE pages SET state = ? WHERE pno = ?");
    for (const p of pages) {
      setState.run(p.state.replace("host", "hpst"), p.pno);
      out.add(`state ${p.page_id.toHex()}`);
    }
  } finally {
    db.close();
  }
  return out;
}

function report(): void {
  const tmp = Deno.makeTempDirSync({ prefix: "djdns-bench-" });
  try {
    const rows: string[] = [];
    for (const size of [1, 100]) {
      const a = appender(`${tmp}/insert-${size}`);
      try {
        const batches = size === 1 ? 2_000 : 200;
        a.put(a.next(size)); // warm up
        const prepared = Array.from({ length: batches }, () => a.next(size));
        const t0 = performance.now();
        for (const b of prepared) a.put(b);
        const s = (performance.now() - t0) / 1000;
        rows.push(
          `| insert, batches of ${size} event${size > 1 ? "s" : ""} | ` +
            `${Math.round((batches * size) / s).toLocaleString("en")} events/s ` +
            `(${((s / batches) * 1000).toFixed(2)} ms per batch) |`,
        );
      } finally {
        a.store.close();
      }
    }
    const dir = `${tmp}/dataset`;
    const built = buildDataset(dir);
    const db = Deno.statSync(`${dir}/djdns.db`).size;
    const events = PAGES * EVENTS_PER_PAGE;
    rows.push(
      `| build ${PAGES.toLocaleString("en")} pages × ${EVENTS_PER_PAGE} events (+1 approval ` +
        `each), one batch per page | ${built.seconds.toFixed(1)} s |`,
    );
    const opens = new Map<OpenMode, number>();
    for (let round = 0; round < 5; round++) {
      // Interleaved, so that load changes on the machine hit every mode alike.
      for (const mode of ["quick+records", "quick", "none"] as const) {
        const t0 = performance.now();
        const n = openAndLoad(dir, mode);
        const ms = performance.now() - t0;
        if (n !== PAGES) throw new Error(`loaded ${n} pages`);
        opens.set(mode, Math.min(opens.get(mode) ?? Infinity, ms));
      }
    }
    const withRecords = opens.get("quick+records")!;
    const quickOnly = opens.get("quick")!;
    rows.push(
      `| open ${events.toLocaleString("en")} events + read 1,000 heads and states, default ` +
        `(\`quick_check\` + every object and state hashed) | ${withRecords.toFixed(0)} ms ` +
        `(**${(withRecords / quickOnly).toFixed(2)}×** the next row) |`,
      `| the same, \`quick_check\` only (\`checkRecords: false\`, the open before this check) | ` +
        `${quickOnly.toFixed(0)} ms |`,
      `| the same without any check (\`integrityCheck: "none"\`) | ` +
        `${opens.get("none")!.toFixed(0)} ms |`,
    );
    const store = openStore(dir, { integrityCheck: "none" });
    let t0 = performance.now();
    const problems = store.checkIntegrity("full");
    const full = performance.now() - t0;
    if (problems.length > 0) throw new Error(problems.join("; "));
    t0 = performance.now();
    const verified = store.verify(() => {
      throw new Error("damage in a sound store");
    }, checkStoredObject);
    const verify = performance.now() - t0;
    t0 = performance.now();
    store.verify();
    const verifyHashes = performance.now() - t0;
    store.close();
    rows.push(
      `| \`djdns store verify\` of that store (${verified.objects.toLocaleString("en")} objects ` +
        `hashed, parsed and decoded by the page module; 1,000 states) | ${verify.toFixed(0)} ms ` +
        `(**${(verify / full).toFixed(2)}×** the next row) |`,
      `| full \`integrity_check\` of that store (reference) | ${full.toFixed(0)} ms |`,
      `| the store's own check (\`Store.verify\` without the page module's decoder) | ` +
        `${verifyHashes.toFixed(0)} ms (${(verifyHashes / full).toFixed(2)}×) |`,
    );
    const damage = damageRecords(dir, 100);
    const found = new Set<string>();
    const damaged = openStore(dir, { integrityCheck: "none", checkRecords: false });
    try {
      damaged.verify(
        (d: Damage) => found.add(d.objectId ?? `state ${d.pageId}`),
        checkStoredObject,
      );
    } finally {
      damaged.close();
    }
    const missed = [...damage].filter((k) => !found.has(k));
    if (missed.length > 0 || found.size !== damage.size) {
      throw new Error(`verify found ${found.size} of ${damage.size} damaged records`);
    }
    rows.push(
      `| damaged records found by verify after ${damage.size} random one-byte changes ` +
        `(objects and states, through a raw SQLite connection) | ${found.size} of ${damage.size} |`,
    );
    rows.push(
      `| database bytes per event (event + 1 approval + share of states) | ` +
        `${Math.round(db / events)} bytes (${(db / 1e6).toFixed(1)} MB total; canonical ` +
        `bytes ${Math.round(built.objectBytes / events)} per event incl. its approval) |`,
    );
    console.log("| measure | result |\n| --- | --- |\n" + rows.join("\n"));
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  report();
} else {
  const tmp = Deno.makeTempDirSync({ prefix: "djdns-bench-" });
  const one = appender(`${tmp}/insert-1`);
  const hundred = appender(`${tmp}/insert-100`);
  buildDataset(`${tmp}/dataset`);
  for (const [n, a] of [[1, one], [100, hundred]] as const) {
    Deno.bench(
      `store: insert a batch of ${n} event${n > 1 ? "s" : ""}`,
      { group: "insert" },
      (b) => {
        const batch = a.next(n);
        b.start();
        a.put(batch);
        b.end();
      },
    );
  }
  Deno.bench(
    "store: open 100,000 events / 1,000 pages and read heads (quick_check + records)",
    { group: "open", baseline: true },
    () => void openAndLoad(`${tmp}/dataset`, "quick+records"),
  );
  Deno.bench(
    "store: open 100,000 events / 1,000 pages and read heads (quick_check)",
    { group: "open" },
    () => void openAndLoad(`${tmp}/dataset`, "quick"),
  );
  Deno.bench(
    "store: open 100,000 events / 1,000 pages and read heads (no check)",
    { group: "open" },
    () => void openAndLoad(`${tmp}/dataset`, "none"),
  );
  globalThis.addEventListener("unload", () => {
    one.store.close();
    hundred.store.close();
    Deno.removeSync(tmp, { recursive: true });
  });
}
