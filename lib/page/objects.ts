/**
 * The signed objects of djdns pages, their canonical byte form, ids and decoders.
 *
 * Every object is a JSON object with `type` and `v` (format version, 1 here); its bytes are the
 * RFC 8785 canonical JSON and its id is the lowercase hex SHA-256 of those bytes. Signatures never
 * cover JSON: they cover a binary message that starts with an ASCII domain tag naming the object
 * kind and version (`djdns/approval/v1`, NUL), so a signature for one kind or version can never be
 * read as one for another, and no signed message is ever valid JSON.
 *
 * @module
 */
import { verify, verifyHexKey } from "../crypto/mod.ts";
import { canonicalize, decodeCanonical, type Json, sha256Hex } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import { type Governance, validateGovernance } from "./governance.ts";
import { checkHandler, type HandlerName, HANDLERS } from "./handlers.ts";
import {
  MAX_APPROVAL_BYTES,
  MAX_CHECKPOINT_BYTES,
  MAX_EVENT_BYTES,
  MAX_GENESIS_BYTES,
  MAX_NONCE_LENGTH,
} from "./limits.ts";
import { type PageState, validateState } from "./state.ts";

const encoder = new TextEncoder();

/** The format version this implementation reads and writes. */
export const VERSION = 1;

/** The first event of a page; its id is the page id. Accepted by definition. */
export interface Genesis {
  readonly type: "genesis";
  readonly v: 1;
  /** The initial state. */
  readonly state: PageState;
  /** Optional free string that lets two pages start from equal states with distinct ids. */
  readonly nonce?: string;
}

/** A proposed change: a handler with arguments, applied on top of the parent event's state. */
export interface PageEvent {
  readonly type: "event";
  readonly v: 1;
  /** Page id (genesis id). */
  readonly page: string;
  /** Id of the parent event (the genesis id for the first change). */
  readonly parent: string;
  /** What to do; see handlers.ts. */
  readonly handler: HandlerName;
  /** Arguments of the handler. */
  readonly args: Json;
}

/** A participant's Ed25519 signature approving one event. */
export interface Approval {
  readonly type: "approval";
  readonly v: 1;
  /** Page id. */
  readonly page: string;
  /** Parent of the approved event: signed, so that two approvals prove equivocation alone. */
  readonly parent: string;
  /** Id of the approved event. */
  readonly event: string;
  /** Signer's raw public key, hex. */
  readonly key: string;
  /** Signature over {@linkcode approvalMessage}, hex (64 bytes). */
  readonly sig: string;
}

/** Proof that one key approved two different children of one parent. */
export interface Evidence {
  readonly type: "evidence";
  readonly v: 1;
  /** The approval of the child with the lower id. */
  readonly first: Approval;
  /** The approval of the child with the higher id. */
  readonly second: Approval;
}

/** "The state at `event` hashes to `stateHash`", approved on Track 2; a chain per page. */
export interface Checkpoint {
  readonly type: "checkpoint";
  readonly v: 1;
  /** Page id. */
  readonly page: string;
  /** Id of the previous checkpoint, or null for the first (approved under the genesis state). */
  readonly prev: string | null;
  /** Id of the event whose state is committed to. */
  readonly event: string;
  /** Number of events from the genesis (height 0) to `event`. */
  readonly height: number;
  /** {@linkcode stateHash} of the state at `event`. */
  readonly stateHash: string;
  /** The governance of that state: the next checkpoint is approved under it. */
  readonly governance: Governance;
}

/** A participant's signature approving one checkpoint. */
export interface CheckpointApproval {
  readonly type: "checkpoint-approval";
  readonly v: 1;
  /** Page id. */
  readonly page: string;
  /** Id of the approved checkpoint. */
  readonly checkpoint: string;
  /** Signer's raw public key, hex. */
  readonly key: string;
  /** Signature over {@linkcode checkpointApprovalMessage}, hex. */
  readonly sig: string;
}

/**
 * Proof that one key approved two different checkpoints. Together with the two checkpoints (when
 * they extend the same `prev`) it is checkpoint equivocation (docs/PROTOCOL.md §9).
 */
