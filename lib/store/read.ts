/**
 * Reading pages and objects back.
 *
 * @module
 */
import { type Conn, ensureOpen, hexOf, idBytes, readTx, stmt } from "./conn.ts";
import { translateError } from "./errors.ts";
import { KIND_CODES } from "./schema.ts";
import type { ObjectKind, PageRecord, StoredObject } from "./types.ts";

const KIND_NAMES: Record<number, ObjectKind> = Object.fromEntries(
  Object.entries(KIND_CODES).map(([k, v]) => [v, k as ObjectKind]),
);

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

function toObject(r: ObjectRow): StoredObject {
  return {
    kind: KIND_NAMES[r.kind],
    id: r.id.toHex(),
    pageId: r.page_id.toHex(),
    parentId: hexOf(r.parent),
    signer: hexOf(r.signer),
    bytes: r.bytes,
  };
}

function toPage(r: PageRow): PageRecord {
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
    return r && toPage(r);
  });
}

/** The page's root checkpoint and the state at its anchor, or undefined when it has none. */
export function rootOf(
  conn: Conn,
  pageId: string,
): { checkpointId: string; state: string } | undefined {
  const page = idBytes(pageId, "page id");
  return read(conn, "reading a page root", () => {
    const r = stmt(conn, "SELECT root_checkpoint, root_state FROM pages WHERE page_id = ?")
      .get(page) as { root_checkpoint: Uint8Array | null; root_state: string | null } | undefined;
    return r?.root_checkpoint && r.root_state !== null
      ? { checkpointId: r.root_checkpoint.toHex(), state: r.root_state }
      : undefined;
  });
}

/** Every known page (or only followed / unfollowed ones), in page-id order. */
export function listPages(conn: Conn, filter: { following?: boolean } = {}): PageRecord[] {
  return read(conn, "listing pages", () => {
    const rows = filter.following === undefined
      ? stmt(conn, `SELECT ${PAGE_COLUMNS} FROM pages ORDER BY page_id`).all()
      : stmt(conn, `SELECT ${PAGE_COLUMNS} FROM pages WHERE following = ? ORDER BY page_id`)
        .all(filter.following ? 1 : 0);
    return (rows as unknown as PageRow[]).map(toPage);
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
    return r && toObject(r);
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
    return (rows as unknown as ObjectRow[]).map(toObject);
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
    return (rows as unknown as ObjectRow[]).map(toObject);
  });
}
