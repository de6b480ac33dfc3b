/**
 * Event handlers: what an event's `handler` and `args` mean. Every handler turns into primitive
 * JSON path operations on the parent state; the paths decide the event's track.
 *
 * - `SET {path, value}` and `DELETE {path}`: DEJE's primitives.
 * - `ADD_BRANCH {branch, index?}`, `REMOVE_BRANCH {index}`: insert / remove a branch.
 * - `ADD_RECORD {branch, record}`, `REMOVE_RECORD {branch, index}`: one record of a branch.
 * - `LINK_PAGE {selector, page, index?}`: a branch delegating names to the signed sub-page
 *   `djdns:<page>`.
 * - `SET_DELEGATIONS {participant, delegations}`: replace (`{}`: remove) a participant's
 *   delegations; on its own it is on the delegator's own track.
 * - `BATCH {ops: [{handler, args}, ...]}`: several of the above, applied in order, atomically.
 *
 * @module
 */
import type { Json, JsonObject } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import { HEX32 } from "./governance.ts";
import { MAX_BATCH_OPS, MAX_PATH_LENGTH } from "./limits.ts";
import type { Op, PathKey } from "./path.ts";

/** Handler names this version knows. */
export const HANDLERS = [
  "SET",
  "DELETE",
  "ADD_BRANCH",
  "REMOVE_BRANCH",
  "ADD_RECORD",
  "REMOVE_RECORD",
  "LINK_PAGE",
  "SET_DELEGATIONS",
  "BATCH",
] as const;

/** One of {@linkcode HANDLERS}. */
export type HandlerName = typeof HANDLERS[number];

/**
 * Which approvals an event needs, decided by the paths it touches:
 * `content` (Track 1) for `meta` and `branches`; `membership` (Track 2) for anything in
 * `governance` or the whole state; `delegation` for changes only inside one participant's
 * `delegations` (that participant's own approval suffices, or Track 2 power).
 */
export type Track =
  | { readonly kind: "content" }
  | { readonly kind: "membership" }
  | { readonly kind: "delegation"; readonly delegator: string };

type Args = Record<string, Json>;

function fail(where: string, what: string): never {
  throw new SignedPageError("malformed", `${where}: ${what}`);
}

function fields(args: Json, required: string[], optional: string[], where: string): Args {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    fail(where, "must be an object");
  }
  const a = args as Args;
  for (const k of Object.keys(a)) {
    if (!required.includes(k) && !optional.includes(k)) fail(where, `unknown field '${k}'`);
  }
  for (const k of required) if (!Object.hasOwn(a, k)) fail(where, `missing field '${k}'`);
  return a;
}

function index(v: Json | undefined, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(where, "must be a non-negative integer");
  }
  return v;
}

function object(v: Json | undefined, where: string): JsonObject {
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(where, "must be an object");
  return v as JsonObject;
}

function path(v: Json | undefined, where: string): PathKey[] {
  if (!Array.isArray(v) || v.length > MAX_PATH_LENGTH) {
    fail(where, `must be a list of at most ${MAX_PATH_LENGTH} keys`);
  }
  return (v as Json[]).map((k, i) => {
    if (typeof k === "string") {
      if (k === "__proto__") fail(`${where}[${i}]`, "key __proto__ is not allowed");
      return k;
    }
    // The location is formatted only for a key that fails (index() would fail the same way).
    return typeof k === "number" && Number.isSafeInteger(k) && k >= 0
      ? k
      : index(k, `${where}[${i}]`);
  });
}

/**
 * Checks a handler name and its arguments without looking at any state. Throws
 * `SignedPageError` ("unknown-handler" or "malformed") naming the argument at fault.
 */
