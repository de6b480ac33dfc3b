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
  createGenesis,
  createPageLog,
  objectId,
  type PageEvent,
  type PageLog,
  type Participant,
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
import { fractionArg, participantArg } from "./change.ts";
import { describeEvent } from "./change.ts";
import { pendingCheckpoints } from "./checkpoint.ts";
import { readKeyFile } from "./key.ts";
import {
  feedLog,
  InputError,
  openData,
  pageAccess,
  readPendingFile,
  reportErrors,
  storedLog,
  writeLog,
} from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns page`. */
export const PAGE_HELP = `Usage: djdns page new --data DIR --key FILE --participant PUB[:WEIGHT]...
                       [--content-threshold F] [--membership-threshold F]
                       [--meta KEY=VALUE]... [--nonce TEXT]
       djdns page import [--data DIR] BUNDLE.json...
       djdns page export [--data DIR] PAGE-ID
       djdns page show [--data DIR | --node HOST:PORT] [--json] PAGE-ID
       djdns page log [--data DIR | --node HOST:PORT] [--json] PAGE-ID
       djdns page list [--data DIR] [--json]

Signed pages in the node's data directory.

Commands:
  new                      create a page (its genesis) in the data directory and print its id
                           last; the key's holder must be one of the participants
  import BUNDLE...         verify the signed objects of each bundle (a JSON array) and store
                           them; the pages become followed. Nothing is written unless every
                           object verifies. The node must be stopped (it owns the directory).
  export PAGE-ID           print everything stored for a page as a bundle
  show PAGE-ID             the page's state: head, meta, thresholds, participants with weights
                           and delegations, checkpoints (pending ones with their power), the
                           recent accepted changes, and every pending, rejected or lost-fork
                           change with what it changes, who approved it, the approving power
                           and the power it needs
  log PAGE-ID              every event (oldest first) with its status and approvals
  list                     the pages of the data directory
  (show, log, list and export read without locking: they work beside a running node)

