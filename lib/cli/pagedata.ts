/**
 * Where the moderator commands (`propose`, `approve`, `delegate`, `checkpoint`, `zone import`…)
 * read a page and put what they sign: a data directory no running node owns (`--data DIR`), or a
 * running node reached as a peer (`--node HOST:PORT`). Either way the page is verified from its
 * genesis by the page engine before anything is signed, and what is written is verified again:
 * into the store in one transaction with the page's new head (exactly as `page import` does), or
 * published to the node. On any error nothing is written.
 *
 * @module
 */
import {
  type Approval,
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  createPageLog,
  objectId,
  type PageLog,
  type SignedObject,
} from "../page/mod.ts";
import {
  loadPageLog,
  openStore,
  pageLogBatch,
  resolveDataDir,
  type Store,
  StoreError,
} from "../store/mod.ts";
import { UsageError } from "./usage.ts";

/** Thrown for bad input data or state (exit status 1, the message on one line). */
export class InputError extends Error {
  /** Creates an input error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** 64 lowercase hex digits. */
export const HEX64 = /^[0-9a-f]{64}$/;

/** Checks a PAGE-ID (or other id) argument. */
export function idArg(text: string | undefined, what = "PAGE-ID"): string {
  if (text === undefined) throw new UsageError(`missing ${what}`);
  if (!HEX64.test(text)) throw new UsageError(`${what} '${text}' is not 64 lowercase hex digits`);
  return text;
}

/** Options every page-changing command takes. */
export const ACCESS_OPTIONS = {
  data: { type: "string" },
  node: { type: "string" },
} as const;

/** Help lines of {@linkcode ACCESS_OPTIONS}. */
export const ACCESS_HELP =
  `  --data DIR               work on the data directory DIR (no node may be running on it)
  --node HOST:PORT         work through the running node at HOST:PORT (its gossip port)`;

/** A page's verified log, and how to put new objects next to it. */
export interface PageAccess {
  /** Where, for messages. */
  readonly describe: string;
  /** The verified log of a page; InputError when the page is not held. */
  load(pageId: string): Promise<PageLog>;
  /**
   * Stores or publishes `added` (objects already fed into `log`, which verified them). With a
   * data directory the whole log is written in one transaction with its head.
   */
  submit(log: PageLog, added: SignedObject[]): Promise<void>;
  /**
   * Checkpoints of the page that are not valid yet (too little approving power) and their
   * approvals, as held: unverified, for {@linkcode pendingCheckpoints} to check.
   */
  pending(pageId: string): Promise<SignedObject[]>;
  /**
   * Keeps (data directory: `keep` replaces what is held for the page) or publishes (node: `added`)
   * checkpoint proposals and approvals that are not valid yet.
   */
  submitPending(pageId: string, keep: SignedObject[], added: SignedObject[]): Promise<void>;
  /** Releases the data directory. */
  close(): void;
}

/** Node client hooks (lib/cli/node_client.ts sets them once the network layer provides them). */
export interface NodeClient {
  fetchPage(addr: string, pageId: string): Promise<SignedObject[]>;
  publish(addr: string, objects: SignedObject[]): Promise<void>;
}

let nodeClient: (() => Promise<NodeClient | undefined>) | undefined;

/** Installs the loader of the node client (see {@linkcode NodeClient}). */
export function setNodeClient(load: () => Promise<NodeClient | undefined>): void {
  nodeClient = load;
}

/** The data directory opened for a command; StoreErrors become InputErrors. */
export function openData(dir: string | undefined, mode: "read" | "write" | "create"): Store {
  if (dir === "") throw new UsageError("--data needs a directory");
  const path = resolveDataDir(dir);
  try {
    return mode === "read"
      ? openStore(path, { readOnly: true })
      : openStore(path, { create: mode === "create" });
  } catch (e) {
    if (e instanceof StoreError) throw new InputError(e.message);
    throw e;
  }
}

/** The verified log of a stored page, or InputError. */
export function storedLog(store: Store, pageId: string): PageLog {
  if (!store.getPage(pageId)?.headId) {
    throw new InputError(`page ${pageId} is not in the data directory ${store.dir}`);
  }
  try {
    return loadPageLog(store, pageId);
  } catch (e) {
    throw new InputError(`page ${pageId}: ${(e as Error).message}`);
  }
}

/** Writes a verified log (all its objects and its head) in one transaction; follows the page. */
export function writeLog(store: Store, log: PageLog): void {
  const batch = pageLogBatch(log);
  batch.follow = [{ pageId: log.pageId, following: true }];
  try {
    store.putBatch(batch);
  } catch (e) {
    if (e instanceof StoreError) throw new InputError(e.message);
    throw e;
  }
}

/**
 * Checkpoint proposals that do not have enough approvals yet live beside the store, in this file
 * of the data directory (the store keeps only verified objects): a JSON object mapping page ids to
 * lists of checkpoint and checkpoint-approval objects. It is written atomically, only by a
 * process holding the directory's lock, and everything in it is verified again when read.
 */
export const PENDING_CHECKPOINTS_FILE = "pending-checkpoints.json";

/** Largest pending-checkpoints file read. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/** The pending checkpoint objects of every page held in a data directory's file. */
export function readPendingFile(dir: string): Record<string, SignedObject[]> {
  const path = `${dir}/${PENDING_CHECKPOINTS_FILE}`;
  let text: string;
  try {
    if (Deno.statSync(path).size > MAX_PENDING_BYTES) {
      throw new InputError(`${path}: larger than ${MAX_PENDING_BYTES} bytes`);
    }
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InputError(`${path}: not JSON (remove it to drop the pending checkpoints)`);
  }
  const out: Record<string, SignedObject[]> = {};
  if (v === null || typeof v !== "object" || Array.isArray(v)) return out;
  for (const [page, list] of Object.entries(v as Record<string, unknown>)) {
    if (!HEX64.test(page) || !Array.isArray(list)) continue;
    const objs: SignedObject[] = [];
    for (const raw of list) {
      try {
        const o = checkObject(raw);
        if (o.type === "checkpoint" || o.type === "checkpoint-approval") objs.push(o);
      } catch { /* not an object of ours: dropped */ }
    }
    out[page] = objs;
  }
  return out;
}

function dataAccess(dir: string | undefined): PageAccess {
  const store = openData(dir, "write");
  return {
    describe: `data directory ${store.dir}`,
    load: (pageId) => Promise.resolve(storedLog(store, pageId)),
    submit(log) {
      writeLog(store, log);
      return Promise.resolve();
    },
    pending: (pageId) => Promise.resolve(readPendingFile(store.dir)[pageId] ?? []),
    async submitPending(pageId, keep) {
      const all = readPendingFile(store.dir);
      if (keep.length > 0) all[pageId] = keep;
      else delete all[pageId];
      await writeFileAtomic(
        `${store.dir}/${PENDING_CHECKPOINTS_FILE}`,
        JSON.stringify(all) + "\n",
        0o600,
      );
    },
    close: () => store.close(),
  };
}

/**
 * Verifies a page's objects as fetched from anywhere into a log of that page. Checkpoints that do
 * not verify yet (pending approvals) are returned apart, with their approvals.
 */
export function verifiedLog(
  pageId: string,
  objects: readonly SignedObject[],
): { log: PageLog; pending: SignedObject[] } {
  const genesis = objects.find((o) => o.type === "genesis" && objectId(o) === pageId);
  if (genesis === undefined || genesis.type !== "genesis") {
    throw new InputError(`page ${pageId}: no genesis with that id`);
  }
  const log = createPageLog(genesis);
  const rest = objects.filter((o) => o !== genesis);
  const isCp = (o: SignedObject) => o.type === "checkpoint" || o.type === "checkpoint-approval";
  feedLog(log, rest.filter((o) => !isCp(o)).map((obj, i) => ({ obj, where: `object ${i}` })));
  // Checkpoints one at a time, in height order: the first that does not verify and everything
  // after it are pending.
  const cps = rest.filter((o) => o.type === "checkpoint") as Checkpoint[];
  cps.sort((a, b) => a.height - b.height);
  const approvalsOf = (id: string) =>
    rest.filter((o) =>
      o.type === "checkpoint-approval" && o.checkpoint === id
    ) as CheckpointApproval[];
  const pending: SignedObject[] = [];
  if (cps.length > 0) log.head();
  for (const cp of cps) {
    const approvals = approvalsOf(objectId(cp));
    if (pending.length === 0) {
      try {
        log.addCheckpoint({ checkpoint: cp, approvals });
        continue;
      } catch { /* not (yet) valid here */ }
    }
    pending.push(cp, ...approvals);
  }
  return { log, pending };
}

/** Bundles are the operator's input: every object is verified, but not bounded by the pools. */
const LOCAL = { source: "import", trusted: true } as const;

/**
 * Feeds objects into `log` (events and evidence first, then approvals, then checkpoints in height
 * order); any refusal is an InputError naming the object.
 */
export function feedLog(log: PageLog, objects: { obj: SignedObject; where: string }[]): void {
  const links = new Map<string, { checkpoint?: Checkpoint; approvals: CheckpointApproval[] }>();
  const approvals: { obj: Approval; where: string }[] = [];
  for (const { obj, where } of objects) {
    try {
      if (obj.type === "event") log.addEvent(obj, LOCAL);
      else if (obj.type === "evidence") log.addEvidence(obj, LOCAL);
      else if (obj.type === "checkpoint-evidence") log.addCheckpointEvidence(obj, LOCAL);
      else if (obj.type === "approval") approvals.push({ obj, where });
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
  // Approvals after events, so none waits for an event that comes later.
  for (const { obj, where } of approvals) {
    try {
      log.addApproval(obj, LOCAL);
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
  }
  const chain = [...links.values()].filter((l) => l.checkpoint).sort((a, b) =>
    a.checkpoint!.height - b.checkpoint!.height
  );
  if (chain.length > 0) log.head();
  const known = new Set(log.checkpoints().map((l) => objectId(l.checkpoint)));
  for (const link of chain) {
    if (known.has(objectId(link.checkpoint!))) continue;
    try {
      log.addCheckpoint({ checkpoint: link.checkpoint!, approvals: link.approvals });
    } catch (e) {
      throw new InputError(`checkpoint ${objectId(link.checkpoint!)}: ${(e as Error).message}`);
    }
  }
}

async function nodeAccess(addr: string): Promise<PageAccess> {
  const client = await nodeClient?.();
  if (client === undefined) {
    throw new InputError(
      `--node ${addr}: this build cannot reach a node yet (no network client); use --data DIR`,
    );
  }
  const pendingByPage = new Map<string, SignedObject[]>();
  const publish = async (added: SignedObject[]) => {
    if (added.length === 0) return;
    try {
      await client.publish(addr, added);
    } catch (e) {
      throw new InputError(`node ${addr}: ${(e as Error).message}`);
    }
  };
  return {
    describe: `node ${addr}`,
    async load(pageId) {
      let objects: SignedObject[];
      try {
        objects = await client.fetchPage(addr, pageId);
      } catch (e) {
        throw new InputError(`node ${addr}: ${(e as Error).message}`);
      }
      if (objects.length === 0) throw new InputError(`page ${pageId} is not held by node ${addr}`);
      const { log, pending } = verifiedLog(pageId, objects);
      pendingByPage.set(pageId, pending);
      return log;
    },
    submit: (_log, added) => publish(added),
    pending: (pageId) => Promise.resolve(pendingByPage.get(pageId) ?? []),
    submitPending: (_pageId, _keep, added) => publish(added),
    close() {},
  };
}

/** The access chosen by `--data` / `--node` (exactly one; `--data` alone may use the default). */
export async function pageAccess(values: Record<string, unknown>): Promise<PageAccess> {
  const data = values.data as string | undefined;
  const node = values.node as string | undefined;
  if (data !== undefined && node !== undefined) {
    throw new UsageError("--data and --node exclude each other");
  }
  if (node !== undefined) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$/.test(node)) {
      throw new UsageError(`--node '${node}' is not HOST:PORT`);
    }
    return await nodeAccess(node);
  }
  return dataAccess(data);
}

/** Runs a command body, turning InputError (and store errors) into one line and status 1. */
export async function reportErrors(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof InputError || e instanceof StoreError) {
      // One line, whatever a message quotes (a JSON error quotes the input it choked on).
      console.error(`djdns: ${e.message.replace(/\s*[\r\n]+\s*/g, " ")}`);
      return 1;
    }
    throw e;
  }
}