export function checkHandler(handler: unknown, args: Json, where = "event"): void {
  if (typeof handler !== "string" || !(HANDLERS as readonly string[]).includes(handler)) {
    throw new SignedPageError(
      "unknown-handler",
      `${where}.handler: unknown handler ${JSON.stringify(handler)}`,
    );
  }
  const at = `${where}.args`;
  switch (handler as HandlerName) {
    case "SET":
      path(fields(args, ["path", "value"], [], at).path, `${at}.path`);
      return;
    case "DELETE": {
      const p = path(fields(args, ["path"], [], at).path, `${at}.path`);
      if (p.length === 0) fail(`${at}.path`, "cannot delete the root");
      return;
    }
    case "ADD_BRANCH": {
      const a = fields(args, ["branch"], ["index"], at);
      object(a.branch, `${at}.branch`);
      if (a.index !== undefined) index(a.index, `${at}.index`);
      return;
    }
    case "REMOVE_BRANCH":
      index(fields(args, ["index"], [], at).index, `${at}.index`);
      return;
    case "ADD_RECORD": {
      const a = fields(args, ["branch", "record"], [], at);
      index(a.branch, `${at}.branch`);
      object(a.record, `${at}.record`);
      return;
    }
    case "REMOVE_RECORD": {
      const a = fields(args, ["branch", "index"], [], at);
      index(a.branch, `${at}.branch`);
      index(a.index, `${at}.index`);
      return;
    }
    case "LINK_PAGE": {
      const a = fields(args, ["selector", "page"], ["index"], at);
      if (typeof a.selector !== "string") fail(`${at}.selector`, "must be a string");
      if (typeof a.page !== "string" || !HEX32.test(a.page)) {
        fail(`${at}.page`, "must be a page id (64 lowercase hex)");
      }
      if (a.index !== undefined) index(a.index, `${at}.index`);
      return;
    }
    case "SET_DELEGATIONS": {
      const a = fields(args, ["participant", "delegations"], [], at);
      if (typeof a.participant !== "string" || !HEX32.test(a.participant)) {
        fail(`${at}.participant`, "must be a public key (64 lowercase hex)");
      }
      object(a.delegations, `${at}.delegations`);
      return;
    }
    case "BATCH": {
      const ops = fields(args, ["ops"], [], at).ops;
      if (!Array.isArray(ops) || ops.length === 0 || ops.length > MAX_BATCH_OPS) {
        fail(`${at}.ops`, `must be a list of 1..${MAX_BATCH_OPS} operations`);
      }
      (ops as Json[]).forEach((op, i) => {
        const o = fields(op, ["handler", "args"], [], `${at}.ops[${i}]`);
        if (o.handler === "BATCH") fail(`${at}.ops[${i}].handler`, "BATCH cannot nest");
        checkHandler(o.handler, o.args, `${at}.ops[${i}]`);
      });
      return;
    }
  }
}

function branchCount(state: Json): number {
  const b = (state as JsonObject).branches;
  return Array.isArray(b) ? b.length : 0;
}

/**
 * The primitive operations of a checked handler call against `state` (the state it applies to:
 * the parent state, or inside a BATCH the state after the previous operations). Convenience
 * handlers need the state only to find the end of a list.
 */
export function handlerOps(handler: HandlerName, args: Json, state: Json): Op[] {
  const a = args as Args;
  switch (handler) {
    case "SET":
      return [{ op: "set", path: a.path as PathKey[], value: a.value }];
    case "DELETE":
      return [{ op: "delete", path: a.path as PathKey[] }];
    case "ADD_BRANCH":
      return [{
        op: "insert",
        path: ["branches", (a.index as number | undefined) ?? branchCount(state)],
        value: a.branch,
      }];
    case "REMOVE_BRANCH":
      return [{ op: "delete", path: ["branches", a.index as number] }];
    case "ADD_RECORD": {
      const b = ((state as JsonObject).branches as JsonObject[] | undefined)?.[a.branch as number];
      const records = b?.records;
      // A branch may omit `records`; the first record creates the list.
      if (b !== undefined && (records === undefined || records === null)) {
        return [{
          op: "set",
          path: ["branches", a.branch as number, "records"],
          value: [a.record],
        }];
      }
      const end = Array.isArray(records) ? records.length : 0;
      return [{
        op: "insert",
        path: ["branches", a.branch as number, "records", end],
        value: a.record,
      }];
    }
    case "REMOVE_RECORD":
      return [{
        op: "delete",
        path: ["branches", a.branch as number, "records", a.index as number],
      }];
    case "LINK_PAGE":
      return [{
        op: "insert",
        path: ["branches", (a.index as number | undefined) ?? branchCount(state)],
        value: { selector: a.selector, targets: [`djdns:${a.page}`], records: [] },
      }];
    case "SET_DELEGATIONS": {
      const p = ["governance", "participants", a.participant as string, "delegations"];
      return Object.keys(a.delegations as JsonObject).length === 0
        ? [{ op: "delete", path: p }]
        : [{ op: "set", path: p, value: a.delegations }];
    }
    case "BATCH":
      // Expanded by the caller, which must apply each operation before expanding the next.
      throw new Error("BATCH is expanded by applyEvent");
  }
}

// The two tracks without a parameter, shared (frozen: they are handed out in EventStatus).
const CONTENT: Track = Object.freeze({ kind: "content" });
const MEMBERSHIP: Track = Object.freeze({ kind: "membership" });

/** The track of one operation path. */
export function pathTrack(p: readonly PathKey[]): Track {
  if (p.length === 0) return MEMBERSHIP;
  if (p[0] !== "governance") return CONTENT;
  if (p.length >= 4 && p[1] === "participants" && p[3] === "delegations") {
    return { kind: "delegation", delegator: p[2] as string };
  }
  return MEMBERSHIP;
}

/**
 * The track of an event from all the paths it touches: any membership path, or a mix of kinds or
 * of delegators, makes it Track 2 (membership); otherwise the common kind.
 */
export function combineTracks(tracks: readonly Track[]): Track {
  let out: Track | undefined;
  for (const t of tracks) {
    if (t.kind === "membership") return t;
    if (out === undefined) out = t;
    else if (
      out.kind !== t.kind ||
      (out.kind === "delegation" && t.kind === "delegation" && out.delegator !== t.delegator)
    ) return MEMBERSHIP;
  }
  return out ?? CONTENT;
}
