/**
 * The request/response messages of the sync, fetch and publish streams, their strict parsing,
 * the responder, and the initiator's catch-up procedure (summaries → reconciliation → pull the
 * missing objects → push what the other side lacks → check the advertised head arrived).
 *
 * Pure logic over an injected transport (`call`), so the simulator runs exactly this code.
 * Formats: docs/PROTOCOL.md §15–16.
 *
 * @module
 */
import { encodeObject, objectId, type SignedObject } from "../page/mod.ts";
import { initiate, isDone, type Range, reconcile, ReconcileError } from "./reconcile.ts";
import type { ObjectResult, PageSummary, Replica } from "./replica.ts";

/** Most summaries in one message. */
export const MAX_SUMMARIES = 1024;
/** Most ids asked for in one `want`. */
export const MAX_WANT = 256;
/** Most objects in one `objs` message. */
export const MAX_OBJECTS = 256;
/** Objects of one reply stop growing past this many canonical bytes (one object may exceed it). */
export const REPLY_BYTES = 1024 * 1024;
/** Most reconciliation round trips for one page in one session. */
export const MAX_ROUNDS = 32;

/** A request on `/djdns/sync/1` or `/djdns/fetch/1`. */
export type Request =
  | { readonly t: "sum"; readonly pages: readonly PageSummary[] }
  | { readonly t: "rec"; readonly page: string; readonly ranges: readonly Range[] }
  | { readonly t: "want"; readonly page: string; readonly ids: readonly string[] }
  | { readonly t: "objs"; readonly objects: readonly unknown[] }
  | {
    readonly t: "fetch";
    readonly page: string;
    readonly from: number;
    /** Only what follows this checkpoint (the requester starts from it). */
    readonly after?: string;
  }
  | { readonly t: "snap"; readonly page: string };

/** A response: exactly one per request. */
export type Response =
  | { readonly t: "sum"; readonly pages: readonly PageSummary[] }
  | { readonly t: "rec"; readonly page: string; readonly ranges: readonly Range[] }
  | { readonly t: "objs"; readonly objects: readonly SignedObject[]; readonly next?: number }
  | { readonly t: "res"; readonly results: readonly ObjectResult[] }
  | {
    readonly t: "snap";
    readonly genesis: unknown;
    readonly checkpoints: readonly { checkpoint: unknown; approvals: readonly unknown[] }[];
    readonly state: unknown;
  }
  | { readonly t: "err"; readonly code: string; readonly message: string };

/** A message that does not parse or breaks a limit: the sender is at fault. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** What replication needs from the node. */
export interface SyncHost {
  /** The replica of a page this node holds, if any. */
  replica(pageId: string): Replica | undefined;
  /** Replicas of the pages this node follows. */
  followed(): Replica[];
  /**
   * Verifies, stores and publishes received objects (of any pages), returning one result per
   * object; `source` is the peer they came from (undefined: local); `how`: pushed to us (new
   * objects are gossiped on) or pulled by us.
   */
  ingest(
    objects: readonly unknown[],
    source: string | undefined,
    how: "push" | "pull",
  ): ObjectResult[];
  /** Notes a peer's summary of a page (for the lag shown in status). */
  advertised?(peer: string, summary: PageSummary): void;
  /** Reports a peer that advertised something it did not deliver. */
  undelivered?(peer: string, page: string, head: string): void;
}

const ID = /^[0-9a-f]{64}$/;
const FP = /^[0-9a-f]{32}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fields(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ProtocolError(`${what}: unknown field ${k}`);
  }
}

function id(v: unknown, what: string): string {
  if (typeof v !== "string" || !ID.test(v)) throw new ProtocolError(`${what}: not a 64-hex id`);
  return v;
}

function list(v: unknown, max: number, what: string): unknown[] {
  if (!Array.isArray(v) || v.length > max) {
    throw new ProtocolError(`${what}: a list of at most ${max}`);
  }
  return v;
}

function summary(v: unknown, i: number): PageSummary {
  const what = `summary ${i}`;
  if (!isRecord(v)) throw new ProtocolError(`${what}: not an object`);
  fields(v, ["page", "head", "height", "checkpoint", "n", "fp"], what);
  const { height, n, fp, checkpoint } = v;
  if (!Number.isSafeInteger(height) || (height as number) < 0) {
    throw new ProtocolError(`${what}: bad height`);
  }
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw new ProtocolError(`${what}: bad n`);
  if (typeof fp !== "string" || !FP.test(fp)) throw new ProtocolError(`${what}: bad fp`);
  return {
    page: id(v.page, `${what}.page`),
    head: id(v.head, `${what}.head`),
    height: height as number,
    checkpoint: checkpoint === null ? null : id(checkpoint, `${what}.checkpoint`),
    n: n as number,
    fp,
  };
}

function summaries(v: unknown): PageSummary[] {
  return list(v, MAX_SUMMARIES, "pages").map(summary);
}

function ranges(v: unknown): Range[] {
  // Parsed fully by the reconciler (checkRanges); only the envelope here.
  return list(v, 1 << 16, "ranges") as Range[];
}