export interface CheckpointEvidence {
  readonly type: "checkpoint-evidence";
  readonly v: 1;
  /** The approval of the checkpoint with the lower id. */
  readonly first: CheckpointApproval;
  /** The approval of the checkpoint with the higher id. */
  readonly second: CheckpointApproval;
}

/** Any signed-page object. */
export type SignedObject =
  | Genesis
  | PageEvent
  | Approval
  | Evidence
  | Checkpoint
  | CheckpointApproval
  | CheckpointEvidence;

/** Size limit of each object type's canonical encoding, in bytes. */
export const MAX_BYTES: { readonly [T in SignedObject["type"]]: number } = {
  genesis: MAX_GENESIS_BYTES,
  event: MAX_EVENT_BYTES,
  approval: MAX_APPROVAL_BYTES,
  evidence: 2 * MAX_APPROVAL_BYTES + 64,
  checkpoint: MAX_CHECKPOINT_BYTES,
  "checkpoint-approval": MAX_APPROVAL_BYTES,
  "checkpoint-evidence": 2 * MAX_APPROVAL_BYTES + 64,
};

function fail(where: string, what: string): never {
  throw new SignedPageError("malformed", `${where}: ${what}`);
}

function shape(
  value: unknown,
  type: SignedObject["type"] | undefined,
  required: string[],
  optional: string[],
  where: string,
): Record<string, Json> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(where, "must be a JSON object");
  }
  const o = value as Record<string, Json>;
  shapeHeader(o, type, where);
  for (const k of Object.keys(o)) {
    if (k !== "type" && k !== "v" && !required.includes(k) && !optional.includes(k)) {
      fail(where, `unknown field '${k}'`);
    }
  }
  for (const k of required) if (!Object.hasOwn(o, k)) fail(where, `missing field '${k}'`);
  return o;
}

// 1 for the character codes of lowercase hex digits. Every approval carries four ids and a
// signature in hex; a table lookup per character checks them 1.4-2x as fast as the regexps
// /^[0-9a-f]{64}$/ and /^[0-9a-f]{128}$/ (measured), with the same verdicts.
const HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdef") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** True when `v` is a string of exactly `length` lowercase hex digits. */
function isLowerHex(v: Json | undefined, length: number): boolean {
  if (typeof v !== "string" || v.length !== length) return false;
  for (let i = 0; i < length; i++) if (HEX_DIGIT[v.charCodeAt(i)] !== 1) return false;
  return true;
}

// `where` and `field` name the value; they are joined only to report a failure (formatting a
// location per field of every object cost as much as checking it).
function hex32(v: Json | undefined, where: string, field: string): void {
  if (!isLowerHex(v, 64)) fail(`${where}.${field}`, "must be 64 lowercase hex digits");
}

function sigHex(v: Json | undefined, where: string, field: string): void {
  if (!isLowerHex(v, 128)) fail(`${where}.${field}`, "must be 128 lowercase hex digits");
}

const APPROVAL_FIELDS = ["page", "parent", "event", "key", "sig"];
const EVENT_FIELDS = ["page", "parent", "handler", "args"];
const NO_FIELDS: string[] = [];

/**
 * Ids a caller has validated already (each 64 lowercase hex digits): the page id, the last event
 * it took (its approvals, and its child, usually come next) and that event's parent. An id field
 * of an approval or event equal to one of them is valid without being scanned again (comparing
 * two equal strings costs less than scanning one).
 */
export interface KnownIds {
  readonly page: string;
  readonly event: string;
  readonly parent: string;
  /** Keys of the last few approvals taken (64 lowercase hex digits each). */
  readonly keys: readonly string[];
}

/** True when `v` is 64 lowercase hex digits: one of `known`, or scanned. */
function isId(v: Json | undefined, known: KnownIds | undefined): boolean {
  if (known !== undefined && (v === known.page || v === known.event || v === known.parent)) {
    return true;
  }
  return isLowerHex(v, 64);
}

