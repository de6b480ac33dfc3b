/**
 * `djdns store stats|prune|verify|repair`: inspect, prune, check or repair the data directory.
 *
 * @module
 */
import {
  checkStoredObject,
  type Damage,
  openStore,
  prunePage,
  resolveDataDir,
  type Store,
  type StoreStats,
  SYSTEM_DATA_DIR,
} from "../store/mod.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns store`. */
export const STORE_HELP = `Usage: djdns store stats [--data DIR] [--json]
       djdns store prune [--data DIR] [PAGE-ID...]
       djdns store verify [--data DIR] [--json]
       djdns store repair [--data DIR]

Inspect, prune, check or repair the node's data directory: one SQLite database with the
verified pages, their heads and states, and known peers.

Commands:
  stats                    print sizes and counts; reads only, works while a node runs
  prune [PAGE-ID...]       drop each page's history older than its latest checkpoint (every
                           page with a checkpoint when no PAGE-ID is given); the node must be
                           stopped, since only one process may own the directory
  verify                   check every stored record and print each damaged one: SQLite's
                           structure, every object (its bytes hash to its id and decode as the
                           signed object its row says), every page's state (hashes to its state
                           hash), head and root state; reads only, works while a node runs
  repair                   drop every damaged record verify finds, and the head and state of
                           each page concerned, so those pages are imported again (djdns page
                           import) instead of served from damaged bytes; prints what it dropped;
                           the node must be stopped

Every command refuses a store with damaged records (naming one), except verify and repair.

Options:
  --data DIR               data directory (default: $XDG_DATA_HOME/djdns, else
                           ~/.local/share/djdns; a system service uses ${SYSTEM_DATA_DIR})
  --json                   stats, verify: print JSON
  -h, --help               show this help

Exit status: 0 done (verify: no damage found), 1 damage found (verify) or an error (message on
stderr), 2 bad usage.`;

const PAGE_ID = /^[0-9a-f]{64}$/;

function formatStats(s: StoreStats): string {
  const perEvent = s.events > 0 ? ` (${Math.round(s.databaseBytes / s.events)} bytes/event)` : "";
  return [
    `data directory  ${s.dir}`,
    `database        ${s.path} (schema ${s.schemaVersion})`,
    `size            ${s.databaseBytes} bytes${perEvent}, log ${s.walBytes} bytes, ` +
    `${s.freePages} free pages of ${s.pageSize} bytes`,
    `pages           ${s.pages} (${s.followedPages} followed)`,
    `events          ${s.events}`,
    `approvals       ${s.approvals}`,
    `evidence        ${s.evidence}`,
    `checkpoints     ${s.checkpoints} (${s.checkpointApprovals} approvals)`,
    `object bytes    ${s.objectBytes}`,
    `peers           ${s.peers}`,
  ].join("\n");
}

function stats(dir: string, json: boolean): number {
  const store = openStore(dir, { readOnly: true });
  try {
    const s = store.stats();
    console.log(json ? JSON.stringify(s, null, 2) : formatStats(s));
    return 0;
  } finally {
    store.close();
  }
}

function prune(dir: string, pageIds: string[]): number {
  const store: Store = openStore(dir, { create: false });
  let status = 0;
  try {
    const before = store.stats();
    const targets = pageIds.length > 0
      ? pageIds
      : store.listPages().map((p) => p.pageId).filter((id) =>
        store.objectsOf(id, "checkpoint").length > 0
      );
    for (const id of targets) {
      try {
        const r = prunePage(store, id);
        console.log(
          `${id}: removed ${r.events} events, ${r.approvals} approvals, ${r.evidence} evidence ` +
            `(kept from checkpoint ${r.checkpointId})`,
        );
      } catch (e) {
        console.error(`djdns: ${id}: ${e instanceof Error ? e.message : e}`);
        status = 1;
      }
    }
    const after = store.stats();
    console.log(
      `database ${before.databaseBytes + before.walBytes} -> ` +
        `${after.databaseBytes + after.walBytes} bytes (${targets.length} pages)`,
    );
    return status;
  } finally {
    store.close();
  }
}