/** Parses a received request; throws {@linkcode ProtocolError}. */
export function parseRequest(value: unknown): Request {
  if (!isRecord(value)) throw new ProtocolError("request: not an object");
  switch (value.t) {
    case "sum":
      fields(value, ["t", "pages"], "sum");
      return { t: "sum", pages: summaries(value.pages) };
    case "rec":
      fields(value, ["t", "page", "ranges"], "rec");
      return { t: "rec", page: id(value.page, "rec.page"), ranges: ranges(value.ranges) };
    case "want":
      fields(value, ["t", "page", "ids"], "want");
      return {
        t: "want",
        page: id(value.page, "want.page"),
        ids: list(value.ids, MAX_WANT, "want.ids").map((x, i) => id(x, `want.ids[${i}]`)),
      };
    case "objs":
      fields(value, ["t", "objects"], "objs");
      return { t: "objs", objects: list(value.objects, MAX_OBJECTS, "objs.objects") };
    case "fetch": {
      fields(value, ["t", "page", "from", "after"], "fetch");
      const from = value.from ?? 0;
      if (!Number.isSafeInteger(from) || (from as number) < 0) {
        throw new ProtocolError("fetch.from: a whole number");
      }
      return {
        t: "fetch",
        page: id(value.page, "fetch.page"),
        from: from as number,
        ...(value.after === undefined ? {} : { after: id(value.after, "fetch.after") }),
      };
    }
    case "snap":
      fields(value, ["t", "page"], "snap");
      return { t: "snap", page: id(value.page, "snap.page") };
    default:
      throw new ProtocolError("request: unknown type");
  }
}

/** Parses a received response (as the initiator); throws {@linkcode ProtocolError}. */
export function parseResponse(value: unknown): Response {
  if (!isRecord(value)) throw new ProtocolError("response: not an object");
  switch (value.t) {
    case "sum":
      return { t: "sum", pages: summaries(value.pages) };
    case "rec":
      return { t: "rec", page: id(value.page, "rec.page"), ranges: ranges(value.ranges) };
    case "objs": {
      const next = value.next;
      if (next !== undefined && (!Number.isSafeInteger(next) || (next as number) < 0)) {
        throw new ProtocolError("objs.next: a whole number");
      }
      return {
        t: "objs",
        objects: list(value.objects, MAX_OBJECTS, "objs.objects") as SignedObject[],
        ...(next === undefined ? {} : { next: next as number }),
      };
    }
    case "res":
      return {
        t: "res",
        results: list(value.results, MAX_OBJECTS, "res.results") as ObjectResult[],
      };
    case "snap": {
      if (!Array.isArray(value.checkpoints) || value.checkpoints.length > 1024) {
        throw new ProtocolError("snap.checkpoints: a list of at most 1024");
      }
      return {
        t: "snap",
        genesis: value.genesis,
        checkpoints: value.checkpoints as { checkpoint: unknown; approvals: unknown[] }[],
        state: value.state,
      };
    }
    case "err":
      return {
        t: "err",
        code: String(value.code).slice(0, 64),
        message: String(value.message).slice(0, 500),
      };
    default:
      throw new ProtocolError("response: unknown type");
  }
}

/** Objects from `list` starting at `from`, within {@linkcode MAX_OBJECTS} and the byte budget. */
function chunk(
  list: readonly SignedObject[],
  from: number,
): { objects: SignedObject[]; next?: number } {
  const objects: SignedObject[] = [];
  let bytes = 0;
  let i = from;
  for (; i < list.length && objects.length < MAX_OBJECTS; i++) {
    const size = encodeObject(list[i]).length;
    if (objects.length > 0 && bytes + size > REPLY_BYTES) break;
    bytes += size;
    objects.push(list[i]);
  }
  return i < list.length ? { objects, next: i } : { objects };
}

/**
 * Answers one request. `peer` is the requester (undefined: a local client); objects it pushes
 * are verified by the host like gossip.
 */
export function respond(host: SyncHost, req: Request, peer: string | undefined): Response {
  switch (req.t) {
    case "sum": {
      const pages: PageSummary[] = [];
      for (const s of req.pages) {
        const r = host.replica(s.page);
        if (r) pages.push(r.summary());
      }
      return { t: "sum", pages };
    }
    case "rec": {
      const r = host.replica(req.page);
      if (!r) return { t: "err", code: "unknown-page", message: `page ${req.page} is not held` };
      try {
        return { t: "rec", page: req.page, ranges: reconcile(r.ids, req.ranges) };
      } catch (e) {
        if (e instanceof ReconcileError) throw new ProtocolError(e.message);
        throw e;
      }
    }
    case "want": {
      const r = host.replica(req.page);
      if (!r) return { t: "err", code: "unknown-page", message: `page ${req.page} is not held` };
      return { t: "objs", ...chunk(r.ordered(req.ids), 0) };
    }
    case "fetch": {
      const r = host.replica(req.page);
      if (!r) return { t: "err", code: "unknown-page", message: `page ${req.page} is not held` };
      return { t: "objs", ...chunk(req.after ? r.after(req.after) : r.ordered(), req.from) };
    }
    case "snap": {
      const r = host.replica(req.page);
      if (!r) return { t: "err", code: "unknown-page", message: `page ${req.page} is not held` };
      const snap = r.snapshot();
      if (!snap) return { t: "err", code: "no-checkpoint", message: "no verified checkpoint" };
      // A snapshot must fit one frame with room to spare (the state may be large).
      if (JSON.stringify(snap).length > 8 * 1024 * 1024) {
        return { t: "err", code: "too-large", message: "snapshot larger than a frame" };
      }
      return { t: "snap", ...snap };
    }
    case "objs":
      return { t: "res", results: host.ingest(req.objects, peer, "push") };
  }
}

