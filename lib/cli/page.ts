/**
 * `djdns page import|export|show`: moving verified signed pages in and out of the data
 * directory, and inspecting one. A bundle is a JSON array of signed objects (genesis, events,
 * approvals, evidence, checkpoints and their approvals, in any order). Everything in a bundle is
 * verified by the page engine before anything is written; one bad object refuses the whole
 * import and the data directory stays as it was.
 *
 * @module
 */
import {
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  createPageLog,
  objectId,
  type PageLog,
  type SignedObject,
} from "../page/mod.ts";
import {
  fromStoredObject,
  type HeadUpdate,
  loadPageLog,
  openStore,
  pageLogBatch,
  resolveDataDir,
  type Store,
  type StoredObject,
} from "../store/mod.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns page`. */
export const PAGE_HELP = `Usage: djdns page import [--data DIR] BUNDLE.json...
       djdns page export [--data DIR] PAGE-ID
       djdns page show [--data DIR] [--json] PAGE-ID

Signed pages in the node's data directory.

Commands:
  import BUNDLE...         verify the signed objects of each bundle (a JSON array) and store
                           them; the pages become followed. Nothing is written unless every
                           object verifies. The node must be stopped (it owns the directory).
  export PAGE-ID           print everything stored for a page as a bundle
  show PAGE-ID             print the page's head, state hash and the status of every event
                           (accepted, lost-fork, pending with why, rejected with why)

Options:
  --data DIR               data directory (default: $XDG_DATA_HOME/djdns, else
                           ~/.local/share/djdns)
  --json                   show: print JSON
  -h, --help               show this help`;

const PAGE_ID = /^[0-9a-f]{64}$/;

/** Thrown for bad input data (exit status 1 with the message). */
class InputError extends Error {}

/** Bundles are the operator's input: every object is verified, but not bounded by the pools. */
const LOCAL = { source: "import", trusted: true } as const;