/** hex32() for an id that may be one of `known` (equal to a valid id: valid). */
function id32(v: Json | undefined, where: string, field: string, known?: KnownIds): void {
  if (!isId(v, known)) fail(`${where}.${field}`, "must be 64 lowercase hex digits");
}

const APPROVAL_KEYS: ReadonlySet<string> = new Set(["type", "v", ...APPROVAL_FIELDS]);

/** True when `o`'s own enumerable keys are exactly an approval's seven fields. */
function hasApprovalFields(o: object): boolean {
  const keys = Object.keys(o);
  if (keys.length !== APPROVAL_KEYS.size) return false;
  for (const k of keys) if (!APPROVAL_KEYS.has(k)) return false;
  return true;
}

function checkApprovalShape(value: unknown, where: string, known?: KnownIds): Approval {
  // The fields of nearly every approval are exactly right: tested in one pass over its keys;
  // anything else goes through shape(), which says what is wrong.
  const o = value !== null && typeof value === "object" && !Array.isArray(value) &&
      (value as Record<string, Json>).type === "approval" &&
      (value as Record<string, Json>).v === VERSION && hasApprovalFields(value)
    ? value as Record<string, Json>
    : shape(value, "approval", APPROVAL_FIELDS, NO_FIELDS, where);
  id32(o.page, where, "page", known);
  id32(o.parent, where, "parent", known);
  id32(o.event, where, "event", known);
  if (known === undefined || !known.keys.includes(o.key as string)) hex32(o.key, where, "key");
  sigHex(o.sig, where, "sig");
  return o as unknown as Approval;
}

/**
 * `checkObject(value, "approval", where)` for a caller that holds validated ids (see
 * {@linkcode KnownIds}): the same result and the same errors, fewer hex scans.
 */
export function checkApproval(value: unknown, where: string, known: KnownIds): Approval {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(where, "must be a JSON object");
  }
  shapeHeader(value as Record<string, Json>, "approval", where);
  // As in checkObject: its fields are strings and a number, so freezing it is freezing it deeply.
  return Object.freeze(checkApprovalShape(value, where, known));
}

const EVENT_KEYS: ReadonlySet<string> = new Set(["args", "handler", "page", "parent", "type", "v"]);

/**
 * True for an event (type and version already checked) with exactly the fields of an event, a
 * plain object, lowercase-hex page and parent ids and a known handler: every well-formed event.
 * checkByType() then checks only its handler call.
 */
function isShapedEvent(o: Record<string, Json>, known: KnownIds | undefined): boolean {
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(o);
  if (keys.length !== EVENT_KEYS.size) return false;
  for (const k of keys) if (!EVENT_KEYS.has(k)) return false;
  return isId(o.page, known) && isId(o.parent, known) &&
    typeof o.handler === "string" && (HANDLERS as readonly string[]).includes(o.handler);
}