Options:
  --data DIR               data directory (default: $XDG_DATA_HOME/djdns, else
                           ~/.local/share/djdns)
  --node HOST:PORT         show, log: the page as a running node holds it (fetched through
                           its gossip port and verified here)
  --json                   show, log, list: print JSON
  --key FILE               new: the creator's key file (see 'djdns key')
  --participant PUB[:WEIGHT]
                           new: a participant (moderator) and its vote weight (default 1);
                           repeatable
  --content-threshold F    new: share of the total weight that accepts a record or branch
                           change (Track 1; default 0.34)
  --membership-threshold F new: share that accepts a participant, weight, threshold or
                           checkpoint change (Track 2; default 0.7; above 0.5 for checkpoints)
  --meta KEY=VALUE         new: page metadata (authority, contact, about, policy; repeatable)
  --nonce TEXT             new: makes the page id unique (default: random)
  -h, --help               show this help`;

const PAGE_ID = /^[0-9a-f]{64}$/;

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
    feedLog(log, objects);
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

// The log's own text for insufficient power puts the power a threshold needs next to the total
// weight ("0.68 of total weight 2"), which reads as a fraction; say what the numbers are.
function reasonOf(s: ReturnType<PageLog["status"]>): string | undefined {
  if (s.code !== "insufficient-power" || s.power === undefined || s.needed === undefined) {
    return s.reason;
  }
  const track = s.track ? `the ${s.track.kind} threshold` : "its threshold";
  return `approving power ${s.power / 1e6}, ${track} needs ${s.needed / 1e6}`;
}

/** Micro-weight as a weight number (JSON output). */
const weight = (micro: number | undefined) => micro === undefined ? undefined : micro / 1e6;

/** What `page show --json` and `page log --json` say about one event. */
function eventInfo(log: PageLog, e: PageEvent) {
  const id = objectId(e);
  const s = log.status(id);
  return {
    id,
    parent: e.parent,
    height: log.height(id),
    handler: e.handler,
    summary: describeEvent(e),
    status: s.status,
    code: s.code,
    reason: reasonOf(s),
    track: s.track?.kind,
    approvals: log.approvals(id).map((a) => a.key),
    power: weight(s.power),
    needed: weight(s.needed),
  };
}

type EventInfo = ReturnType<typeof eventInfo>;

const short = (key: string) => key.slice(0, 12) + "…";

function eventLines(e: EventInfo, withHeight = false): string[] {
  const why = e.code ? ` (${e.code}${e.reason ? `: ${e.reason}` : ""})` : "";
  const h = withHeight ? `${String(e.height ?? "?").padStart(5)} ` : "";
  const lines = [`  ${h}${e.id}  ${e.status.padEnd(9)} ${e.handler}${why}`, `      ${e.summary}`];
  const by = e.approvals.length
    ? `approved by ${e.approvals.map(short).join(", ")}`
    : "no approval";
  const power = e.power !== undefined && e.needed !== undefined
    ? `; approving power ${e.power}, needs ${e.needed}${e.track ? ` (${e.track} track)` : ""}`
    : "";
  lines.push(`      ${by}${power}`);
  return lines;
}

/** Most accepted events `page show` lists (the newest on the head chain); `page log` has all. */
const SHOW_RECENT = 10;

function showPage(log: PageLog, held: SignedObject[], json: boolean): number {
  const pageId = log.pageId;
  const state = log.state();
  const gov = state.governance;
  const total = Object.values(gov.participants).reduce((n, p) => n + p.weight, 0);
  const chain = log.checkpoints().map((l) => ({
    id: objectId(l.checkpoint),
    height: l.checkpoint.height,
    event: l.checkpoint.event,
    approvals: l.approvals.map((a) => a.key),
  }));
  const pendingCps = pendingCheckpoints(log, held).map((
    p,
  ) => ({
    id: p.id,
    height: p.checkpoint.height,
    event: p.checkpoint.event,
    approvals: p.approvals.map((a) => a.key),
    power: p.power / 1e6,
    needed: p.needed / 1e6,
  }));
  const all = log.events().map((e) => eventInfo(log, e));
  const onChain = new Set(log.headChain());
  const recent = all.filter((e) => e.status === "accepted" && onChain.has(e.id))
    .slice(-SHOW_RECENT);
  const open = all.filter((e) => e.status !== "accepted");
  const participants = Object.entries(gov.participants).map(([key, p]) => ({
    key,
    weight: p.weight,
    name: p.name,
    delegations: p.delegations,
  }));
  const summary = {
    page: pageId,
    head: log.head(),
    height: log.height(log.head()),
    stateHash: log.stateHash(),
    meta: state.meta ?? {},
    branches: state.branches.length,
    thresholds: gov.thresholds,
    totalWeight: total,
    participants,
    checkpoints: chain,
    pendingCheckpoints: pendingCps,
    events: [...recent, ...open],
  };
  if (json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const t = gov.thresholds;
  const needs = (f: number) => Math.round(f * total * 1e6) / 1e6;
  const out = [
    `page          ${pageId}`,
    `head          ${summary.head} (height ${summary.height})`,
    `state hash    ${summary.stateHash}`,
  ];
  for (const [k, v] of Object.entries(summary.meta)) out.push(`meta          ${k}: ${v}`);
  out.push(
    `branches      ${summary.branches}`,
    `thresholds    content ${t.content} (needs ${needs(t.content)} of total weight ${total}), ` +
      `membership ${t.membership} (needs ${needs(t.membership)})`,
    `participants  ${participants.length} (total weight ${total})`,
  );
  for (const p of participants) {
    const d = p.delegations
      ? "  delegates " +
        Object.entries(p.delegations).map(([k, f]) =>
          `${Math.round(f * 1e8) / 1e6}% to ${short(k)}`
        )
          .join(", ")
      : "";
    out.push(`  ${p.key}  weight ${p.weight}${p.name ? ` (${p.name})` : ""}${d}`);
  }
  const last = chain.at(-1);
  out.push(
    `checkpoints   ${chain.length}` +
      (last ? ` (last ${last.id} at height ${last.height})` : ""),
  );
  for (const p of pendingCps) {
    out.push(
      `  pending ${p.id} at height ${p.height}: approved by ` +
        `${p.approvals.map(short).join(", ") || "nobody"}; approving power ${p.power}, ` +
        `needs ${p.needed}`,
    );
  }
  if (recent.length > 0) {
    out.push(`recent accepted changes (the last ${recent.length}; 'page log' has all)`);
    for (const e of recent) out.push(...eventLines(e));
  }
  const pending = open.filter((e) => e.status === "pending");
  out.push(pending.length ? "pending changes" : "pending changes: none");
  for (const e of pending) out.push(...eventLines(e));
  const other = open.filter((e) => e.status !== "pending");
  if (other.length) out.push("rejected and lost-fork changes");
  for (const e of other) out.push(...eventLines(e));
  console.log(out.join("\n"));
  return 0;
}

function logPage(log: PageLog, json: boolean): number {
  const pageId = log.pageId;
  const all = log.events().map((e) => eventInfo(log, e));
  if (json) {
    console.log(JSON.stringify({ page: pageId, head: log.head(), events: all }, null, 2));
    return 0;
  }
  const out = [`page ${pageId}, head ${log.head()}: ${all.length} event(s), oldest first`];
  for (const e of all) out.push(...eventLines(e, true));
  console.log(out.join("\n"));
  return 0;
}

function listPages(store: Store, json: boolean): number {
  const pages = store.listPages().map((p) => {
    let authority: string | undefined;
    try {
      const meta = p.state ? JSON.parse(p.state).meta : undefined;
      if (typeof meta?.authority === "string") authority = meta.authority;
    } catch { /* shown without */ }
    return {
      page: p.pageId,
      following: p.following,
      head: p.headId,
      objects: p.objects,
      bytes: p.bytes,
      authority,
    };
  });
  if (json) {
    console.log(JSON.stringify(pages, null, 2));
    return 0;
  }
  if (pages.length === 0) console.error(`no pages in ${store.dir}`);
  for (const p of pages) {
    console.log(
      `${p.page}  ${p.following ? "followed" : "cached  "}  ${String(p.objects).padStart(6)} ` +
        `objects  head ${p.head ? short(p.head) : "none"}${
          p.authority ? `  ${JSON.stringify(p.authority)}` : ""
        }`,
    );
  }
  return 0;
}

const NEW_OPTIONS = [
  "key",
  "participant",
  "content-threshold",
  "membership-threshold",
  "meta",
  "nonce",
];

async function newPage(values: Record<string, unknown>, rest: string[]): Promise<number> {
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const keyFile = values.key as string | undefined;
  if (!keyFile) throw new UsageError("page new needs --key FILE");
  const given = (values.participant as string[] | undefined) ?? [];
  if (given.length === 0) throw new UsageError("page new needs at least one --participant");
  const participants: Record<string, Participant> = {};
  for (const p of given) {
    const { key, weight } = participantArg(p);
    if (Object.hasOwn(participants, key)) throw new UsageError(`participant ${key} given twice`);
    participants[key] = { weight };
  }
  const thresholds: { content?: number; membership?: number } = {};
  if (values["content-threshold"] !== undefined) {
    thresholds.content = fractionArg(values["content-threshold"] as string, "--content-threshold");
  }
  if (values["membership-threshold"] !== undefined) {
    thresholds.membership = fractionArg(
      values["membership-threshold"] as string,
      "--membership-threshold",
    );
  }
  const meta: Record<string, string> = {};
  for (const m of (values.meta as string[] | undefined) ?? []) {
    const i = m.indexOf("=");
    if (i <= 0) throw new UsageError(`--meta '${m}' is not KEY=VALUE`);
    meta[m.slice(0, i)] = m.slice(i + 1);
  }
  const nonce = (values.nonce as string | undefined) ??
    crypto.getRandomValues(new Uint8Array(16)).toHex();
  return await reportErrors(async () => {
    const key = await readKeyFile(keyFile);
    if (!Object.hasOwn(participants, key.publicHex)) {
      throw new InputError(
        `the key in ${keyFile} (${key.publicHex}) is not among the participants: ` +
          "add it with --participant",
      );
    }
    let genesis;
    try {
      genesis = createGenesis({
        participants,
        thresholds,
        meta: Object.keys(meta).length ? meta : undefined,
        nonce,
      });
    } catch (e) {
      throw new InputError(`invalid page: ${(e as Error).message}`);
    }
    const log = createPageLog(genesis);
    const store = openData(values.data as string | undefined, "create");
    try {
      if (store.getPage(log.pageId)?.headId) {
        throw new InputError(`page ${log.pageId} exists already in ${store.dir}`);
      }
      writeLog(store, log);
    } finally {
      store.close();
    }
    const total = Object.values(participants).reduce((n, p) => n + p.weight, 0);
    console.error(
      `created page with ${given.length} participant(s), total weight ${total}, in ${store.dir}`,
    );
    console.log(log.pageId);
    return 0;
  });
}

/** Runs `djdns page …`; returns the exit status. */
export async function pageMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    data: { type: "string" },
    node: { type: "string" },
    json: { type: "boolean" },
    key: { type: "string" },
    participant: { type: "string", multiple: true },
    "content-threshold": { type: "string" },
    "membership-threshold": { type: "string" },
    meta: { type: "string", multiple: true },
    nonce: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(PAGE_HELP);
    return values.help ? 0 : 2;
  }
  if (command === "new") return await newPage(values, rest);
  const stray = NEW_OPTIONS.find((o) => values[o] !== undefined);
  if (stray) throw new UsageError(`--${stray} applies to 'page new' only`);
  if (!["import", "export", "show", "log", "list"].includes(command)) {
    throw new UsageError(`unknown page command '${command}'`);
  }
  if (command === "import" && rest.length === 0) {
    throw new UsageError("page import needs at least one BUNDLE");
  }
  if (command === "list" && rest.length > 0) {
    throw new UsageError(`unexpected argument '${rest[0]}'`);
  }
  if (command !== "import" && command !== "list") {
    if (rest.length !== 1 || !PAGE_ID.test(rest[0])) {
      throw new UsageError(`page ${command} needs one PAGE-ID (64 hex)`);
    }
  }
  if (values.node !== undefined) {
    if (command !== "show" && command !== "log") {
      throw new UsageError(`--node applies to page show and page log`);
    }
    return await reportErrors(async () => {
      const access = await pageAccess(values);
      try {
        const log = await access.load(rest[0]);
        return command === "log"
          ? logPage(log, Boolean(values.json))
          : showPage(log, await access.pending(rest[0]), Boolean(values.json));
      } finally {
        access.close();
      }
    });
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
    if (command === "log") return logPage(storedLog(store, rest[0]), Boolean(values.json));
    if (command === "list") return listPages(store, Boolean(values.json));
    const pending = readPendingFile(store.dir)[rest[0]] ?? [];
    return showPage(storedLog(store, rest[0]), pending, Boolean(values.json));
  } catch (e) {
    console.error(`djdns: ${(e as Error).message}`);
    return 1;
  } finally {
    store.close();
  }
}
