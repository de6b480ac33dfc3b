/**
 * The check of every stored record, run in the background of a started node, and what the node
 * does with damage it finds (or meets while reading).
 *
 * Opening the store checks the file (header, application id, version, SQLite's `quick_check`);
 * what the node serves at start, the pages' materialized states, is checked against the state
 * hashes as it is read. The check that every stored object still hashes to its id reads the
 * whole database (seconds for a 100,000-event store), so it runs after the node answers: on its
 * own read-only connection (one snapshot), in a Web Worker started a moment after the servers
 * listen, a slice at a time, sleeping between slices so that it takes at most `share` of one
 * core. (The `inline` mode runs the slices on the event loop instead; measured against the
 * worker it raised the latency of answers during the check ten times more: BENCHMARKS.md.)
 *
 * A damaged record puts its page in quarantine (the {@linkcode DamageBook}): the registry serves
 * the page as an error (its names answer SERVFAIL, never stale or unverified data), the node
 * writes nothing to it, and a networked node neither replicates it from peers nor serves it to
 * them, until the operator repairs the store (`djdns store verify`, `djdns store repair`) and
 * restarts. Other pages are served as before.
 *
 * @module
 */
import {
  type Damage,
  describeDamage,
  openRecordScan,
  type RecordScan,
  type ScanWorkerEvent,
} from "../store/mod.ts";

/** Pages withheld because stored records of theirs are damaged. */
export interface DamageBook {
  /** Page id → why it is not served (one line for the operator). */
  readonly pages: ReadonlyMap<string, string>;
  /** Distinct damaged records seen. */
  records(): number;
  /** Records a damage; returns true when it puts a page newly in quarantine. */
  note(d: Damage): boolean;
  /** Whether a page is in quarantine. */
  has(pageId: string): boolean;
}

/** The way out, as the operator reads it in logs and errors. */
export function repairHint(dir: string): string {
  return `run 'djdns store verify --data ${dir}' to list the damage and, with the node stopped, ` +
    `'djdns store repair --data ${dir}' to drop it; then import the page again ` +
    "('djdns page import') or let the node fetch it from peers";
}

/** A damage book for the store in `dir`. */
export function createDamageBook(dir: string): DamageBook {
  const pages = new Map<string, string>();
  const seen = new Set<string>();
  return {
    pages,
    records: () => seen.size,
    has: (pageId) => pages.has(pageId),
    note(d) {
      seen.add(`${d.what} ${d.pageId} ${d.objectId ?? ""}`);
      if (pages.has(d.pageId)) return false;
      pages.set(
        d.pageId,
        `signed page ${d.pageId} is not served: the data directory's copy is damaged ` +
          `(${describeDamage(d)}); ${repairHint(dir)}`,
      );
      return true;
    },
  };
}

/** Where the background check is. */
export interface StoreCheckStatus {
  /** `running`, `done`, `failed` (the scan itself could not read: see `error`), `stopped`. */
  state: "running" | "done" | "failed" | "stopped";
  /** Objects checked so far. */
  objects: number;
  /** Pages checked so far. */
  pages: number;
  /** Damaged records found (by the check, or met by reads). */
  damaged: number;
  /** Pages in quarantine. */
  damagedPages: string[];
  /** Wall time of the whole check, when done (from its start, after the worker's delay). */
  ms?: number;
  /** Why it failed. */
  error?: string;
}

/** A running background check. */
export interface StoreCheck {
  status(): StoreCheckStatus;
  /** Resolves when the check ends (done, failed or stopped). */
  readonly finished: Promise<StoreCheckStatus>;
  /** Stops the check; resolves once its connection is closed (before the store may close). */
  stop(): Promise<void>;
}

/** Options of {@linkcode startStoreCheck}. */
export interface StoreCheckOptions {
  /** The database file (`Store.path`). */
  path: string;
  /** Where damage goes. */
  book: DamageBook;
  /** Called after a slice that put pages in quarantine, with their ids. */
  onQuarantine: (pageIds: string[]) => void;
  log: (level: "info" | "warning" | "error", msg: string) => void;
  /**
   * `worker` (default): in a Web Worker, so no slice ever delays an answer; `inline`: slices on
   * the event loop between answers.
   */
  mode?: "worker" | "inline";
  /** Longest slice of work between two pauses (default 4 ms inline, 50 ms in the worker). */
  sliceMs?: number;
  /** Most of one core the check takes, 0-1 (default 0.5). */
  share?: number;
  /** The worker starts this long after the call (default 500 ms). */
  delayMs?: number;
}

// Damaged records logged one by one; beyond, a count at the end (a badly damaged disk must not
// flood the log).
const LOGGED_DAMAGE = 20;