/** `shaped`: an event isShapedEvent() accepted (only its handler call is left to check). */
function checkByType(o: Record<string, Json>, where: string, shaped: boolean): void {
  switch (o.type as SignedObject["type"]) {
    case "genesis": {
      shape(o, "genesis", ["state"], ["nonce"], where);
      if (
        o.nonce !== undefined &&
        (typeof o.nonce !== "string" || o.nonce.length > MAX_NONCE_LENGTH)
      ) fail(`${where}.nonce`, `must be a string of at most ${MAX_NONCE_LENGTH} characters`);
      validateState(o.state, `${where}.state`);
      return;
    }
    case "event":
      if (!shaped) {
        shape(o, "event", EVENT_FIELDS, NO_FIELDS, where);
        hex32(o.page, where, "page");
        hex32(o.parent, where, "parent");
      }
      checkHandler(o.handler, o.args, where);
      return;
    case "approval":
      checkApprovalShape(o, where);
      return;
    case "evidence": {
      shape(o, "evidence", ["first", "second"], [], where);
      const a = checkApprovalShape(o.first, `${where}.first`);
      const b = checkApprovalShape(o.second, `${where}.second`);
      if (a.key !== b.key || a.page !== b.page || a.parent !== b.parent || !(a.event < b.event)) {
        throw new SignedPageError(
          "bad-evidence",
          `${where}: not two approvals by one key of different children of one parent, ` +
            "lower event id first",
        );
      }
      return;
    }
    case "checkpoint": {
      shape(
        o,
        "checkpoint",
        ["page", "prev", "event", "height", "stateHash", "governance"],
        [],
        where,
      );
      hex32(o.page, where, "page");
      if (o.prev !== null) hex32(o.prev, where, "prev");
      hex32(o.event, where, "event");
      hex32(o.stateHash, where, "stateHash");
      if (typeof o.height !== "number" || !Number.isSafeInteger(o.height) || o.height < 1) {
        fail(`${where}.height`, "must be a positive integer");
      }
      try {
        validateGovernance(o.governance, `${where}.governance`);
      } catch (e) {
        if (e instanceof SignedPageError) throw new SignedPageError("malformed", e.message);
        throw e;
      }
      return;
    }
    case "checkpoint-approval":
      checkCheckpointApprovalShape(o, where);
      return;
    case "checkpoint-evidence": {
      shape(o, "checkpoint-evidence", ["first", "second"], [], where);
      const a = checkCheckpointApprovalShape(o.first, `${where}.first`);
      const b = checkCheckpointApprovalShape(o.second, `${where}.second`);
      if (a.key !== b.key || a.page !== b.page || !(a.checkpoint < b.checkpoint)) {
        throw new SignedPageError(
          "bad-evidence",
          `${where}: not two approvals by one key of different checkpoints of one page, ` +
            "lower checkpoint id first",
        );
      }
      return;
    }
  }
}

function checkCheckpointApprovalShape(value: unknown, where: string): CheckpointApproval {
  const o = shape(value, "checkpoint-approval", ["page", "checkpoint", "key", "sig"], [], where);
  hex32(o.page, where, "page");
  hex32(o.checkpoint, where, "checkpoint");
  hex32(o.key, where, "key");
  sigHex(o.sig, where, "sig");
  return o as unknown as CheckpointApproval;
}

/**
 * Checks that `value` is a well-formed signed object (of `type`, when given): known type and
 * version, exactly the fields of that type, valid states and governance, known handlers with
 * well-formed arguments, the size limit of its type. Signatures are not checked here (see
 * {@linkcode verifyApproval}). Returns it deep-frozen. Throws `SignedPageError` naming the part at
 * fault: "unknown-type", "unsupported-version", "malformed", "invalid-state", "unknown-handler",
 * "bad-evidence" or "too-large".
 */
export function checkObject<T extends SignedObject["type"]>(
  value: unknown,
  type?: T,
  where: string = type ?? "object",
): Extract<SignedObject, { type: T }> {
  return checkObjectKnowing(value, type, where, undefined);
}

/**
 * `checkObject(value, "event")` for a caller that holds validated ids (see
 * {@linkcode KnownIds}): the same result and the same errors, fewer hex scans.
 */
export function checkEvent(value: unknown, known: KnownIds): PageEvent {
  return checkObjectKnowing(value, "event", "event", known);
}

