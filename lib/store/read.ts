/**
 * Reading pages and objects back. Everything read is checked to be what was verified (see
 * integrity.ts): an object's bytes against its id, a state against its hash, a root state against
 * its checkpoint; a mismatch throws `damaged`, naming the record and its page.
 *
 * @module
 */
import { type Conn, ensureOpen, hexOf, idBytes, readTx, stmt } from "./conn.ts";
import { type StoreError, translateError } from "./errors.ts";
import { damagedError, kindName, objectProblem, rootProblem, stateProblem } from "./integrity.ts";
import { KIND_CODES } from "./schema.ts";
import type { Damage, ObjectKind, PageRecord, StoredObject } from "./types.ts";

interface ObjectRow {
  kind: number;
  id: Uint8Array;
  page_id: Uint8Array;
  parent: Uint8Array | null;
  signer: Uint8Array | null;
  bytes: Uint8Array;
}

interface PageRow {
  page_id: Uint8Array;
  following: number;
  head: Uint8Array | null;
  state: string | null;
  state_hash: Uint8Array | null;
  root_checkpoint: Uint8Array | null;
  objects: number;
  bytes: number;
  updated_at: number;
}

function toObject(conn: Conn, r: ObjectRow): StoredObject {
  const kind = kindName(r.kind);
  const problem = kind === undefined
    ? `its kind (${r.kind}) is unknown`
    : objectProblem(r.id, r.bytes, false);
  if (problem !== null) {
    throw damagedError(conn.dir, conn.path, {
      what: "object",
      pageId: r.page_id.toHex(),
      objectId: r.id.toHex(),
      kind,
      problem,
    });
  }
  return {
    kind: kind!,
    id: r.id.toHex(),
    pageId: r.page_id.toHex(),
    parentId: hexOf(r.parent),
    signer: hexOf(r.signer),
    bytes: r.bytes,
  };
}

function toPage(conn: Conn, r: PageRow): PageRecord {
  const problem = stateProblem(r.state, r.state_hash);
  if (problem !== null) {
    throw damagedError(conn.dir, conn.path, {
      what: "state",
      pageId: r.page_id.toHex(),
      problem,
    });
  }
  return {
    pageId: r.page_id.toHex(),
    following: r.following === 1,
    headId: hexOf(r.head),
    state: r.state,
    stateHash: hexOf(r.state_hash),
    rootCheckpointId: hexOf(r.root_checkpoint),
    objects: r.objects,
    bytes: r.bytes,
    updatedAt: r.updated_at,
  };
}

const PAGE_COLUMNS =
  "page_id, following, head, state, state_hash, root_checkpoint, objects, bytes, updated_at";
const OBJECT_COLUMNS = "o.kind, o.id, p.page_id, o.parent, o.signer, o.bytes";

function read<T>(conn: Conn, doing: string, fn: () => T): T {
  ensureOpen(conn, false);
  try {
    return fn();
  } catch (e) {
    throw translateError(e, conn.path, doing);
  }
}

/** The page's record, or undefined when the page is unknown. */
export function getPage(conn: Conn, pageId: string): PageRecord | undefined {
  const page = idBytes(pageId, "page id");
  return read(conn, "reading a page", () => {
    const r = stmt(conn, `SELECT ${PAGE_COLUMNS} FROM pages WHERE page_id = ?`).get(page) as
      | PageRow
      | undefined;
    return r && toPage(conn, r);
  });
}

/** The page's root checkpoint and the state at its anchor, or undefined when it has none. */
export function rootOf(
  conn: Conn,
  pageId: string,
): { checkpointId: string; state: string } | undefined {
  const page = idBytes(pageId, "page id");
  return read(conn, "reading a page root", () => {
    const r = stmt(
      conn,
      `SELECT p.root_checkpoint, p.root_state, c.bytes FROM pages p
         LEFT JOIN objects c ON c.id = p.root_checkpoint AND c.kind = ${KIND_CODES.checkpoint}
           AND c.pno = p.pno
         WHERE p.page_id = ?`,
    ).get(page) as
      | { root_checkpoint: Uint8Array | null; root_state: string | null; bytes: Uint8Array | null }
      | undefined;
    if (!r || (r.root_checkpoint === null && r.root_state === null)) return undefined;
    const problem = rootProblem(r.root_state, r.root_checkpoint, r.bytes ?? undefined);
    if (problem !== null) {
      throw damagedError(conn.dir, conn.path, { what: "root", pageId, problem });
    }
    return { checkpointId: r.root_checkpoint!.toHex(), state: r.root_state! };
  });
}