/** What one catch-up session with a peer did. */
export interface SyncReport {
  /** Pages whose summaries differed. */
  pages: number;
  /** Reconciliation round trips. */
  rounds: number;
  /** Objects pulled (received, whatever their outcome). */
  pulled: number;
  /** Objects pushed. */
  pushed: number;
  /** Pages whose advertised head did not arrive. */
  undelivered: number;
}

/** A transport: sends one request, resolves with the parsed response. */
export type Call = (req: Request) => Promise<Response>;

function expect<T extends Response["t"]>(res: Response, t: T): Extract<Response, { t: T }> {
  if (res.t !== t) {
    throw new ProtocolError(
      res.t === "err" ? `peer: ${res.code}: ${res.message}` : `expected ${t}, got ${res.t}`,
    );
  }
  return res as Extract<Response, { t: T }>;
}

/**
 * Catches up with a peer over `call`: compares summaries of the pages this node follows,
 * reconciles the id sets of those that differ, pulls what is missing, pushes what the peer
 * lacks, and reports a peer whose advertised head did not arrive. Throws ProtocolError when the
 * peer breaks the protocol.
 */
export async function syncWith(host: SyncHost, call: Call, peer: string): Promise<SyncReport> {
  const report: SyncReport = { pages: 0, rounds: 0, pulled: 0, pushed: 0, undelivered: 0 };
  const mine = host.followed();
  // A second pass when we pushed something: what we gave may have let the peer verify objects
  // it held (an orphan's parent), which it can give us now.
  for (let pass = 0; pass < 2; pass++) {
    const pushed = report.pushed;
    for (let i = 0; i < mine.length; i += MAX_SUMMARIES) {
      const batch = mine.slice(i, i + MAX_SUMMARIES);
      const theirs = expect(await call({ t: "sum", pages: batch.map((r) => r.summary()) }), "sum");
      for (const s of theirs.pages) {
        host.advertised?.(peer, s);
        const r = host.replica(s.page);
        if (!r) continue;
        const own = r.summary();
        if (own.fp === s.fp && own.n === s.n) continue;
        report.pages++;
        await syncPage(host, call, peer, r, s, report);
      }
    }
    if (report.pushed === pushed) break;
  }
  return report;
}

async function syncPage(
  host: SyncHost,
  call: Call,
  peer: string,
  r: Replica,
  theirs: PageSummary,
  report: SyncReport,
): Promise<void> {
  const diff = { need: new Set<string>(), have: new Set<string>() };
  let out = initiate(r.ids);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    report.rounds++;
    const reply = expect(await call({ t: "rec", page: r.pageId, ranges: out }), "rec");
    try {
      out = reconcile(r.ids, reply.ranges, diff);
    } catch (e) {
      if (e instanceof ReconcileError) throw new ProtocolError(e.message);
      throw e;
    }
    if (isDone(out)) break;
  }
  // Objects held waiting for their parents are not asked for again (a node started from a
  // checkpoint holds the older history offered to it this way, docs/PROTOCOL.md §19).
  const need = [...diff.need].filter((id) => !r.waiting(id));
  for (let i = 0; i < need.length; i += MAX_WANT) {
    const ids = need.slice(i, i + MAX_WANT);
    let got = expect(await call({ t: "want", page: r.pageId, ids }), "objs");
    const objects = [...got.objects];
    // A reply cut by the byte budget: ask for the rest.
    while (got.next !== undefined && objects.length < ids.length) {
      const rest = ids.filter((x) => !objects.some((o) => safeId(o) === x));
      if (rest.length === 0) break;
      got = expect(await call({ t: "want", page: r.pageId, ids: rest }), "objs");
      if (got.objects.length === 0) break;
      objects.push(...got.objects);
    }
    // Only what was asked for is taken.
    const asked = new Set(ids);
    const taken = objects.filter((o) => asked.has(safeId(o)));
    report.pulled += taken.length;
    host.ingest(taken, peer, "pull");
  }
  const have = r.ordered(diff.have);
  for (let i = 0; i < have.length;) {
    const { objects, next } = chunk(have, i);
    expect(await call({ t: "objs", objects }), "res");
    report.pushed += objects.length;
    i = next ?? have.length;
  }
  if (r.log.height(theirs.head) === undefined) {
    report.undelivered++;
    host.undelivered?.(peer, r.pageId, theirs.head);
  }
}

function safeId(o: unknown): string {
  try {
    return objectId(o as SignedObject);
  } catch {
    return "";
  }
}