function checkObjectKnowing<T extends SignedObject["type"]>(
  value: unknown,
  type: T | undefined,
  where: string,
  known: KnownIds | undefined,
): Extract<SignedObject, { type: T }> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(where, "must be a JSON object");
  }
  const o = value as Record<string, Json>;
  shapeHeader(o, type, where);
  const t = o.type as SignedObject["type"];
  let text: string | undefined;
  // Approvals and evidence have fixed-size fields, checked below: no need to measure them.
  if (
    t !== "approval" && t !== "checkpoint-approval" && t !== "evidence" &&
    t !== "checkpoint-evidence"
  ) {
    text = canonicalize(o, where);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: measure exactly only near the limit. (The
    // type asked for, when it is this one, is a constant: no string-table lookup of `t`.)
    const max = t === type ? MAX_BYTES[type] : MAX_BYTES[t];
    const size = text.length * 3 <= max ? 0 : encoder.encode(text).length;
    if (size > max) {
      throw new SignedPageError("too-large", `${where}: ${size} bytes, limit ${max} for ${t}`);
    }
  }
  const shaped = t === "event" && isShapedEvent(o, known);
  checkByType(o, where, shaped);
  // Entries exist for frozen objects only: a fresh object has none (no lookup needed).
  const prior = Object.isFrozen(o) ? canon.get(o) : undefined;
  // The fields of (checkpoint) approvals were just checked to be strings and a number: freezing
  // the object itself is freezing it deeply.
  if (t === "approval" || t === "checkpoint-approval") Object.freeze(o);
  else if (prior === undefined) {
    // Every nested object, frozen or not: an object frozen by its caller may hold arguments that
    // are not, and the text and id kept below must describe its bytes for ever. (An object with
    // an entry was frozen whole when it got it.)
    freezeAll(o);
  }
  // An id computed before (checking the same object again) stays, as it always did.
  if (text !== undefined) canon.set(o, { text, id: prior?.id });
  return o as unknown as Extract<SignedObject, { type: T }>;
}

/** Freezes `value` and everything in it, walking through objects frozen already. */
function freezeAll(value: unknown): void {
  if (value === null || typeof value !== "object") return;
  Object.freeze(value);
  for (const v of Object.values(value)) freezeAll(v);
}

/**
 * Canonical text and id of frozen objects (they cannot go stale): checkObject keeps the text it
 * measured, so that the id and the stored bytes reuse it; objectId adds the id. One entry per
 * object rather than one per map: every event passes through both.
 */
interface Canon {
  readonly text: string | undefined;
  id: string | undefined;
}
const canon = new WeakMap<object, Canon>();

// The type names, for shapeHeader's fast path.
const TYPES: ReadonlySet<string> = new Set(Object.keys(MAX_BYTES));

function shapeHeader(o: Record<string, Json>, type: string | undefined, where: string): void {
  // The expected type, when it is one, is decided by comparing two strings; otherwise the set of
  // type names decides (not `in`, which would also accept names such as "toString" that every
  // object inherits).
  const expected = type !== undefined && o.type === type && TYPES.has(type);
  if (!expected && (typeof o.type !== "string" || !TYPES.has(o.type))) {
    throw new SignedPageError(
      "unknown-type",
      `${where}.type: unknown type ${JSON.stringify(o.type)}`,
    );
  }
  if (type !== undefined && o.type !== type) {
    throw new SignedPageError("unknown-type", `${where}.type: expected ${type}, got ${o.type}`);
  }
  if (o.v !== VERSION) {
    throw new SignedPageError(
      "unsupported-version",
      `${where}.v: version ${JSON.stringify(o.v)} is not supported (this is v${VERSION})`,
    );
  }
}

/** The canonical bytes of a signed object (RFC 8785 JSON, UTF-8). */
export function encodeObject(obj: SignedObject): Uint8Array {
  return encoder.encode(canon.get(obj)?.text ?? canonicalize(obj, obj.type));
}

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * Size of the canonical bytes of a checked object (from the text kept when it was checked; no
 * bytes are made).
 */
export function encodedSize(obj: SignedObject): number {
  const text = canon.get(obj)?.text ?? canonicalize(obj, obj.type);
  // Nearly every object is ASCII: one native scan says so.
  if (!NON_ASCII.test(text)) return text.length;
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // 2 bytes below 0x800, 3 in the BMP above, 4 for a surrogate pair (2 units counted already).
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
  }
  return n;
}

/** The id of a signed object: lowercase hex SHA-256 of its canonical bytes (cached). */
export function objectId(obj: SignedObject): string {
  const c = canon.get(obj);
  if (c?.id !== undefined) return c.id;
  const id = sha256Hex(c?.text ?? canonicalize(obj, obj.type));
  if (c !== undefined) c.id = id;
  // An object not checked here is not cached: even frozen, it may hold mutable parts.
  return id;
}