/**
 * Every known page (or only followed / unfollowed ones), in page-id order. A page whose state is
 * damaged throws `damaged`, unless `onDamage` is given: it hears of the page, which is left out.
 */
export function listPages(
  conn: Conn,
  filter: { following?: boolean; onDamage?: (d: Damage) => void } = {},
): PageRecord[] {
  return read(conn, "listing pages", () => {
    const rows = filter.following === undefined
      ? stmt(conn, `SELECT ${PAGE_COLUMNS} FROM pages ORDER BY page_id`).all()
      : stmt(conn, `SELECT ${PAGE_COLUMNS} FROM pages WHERE following = ? ORDER BY page_id`)
        .all(filter.following ? 1 : 0);
    const out: PageRecord[] = [];
    for (const r of rows as unknown as PageRow[]) {
      try {
        out.push(toPage(conn, r));
      } catch (e) {
        const damage = (e as StoreError).damage;
        if (filter.onDamage === undefined || damage === undefined) throw e;
        filter.onDamage(damage);
      }
    }
    return out;
  });
}

/** One stored object by id (and kind, when ids of different kinds could collide). */
export function getObject(conn: Conn, id: string, kind?: ObjectKind): StoredObject | undefined {
  const key = idBytes(id, "object id");
  return read(conn, "reading an object", () => {
    const r = (kind === undefined
      ? stmt(
        conn,
        `SELECT ${OBJECT_COLUMNS} FROM objects o JOIN pages p ON p.pno = o.pno
           WHERE o.id = ? ORDER BY o.kind LIMIT 1`,
      ).get(key)
      : stmt(
        conn,
        `SELECT ${OBJECT_COLUMNS} FROM objects o JOIN pages p ON p.pno = o.pno
           WHERE o.id = ? AND o.kind = ?`,
      ).get(key, KIND_CODES[kind])) as ObjectRow | undefined;
    return r && toObject(conn, r);
  });
}

/**
 * The page's stored objects of one kind (or all kinds), in the order they were stored; read in
 * one snapshot.
 */
export function objectsOf(conn: Conn, pageId: string, kind?: ObjectKind): StoredObject[] {
  const page = idBytes(pageId, "page id");
  return readTx(conn, "reading a page's objects", () => {
    const rows = kind === undefined
      ? stmt(
        conn,
        `SELECT ${OBJECT_COLUMNS} FROM objects o JOIN pages p ON p.pno = o.pno
           WHERE p.page_id = ? ORDER BY o.seq`,
      ).all(page)
      : stmt(
        conn,
        `SELECT ${OBJECT_COLUMNS} FROM objects o JOIN pages p ON p.pno = o.pno
           WHERE p.page_id = ? AND o.kind = ? ORDER BY o.seq`,
      ).all(page, KIND_CODES[kind]);
    return (rows as unknown as ObjectRow[]).map((r) => toObject(conn, r));
  });
}

/** Objects of `kind` that refer to `parentId` (approvals of an event, children of an event …). */
export function objectsReferring(
  conn: Conn,
  parentId: string,
  kind: ObjectKind,
): StoredObject[] {
  const parent = idBytes(parentId, "event id");
  return read(conn, "reading referring objects", () => {
    const rows = stmt(
      conn,
      `SELECT ${OBJECT_COLUMNS} FROM objects o JOIN pages p ON p.pno = o.pno
         WHERE o.parent = ? AND o.kind = ? ORDER BY o.seq`,
    ).all(parent, KIND_CODES[kind]);
    return (rows as unknown as ObjectRow[]).map((r) => toObject(conn, r));
  });
}