function describe(d: Damage): string {
  const what = d.objectId === undefined
    ? `${d.what === "root" ? "root state" : "state"} of page ${d.pageId}`
    : `${d.kind ?? "object"} ${d.objectId} of page ${d.pageId}`;
  return `${what}: ${d.problem}`;
}

function verify(dir: string, json: boolean): number {
  // Damage is what this command reports, so the open does not refuse it.
  const store = openStore(dir, { readOnly: true, integrityCheck: "none", checkRecords: false });
  try {
    const damage: Damage[] = [];
    const r = store.verify((d) => {
      if (json) damage.push(d);
      else console.log(`damaged: ${describe(d)}`);
    }, checkStoredObject);
    if (json) {
      console.log(JSON.stringify({ ...r, damage }, null, 2));
    } else {
      for (const p of r.structure) console.log(`structure: ${p}`);
      console.log(
        `checked ${r.objects} object(s) and ${r.pages} page(s): ${r.damaged} damaged record(s)` +
          (r.structure.length > 0 ? `, SQLite structure damaged (${r.structure.length})` : ""),
      );
      if (r.structure.length > 0) {
        console.log("the file itself is damaged: restore it from a backup");
      } else if (r.damaged > 0) {
        console.log(
          `stop the node and run 'djdns store repair --data ${store.dir}', then re-import ` +
            "the pages it names",
        );
      }
    }
    return r.damaged > 0 || r.structure.length > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

function repair(dir: string): number {
  const store = openStore(dir, { create: false, integrityCheck: "none", checkRecords: false });
  try {
    const r = store.repair(checkStoredObject);
    for (const d of r.droppedObjects) console.log(`dropped ${describe(d)}`);
    for (const page of r.clearedPages) {
      console.log(
        `cleared page ${page}: head and state dropped` +
          (r.clearedRoots.includes(page) ? " with its root checkpoint state" : "") +
          "; it is not served until imported again (djdns page import BUNDLE.json)",
      );
    }
    console.log(
      r.clearedPages.length === 0 && r.droppedObjects.length === 0
        ? "no damage found; nothing changed"
        : `repaired: dropped ${r.droppedObjects.length} object(s), cleared ` +
          `${r.clearedPages.length} page(s)`,
    );
    return 0;
  } finally {
    store.close();
  }
}

/** Runs `djdns store ARGS…`; returns the exit status (1 for a data error, printed to stderr). */
export function storeMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    data: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(STORE_HELP);
    return Promise.resolve(0);
  }
  const [command, ...rest] = positionals;
  const commands = ["stats", "prune", "verify", "repair"];
  if (command === undefined) {
    throw new UsageError("missing command: stats, prune, verify or repair");
  }
  if (!commands.includes(command)) {
    throw new UsageError(`unknown store command '${command}' (stats, prune, verify or repair)`);
  }
  if (command !== "prune" && rest.length > 0) {
    throw new UsageError(`unexpected argument '${rest[0]}'`);
  }
  if ((command === "prune" || command === "repair") && values.json) {
    throw new UsageError("--json applies to stats and verify only");
  }
  const bad = rest.find((id) => !PAGE_ID.test(id));
  if (bad !== undefined) {
    throw new UsageError(`'${bad}' is not a page id (64 lowercase hex digits)`);
  }
  if (values.data === "") throw new UsageError("--data needs a directory");
  try {
    const dir = resolveDataDir(values.data as string | undefined);
    const json = values.json === true;
    return Promise.resolve(
      command === "stats"
        ? stats(dir, json)
        : command === "prune"
        ? prune(dir, rest)
        : command === "verify"
        ? verify(dir, json)
        : repair(dir),
    );
  } catch (e) {
    console.error(`djdns: ${e instanceof Error ? e.message : e}`);
    return Promise.resolve(1);
  }
}