/** Starts the check of every stored record in the background; see the module's doc. */
export function startStoreCheck(opts: StoreCheckOptions): StoreCheck {
  const { book, log } = opts;
  const mode = opts.mode ?? "worker";
  const sliceMs = opts.sliceMs ?? (mode === "worker" ? 50 : 4);
  const share = Math.min(1, Math.max(0.05, opts.share ?? 0.5));
  const hint = repairHint(dirOf(opts.path));
  let t0 = performance.now();
  let state: StoreCheckStatus["state"] = "running";
  let error: string | undefined;
  let ms: number | undefined;
  let found = 0;
  let counts = { objects: 0, pages: 0 };
  let fresh: string[] = [];
  const done = Promise.withResolvers<StoreCheckStatus>();

  const status = (): StoreCheckStatus => ({
    state,
    ...counts,
    damaged: book.records(),
    damagedPages: [...book.pages.keys()],
    ...(ms === undefined ? {} : { ms }),
    ...(error === undefined ? {} : { error }),
  });
  const onDamage = (d: Damage) => {
    found++;
    if (found <= LOGGED_DAMAGE) {
      log(
        "error",
        `store damage: ${describeDamage(d)}; page ${d.pageId} is no longer served (its names ` +
          `answer SERVFAIL) nor replicated; ${hint}`,
      );
    }
    if (book.note(d)) fresh.push(d.pageId);
  };
  const flush = () => {
    if (fresh.length === 0) return;
    const ids = fresh;
    fresh = [];
    opts.onQuarantine(ids);
  };
  let release = () => {};
  const end = (s: StoreCheckStatus["state"], why?: string) => {
    if (state !== "running") return;
    flush();
    state = s;
    error = why;
    ms = performance.now() - t0;
    release();
    if (s === "failed") log("error", `the background check of stored records failed: ${why}`);
    if (s === "done") {
      const summary = `checked ${counts.objects} stored object(s) and ${counts.pages} page(s) ` +
        `in ${Math.round(ms)} ms`;
      if (found === 0) log("info", `store: ${summary}: no damage`);
      else {
        log(
          "error",
          `store: ${summary}: ${found} damaged record(s) in ${book.pages.size} page(s), not ` +
            `served: ${[...book.pages.keys()].join(", ")}; ${hint}`,
        );
      }
    }
    done.resolve(status());
  };

  if (mode === "worker") {
    let worker: Worker | undefined;
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    release = () => {
      clearTimeout(startTimer);
      clearTimeout(stopTimer);
      worker?.terminate();
    };
    const spawn = () => {
      t0 = performance.now();
      const w = worker = new Worker(
        new URL("../store/record_scan_worker.ts", import.meta.url),
        { type: "module" },
      );
      w.onmessage = (e: MessageEvent<ScanWorkerEvent>) => {
        const m = e.data;
        if (m.type === "damage") {
          onDamage(m.damage);
          // Quarantine at once: the page stops being served before the scan goes on.
          flush();
        } else if (m.type === "failed") end("failed", m.error);
        else {
          counts = { objects: m.objects, pages: m.pages };
          if (m.type === "done") end("done");
          if (m.type === "stopped") end("stopped");
        }
      };
      w.onerror = (e) => {
        e.preventDefault();
        end("failed", e.message);
      };
      w.postMessage({ type: "start", path: opts.path, sliceMs, share });
    };
    // A worker's start-up (its own runtime and modules) costs the first answers ~100 ms on a
    // loaded machine when it overlaps them (measured): it starts a moment after the servers.
    const startTimer = setTimeout(spawn, opts.delayMs ?? 500);
    return {
      status,
      finished: done.promise,
      async stop() {
        if (state === "running" && worker) {
          // The worker closes its connection and answers; terminated anyway if it does not.
          worker.postMessage({ type: "stop" });
          stopTimer = setTimeout(() => end("stopped"), 1000);
        } else end("stopped");
        await done.promise;
      },
    };
  }

  let scan: RecordScan | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  release = () => {
    clearTimeout(timer);
    scan?.close();
  };
  const tick = () => {
    timer = undefined;
    if (state !== "running") return;
    const t = performance.now();
    let finished: boolean;
    try {
      finished = scan!.step(sliceMs);
    } catch (e) {
      end("failed", (e as Error).message);
      return;
    }
    counts = scan!.counts();
    flush();
    if (finished) return end("done");
    // Sleep so that the slices take at most `share` of the time: spent / share in all.
    const spent = performance.now() - t;
    timer = setTimeout(tick, Math.max(1, spent * (1 / share - 1)));
  };
  try {
    scan = openRecordScan(opts.path, onDamage);
    // The first slice runs after the caller has finished starting (the servers answer first).
    timer = setTimeout(tick, 0);
  } catch (e) {
    end("failed", (e as Error).message);
  }
  return {
    status,
    finished: done.promise,
    stop: () => Promise.resolve(end("stopped")),
  };
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