// Feeds objects into `log`; every refusal is an error naming the object.
function feed(log: PageLog, objects: { obj: SignedObject; where: string }[]) {
  const links = new Map<string, { checkpoint?: Checkpoint; approvals: CheckpointApproval[] }>();
  for (const { obj, where } of objects) {
    try {
      if (obj.type === "event") log.addEvent(obj, LOCAL);
      else if (obj.type === "evidence") log.addEvidence(obj, LOCAL);
      else if (obj.type === "checkpoint-evidence") log.addCheckpointEvidence(obj, LOCAL);
      else if (obj.type === "checkpoint") {
        const link = links.get(objectId(obj)) ?? { approvals: [] };
        link.checkpoint = obj;
        links.set(objectId(obj), link);
      } else if (obj.type === "checkpoint-approval") {
        const link = links.get(obj.checkpoint) ?? { approvals: [] };
        link.approvals.push(obj);
        links.set(obj.checkpoint, link);
      }
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
  }
  // Approvals after events, so none waits for an event that comes later in the bundle.
  for (const { obj, where } of objects) {
    if (obj.type !== "approval") continue;
    try {
      log.addApproval(obj, LOCAL);
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
  }
  const chain = [...links.values()].filter((l) => l.checkpoint).sort((a, b) =>
    a.checkpoint!.height - b.checkpoint!.height
  );
  for (const link of chain) {
    try {
      log.addCheckpoint({ checkpoint: link.checkpoint!, approvals: link.approvals });
    } catch (e) {
      throw new InputError(`checkpoint ${objectId(link.checkpoint!)}: ${(e as Error).message}`);
    }
  }
}

async function importBundles(store: Store, files: string[]): Promise<number> {
  const byPage = new Map<string, { obj: SignedObject; where: string }[]>();
  const geneses = new Map<string, SignedObject>();
  for (const file of files) {
    let value: unknown;
    try {
      value = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new InputError(`${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(value)) {
      throw new InputError(`${file}: a bundle is a JSON array of signed objects`);
    }
    value.forEach((raw, i) => {
      const where = `${file}: object ${i}`;
      let obj: SignedObject;
      try {
        obj = checkObject(raw);
      } catch (e) {
        throw new InputError(`${where}: ${(e as Error).message}`);
      }
      if (obj.type === "genesis") {
        geneses.set(objectId(obj), obj);
        if (!byPage.has(objectId(obj))) byPage.set(objectId(obj), []);
        return;
      }
      const page = obj.type === "evidence" || obj.type === "checkpoint-evidence"
        ? obj.first.page
        : obj.page;
      const list = byPage.get(page) ?? [];
      list.push({ obj, where });
      byPage.set(page, list);
    });
  }
  const logs: PageLog[] = [];
  for (const [pageId, objects] of byPage) {
    const genesis = geneses.get(pageId);
    let log: PageLog;
    if (store.getPage(pageId)?.headId) log = loadPageLog(store, pageId);
    else if (genesis?.type === "genesis") log = createPageLog(genesis);
    else throw new InputError(`page ${pageId}: no genesis in the bundle or the data directory`);
    feed(log, objects);
    logs.push(log);
  }
  // One transaction for every page: all or nothing.
  const objects: StoredObject[] = [];
  const heads: HeadUpdate[] = [];
  for (const log of logs) {
    const b = pageLogBatch(log);
    objects.push(...b.objects ?? []);
    heads.push(...b.heads ?? []);
  }
  const batch = {
    objects,
    heads,
    follow: logs.map((l) => ({ pageId: l.pageId, following: true })),
  };
  store.putBatch(batch);
  for (const log of logs) {
    const pending = log.events().filter((e) => log.status(objectId(e)).status === "pending").length;
    console.log(
      `page ${log.pageId}: head ${log.head()}, ${log.events().length} event(s)` +
        (pending ? `, ${pending} pending` : ""),
    );
  }
  return 0;
}

function exportPage(store: Store, pageId: string): number {
  if (!store.getPage(pageId)) throw new InputError(`page ${pageId} is not in the data directory`);
  const objects = store.objectsOf(pageId).map(fromStoredObject);
  console.log(JSON.stringify(objects));
  return 0;
}

function showPage(store: Store, pageId: string, json: boolean): number {
  if (!store.getPage(pageId)?.headId) {
    throw new InputError(`page ${pageId} is not in the data directory`);
  }
  const log = loadPageLog(store, pageId);
  const events = log.events().map((e) => {
    const s = log.status(objectId(e));
    return {
      id: s.id,
      handler: e.handler,
      parent: e.parent,
      status: s.status,
      code: s.code,
      reason: s.reason,
    };
  });
  if (json) {
    console.log(
      JSON.stringify(
        { page: pageId, head: log.head(), stateHash: log.stateHash(), events },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(`page        ${pageId}\nhead        ${log.head()}\nstate hash  ${log.stateHash()}`);
  for (const e of events) {
    const why = e.code ? ` (${e.code}${e.reason ? `: ${e.reason}` : ""})` : "";
    console.log(`${e.id}  ${e.status.padEnd(9)} ${e.handler}${why}`);
  }
  return 0;
}

/** Runs `djdns page …`; returns the exit status. */
export async function pageMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    data: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(PAGE_HELP);
    return values.help ? 0 : 2;
  }
  if (!["import", "export", "show"].includes(command)) {
    throw new UsageError(`unknown page command '${command}'`);
  }
  if (command === "import" && rest.length === 0) {
    throw new UsageError("page import needs at least one BUNDLE");
  }
  if (command !== "import") {
    if (rest.length !== 1 || !PAGE_ID.test(rest[0])) {
      throw new UsageError(`page ${command} needs one PAGE-ID (64 hex)`);
    }
  }
  const dir = resolveDataDir(values.data as string | undefined);
  let store: Store;
  try {
    store = command === "import" ? openStore(dir) : openStore(dir, { readOnly: true });
  } catch (e) {
    console.error(`djdns: ${(e as Error).message}`);
    return 1;
  }
  try {
    if (command === "import") return await importBundles(store, rest);
    if (command === "export") return exportPage(store, rest[0]);
    return showPage(store, rest[0], Boolean(values.json));
  } catch (e) {
    console.error(`djdns: ${(e as Error).message}`);
    return 1;
  } finally {
    store.close();
  }
}