/**
 * Decodes and re-validates canonical bytes into a signed object (of `type`, when given): the
 * inverse of {@linkcode encodeObject} for valid objects, refusing everything else. Signatures are
 * not checked here.
 */
export function decodeObject<T extends SignedObject["type"]>(
  bytes: Uint8Array,
  type?: T,
): Extract<SignedObject, { type: T }> {
  const max = type === undefined ? Math.max(...Object.values(MAX_BYTES)) : MAX_BYTES[type];
  const value = decodeCanonical(bytes, max, type ?? "object");
  return checkObject(value, type);
}

const APPROVAL_TAG = encoder.encode("djdns/approval/v1\0");
const CHECKPOINT_APPROVAL_TAG = encoder.encode("djdns/checkpoint-approval/v1\0");

function message(tag: Uint8Array, parts: string[]): Uint8Array {
  const out = new Uint8Array(tag.length + 32 * parts.length);
  out.set(tag);
  parts.forEach((h, i) => out.set(Uint8Array.fromHex(h), tag.length + 32 * i));
  return out;
}

/**
 * The bytes an approval signs: ASCII `djdns/approval/v1`, a NUL byte, then the raw 32-byte page
 * id, parent id and event id.
 */
export function approvalMessage(page: string, parent: string, event: string): Uint8Array {
  return message(APPROVAL_TAG, [page, parent, event]);
}

/**
 * The bytes a checkpoint approval signs: ASCII `djdns/checkpoint-approval/v1`, NUL, then the raw
 * 32-byte page id and checkpoint id.
 */
export function checkpointApprovalMessage(page: string, checkpoint: string): Uint8Array {
  return message(CHECKPOINT_APPROVAL_TAG, [page, checkpoint]);
}

// Scratch buffers of verifyApproval, reused for every approval: allocating a fresh message and
// signature per call (typed arrays over 64 bytes get an off-heap backing store) cost more than
// the rest of the message building. Safe because verify() is synchronous and keeps neither.
const scratchMessage = new Uint8Array(APPROVAL_TAG.length + 96);
scratchMessage.set(APPROVAL_TAG);
const scratchIds = [0, 1, 2].map((i) =>
  scratchMessage.subarray(APPROVAL_TAG.length + 32 * i, APPROVAL_TAG.length + 32 * (i + 1))
);
const scratchSig = new Uint8Array(64);
// The ids scratchMessage holds ("" when none).
let messagePage = "";
let messageParent = "";
let messageEvent = "";

/** True when a (well-formed) approval's signature verifies over its event, parent and page. */
export function verifyApproval(a: Approval): boolean {
  if (
    a.page.length !== 64 || a.parent.length !== 64 || a.event.length !== 64 || a.sig.length !== 128
  ) {
    // Not well-formed: keep the exact behaviour of the general path for such input.
    return verify(
      Uint8Array.fromHex(a.key),
      approvalMessage(a.page, a.parent, a.event),
      Uint8Array.fromHex(a.sig),
    );
  }
  // Each 64-digit id fills exactly its 32-byte slot: the same bytes as approvalMessage(). The
  // approvals of one event arrive together and sign the same message: it is written once.
  if (a.event !== messageEvent || a.parent !== messageParent || a.page !== messagePage) {
    messageEvent = ""; // not a valid message until all three ids are written
    scratchIds[0].setFromHex(a.page);
    scratchIds[1].setFromHex(a.parent);
    scratchIds[2].setFromHex(a.event);
    messagePage = a.page;
    messageParent = a.parent;
    messageEvent = a.event;
  }
  scratchSig.setFromHex(a.sig);
  return verifyHexKey(a.key, scratchMessage, scratchSig);
}

/** True when a (well-formed) checkpoint approval's signature verifies. */
export function verifyCheckpointApproval(a: CheckpointApproval): boolean {
  return verify(
    Uint8Array.fromHex(a.key),
    checkpointApprovalMessage(a.page, a.checkpoint),
    Uint8Array.fromHex(a.sig),
  );
}
