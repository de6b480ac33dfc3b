/**
 * `djdns store stats|prune`: inspect or prune the data directory.
 *
 * @module
 */
import {
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

Inspect or prune the node's data directory: one SQLite database with the verified pages, their
heads and states, and known peers.

Commands:
  stats                    print sizes and counts; reads only, works while a node runs
  prune [PAGE-ID...]       drop each page's history older than its latest checkpoint (every
                           page with a checkpoint when no PAGE-ID is given); the node must be
                           stopped, since only one process may own the directory

Options:
  --data DIR               data directory (default: $XDG_DATA_HOME/djdns, else
                           ~/.local/share/djdns; a system service uses ${SYSTEM_DATA_DIR})
  --json                   stats: print JSON
  -h, --help               show this help`;

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
  if (command === undefined) throw new UsageError("missing command: stats or prune");
  if (command !== "stats" && command !== "prune") {
    throw new UsageError(`unknown store command '${command}' (stats or prune)`);
  }
  if (command === "stats" && rest.length > 0) {
    throw new UsageError(`unexpected argument '${rest[0]}'`);
  }
  if (command === "prune" && values.json) throw new UsageError("--json applies to stats only");
  const bad = rest.find((id) => !PAGE_ID.test(id));
  if (bad !== undefined) {
    throw new UsageError(`'${bad}' is not a page id (64 lowercase hex digits)`);
  }
  if (values.data === "") throw new UsageError("--data needs a directory");
  try {
    const dir = resolveDataDir(values.data as string | undefined);
    return Promise.resolve(
      command === "stats" ? stats(dir, values.json === true) : prune(dir, rest),
    );
  } catch (e) {
    console.error(`djdns: ${e instanceof Error ? e.message : e}`);
    return Promise.resolve(1);
  }
}