/**
 * Writes `text` to `path` atomically (a temporary file in the same directory, synced, then
 * renamed over `path`): readers see the old file or the new one, never a part.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const slash = path.lastIndexOf("/");
  const tmp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${crypto.randomUUID()}.tmp`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      const bytes = new TextEncoder().encode(text);
      for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    const why = e instanceof Deno.errors.NotFound
      ? "no such directory"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : (e as Error).message.split("\n")[0];
    throw new InputError(`${path}: ${why}`);
  }
}

/**
 * Reads a text file of at most `max` bytes (checked before reading, so a huge or endless file is
 * refused rather than read into memory). InputError with one line otherwise.
 */
export async function readInputFile(path: string, max: number): Promise<string> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) throw new InputError(`${path}: not a regular file`);
    if (info.size > max) throw new InputError(`${path}: larger than ${max} bytes`);
    const buf = new Uint8Array(info.size);
    let at = 0;
    while (at < buf.length) {
      const n = await file.read(buf.subarray(at));
      if (n === null) break;
      at += n;
    }
    return new TextDecoder().decode(buf.subarray(0, at));
  } catch (e) {
    if (e instanceof InputError) throw e;
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : (e as Error).message.split("\n")[0];
    throw new InputError(`${path}: ${why}`);
  } finally {
    file?.close();
  }
}
