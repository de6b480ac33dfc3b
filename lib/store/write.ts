/**
 * Writing a batch: objects, follow flags and head moves in one transaction, with the store's own
 * invariants and growth limits checked before commit.
 *
 * @module
 */
import { type Conn, idBytes, stmt, writeTx } from "./conn.ts";
import { StoreError } from "./errors.ts";
import {
  canonicalState,
  committedStateHash,
  damagedError,
  objectProblem,
  sameBytes,
} from "./integrity.ts";
import { KIND_CODES } from "./schema.ts";
import type { Batch, BatchResult, ObjectKind, StoredObject } from "./types.ts";

interface Prepared {
  obj: StoredObject;
  kind: number;
  id: Uint8Array;
  page: Uint8Array;
  parent: Uint8Array | null;
  signer: Uint8Array | null;
}

const KINDS = Object.keys(KIND_CODES) as ObjectKind[];

function describe(o: StoredObject): string {
  return `${o.kind} ${String(o.id).slice(0, 16)}… of page ${String(o.pageId).slice(0, 16)}…`;
}

function prepareObject(o: StoredObject, maxBytes: number): Prepared {
  if (o === null || typeof o !== "object" || !KINDS.includes(o.kind)) {
    throw new StoreError("invariant", `unknown object kind ${JSON.stringify(o?.kind)}`);
  }
  const id = idBytes(o.id, `${o.kind} id`);
  const page = idBytes(o.pageId, `page id of ${describe(o)}`);
  const parent = o.parentId == null ? null : idBytes(o.parentId, `parent id of ${describe(o)}`);
  const signer = o.signer == null ? null : idBytes(o.signer, `signer of ${describe(o)}`);
  if (!(o.bytes instanceof Uint8Array) || o.bytes.length === 0) {
    throw new StoreError("invariant", `${describe(o)} has no canonical bytes`);
  }
  if (o.bytes.length > maxBytes) {
    throw new StoreError(
      "invariant",
      `${describe(o)} is ${o.bytes.length} bytes, over the ${maxBytes}-byte object limit`,
    );
  }
  // What is read back must be what was verified: bytes that do not hash to their id, or are no
  // JSON at all, would later read as damage.
  const problem = objectProblem(id, o.bytes, true);
  if (problem !== null) throw new StoreError("invariant", `${describe(o)}: ${problem}`);
  if (o.kind === "event" && (parent === null) !== (o.id === o.pageId)) {
    throw new StoreError(
      "invariant",
      `${describe(o)}: only the genesis event (id = page id) may lack a parent`,
    );
  }
  if (o.kind !== "event" && o.kind !== "evidence" && parent === null) {
    throw new StoreError("invariant", `${describe(o)} must name the object it refers to`);
  }
  if ((o.kind === "approval" || o.kind === "checkpoint-approval") && signer === null) {
    throw new StoreError("invariant", `${describe(o)} must name its signer`);
  }
  return { obj: o, kind: KIND_CODES[o.kind], id, page, parent, signer };
}

/** Returns the page's `pno`, creating an unfollowed page row when it is new. */
export function pageNo(conn: Conn, page: Uint8Array, now: number): number {
  const row = stmt(conn, "SELECT pno FROM pages WHERE page_id = ?").get(page) as
    | { pno: number }
    | undefined;
  if (row) return row.pno;
  const ins = stmt(conn, "INSERT INTO pages (page_id, updated_at) VALUES (?, ?) RETURNING pno")
    .get(page, now) as { pno: number };
  return ins.pno;
}

/** True when `id` is a stored event of page `pno` or the anchor of one of its checkpoints. */
export function isEventOrAnchor(conn: Conn, id: Uint8Array, pno: number): boolean {
  const row = stmt(
    conn,
    `SELECT EXISTS (SELECT 1 FROM objects WHERE id = ?1 AND kind = ${KIND_CODES.event} AND pno = ?2)
         OR EXISTS (SELECT 1 FROM objects WHERE parent = ?1 AND kind = ${KIND_CODES.checkpoint}
                    AND pno = ?2) AS ok`,
  ).get(id, pno) as { ok: number };
  return row.ok === 1;
}

/** True when `id` is a stored checkpoint of page `pno`. */
function isCheckpoint(conn: Conn, id: Uint8Array, pno: number): boolean {
  return stmt(
    conn,
    `SELECT 1 FROM objects WHERE id = ? AND kind = ${KIND_CODES.checkpoint} AND pno = ?`,
  ).get(id, pno) !== undefined;
}

/** Throws unless `state` is a string of at most `max` UTF-8 bytes. */
function checkState(state: unknown, max: number, what: string): void {
  if (typeof state !== "string") {
    throw new StoreError("invariant", `${what} must be a canonical JSON string`);
  }
  // UTF-16 length bounds the UTF-8 size within 3x; encode only when it could matter.
  const size = state.length * 3 > max ? new TextEncoder().encode(state).length : state.length;
  if (size > max) {
    throw new StoreError("invariant", `${what} is ${size} bytes, over the ${max}-byte limit`);
  }
}

function pageKnown(conn: Conn, page: Uint8Array, pno: number): boolean {
  const row = stmt(
    conn,
    `SELECT EXISTS (SELECT 1 FROM objects WHERE id = ?1 AND kind = ${KIND_CODES.event} AND pno = ?2)
         OR EXISTS (SELECT 1 FROM objects WHERE pno = ?2 AND kind = ${KIND_CODES.checkpoint}) AS ok`,
  ).get(page, pno) as { ok: number };
  return row.ok === 1;
}

/**
 * Stores a batch in one transaction (see {@linkcode Batch}). Throws a {@linkcode StoreError} and
 * stores nothing when any object breaks an invariant, a limit would be exceeded, or the disk is
 * full.
 */
export function putBatch(conn: Conn, batch: Batch): BatchResult {
  const { limits } = conn;
  const objects = batch.objects ?? [];
  if (objects.length > limits.maxBatchObjects) {
    throw new StoreError(
      "limit",
      `batch of ${objects.length} objects is over the ${limits.maxBatchObjects}-object limit`,
    );
  }
  if (
    batch.source !== undefined && (typeof batch.source !== "string" || batch.source === "" ||
      batch.source.length > 255)
  ) {
    throw new StoreError("invariant", "batch source must be a peer address of 1-255 characters");
  }
  const prepared = objects.map((o) => prepareObject(o, limits.maxObjectBytes));
  const heads = (batch.heads ?? []).map((h) => {
    const page = idBytes(h.pageId, "head page id");
    const head = idBytes(h.headId, "head id");
    const hash = idBytes(h.stateHash, "state hash");
    checkState(h.state, limits.maxStateBytes, `state of page ${h.pageId}`);
    const state = canonicalState(h.state, h.stateHash);
    if (state === null) {
      throw new StoreError(
        "invariant",
        `state of page ${h.pageId} does not hash to its state hash ${h.stateHash}`,
      );
    }
    return { h, page, head, hash, state };
  });
  const roots = (batch.roots ?? []).map((r) => {
    const page = idBytes(r.pageId, "root page id");
    const checkpoint = idBytes(r.checkpointId, "root checkpoint id");
    checkState(r.state, limits.maxStateBytes, `root state of page ${r.pageId}`);
    return { r, page, checkpoint };
  });
  const follows = (batch.follow ?? []).map((f) => ({
    page: idBytes(f.pageId, "followed page id"),
    following: f.following === true,
  }));

  return writeTx(conn, "storing a batch", () => {
    const now = Date.now();
    const pnos = new Map<string, number>();
    const pnoOf = (hex: string, bytes: Uint8Array) => {
      let n = pnos.get(hex);
      if (n === undefined) pnos.set(hex, n = pageNo(conn, bytes, now));
      return n;
    };
    let sno: number | null = null;
    if (batch.source !== undefined) {
      sno = (stmt(
        conn,
        `INSERT INTO sources (address) VALUES (?)
           ON CONFLICT (address) DO UPDATE SET address = excluded.address RETURNING sno`,
      ).get(batch.source) as { sno: number }).sno;
    }
    for (const f of follows) {
      const pno = pnoOf(f.page.toHex(), f.page);
      stmt(conn, "UPDATE pages SET following = ?, updated_at = ? WHERE pno = ?")
        .run(f.following ? 1 : 0, now, pno);
    }

    const insert = stmt(
      conn,
      `INSERT INTO objects (kind, id, pno, parent, signer, sno, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id, kind) DO NOTHING`,
    );
    const existing = stmt(conn, "SELECT pno, bytes FROM objects WHERE id = ? AND kind = ?");
    const added: { p: Prepared; pno: number }[] = [];
    const perPage = new Map<number, { n: number; bytes: number }>();
    let duplicates = 0;
    for (const p of prepared) {
      const pno = pnoOf(p.obj.pageId, p.page);
      const r = insert.run(p.kind, p.id, pno, p.parent, p.signer, sno, p.obj.bytes);
      if (r.changes === 0) {
        const old = existing.get(p.id, p.kind) as { pno: number; bytes: Uint8Array };
        const problem = objectProblem(p.id, old.bytes, false);
        if (problem !== null) {
          throw damagedError(conn.dir, conn.path, {
            what: "object",
            pageId: p.obj.pageId,
            objectId: p.obj.id,
            kind: p.obj.kind,
            problem: `the stored copy is damaged (${problem})`,
          });
        }
        if (old.pno !== pno || !sameBytes(old.bytes, p.obj.bytes)) {
          throw new StoreError(
            "invariant",
            `${describe(p.obj)} differs from the stored object with the same id`,
          );
        }
        duplicates++;
        continue;
      }
      added.push({ p, pno });
      const c = perPage.get(pno) ?? { n: 0, bytes: 0 };
      c.n++;
      c.bytes += p.obj.bytes.length;
      perPage.set(pno, c);
    }

    // Checked after all inserts so a batch may list a parent after its children.
    for (const { p, pno } of added) {
      const k = p.obj.kind;
      if ((k === "event" || k === "approval") && p.parent !== null) {
        if (!isEventOrAnchor(conn, p.parent, pno)) {
          throw new StoreError(
            "invariant",
            `${
              describe(p.obj)
            } refers to ${p.obj.parentId}, which is not a stored event of its page`,
          );
        }
      } else if (k === "checkpoint-approval" && !isCheckpoint(conn, p.parent!, pno)) {
        throw new StoreError(
          "invariant",
          `${
            describe(p.obj)
          } refers to ${p.obj.parentId}, which is not a stored checkpoint of its page`,
        );
      } else if (k === "evidence" && !pageKnown(conn, p.page, pno)) {
        throw new StoreError(
          "invariant",
          `${describe(p.obj)} is for a page with no stored genesis or checkpoint`,
        );
      }
    }

    const bump = stmt(
      conn,
      "UPDATE pages SET objects = objects + ?, bytes = bytes + ?, updated_at = ? WHERE pno = ?",
    );
    for (const [pno, c] of perPage) bump.run(c.n, c.bytes, now, pno);
    if (sno !== null && added.length > 0) {
      const q = stmt(
        conn,
        `INSERT INTO quota (sno, pno, n) VALUES (?, ?, ?)
           ON CONFLICT (sno, pno) DO UPDATE SET n = n + excluded.n`,
      );
      for (const [pno, c] of perPage) q.run(sno, pno, c.n);
      checkLimits(conn, sno, batch.source!, [...perPage.keys()]);
    }

    for (const { r, page, checkpoint } of roots) {
      const pno = pnoOf(r.pageId, page);
      const state = checkRootState(conn, pno, checkpoint, r.state, `root of page ${r.pageId}`);
      stmt(
        conn,
        "UPDATE pages SET root_checkpoint = ?, root_state = ?, updated_at = ? WHERE pno = ?",
      ).run(checkpoint, state, now, pno);
    }
    for (const { h, page, head, hash, state } of heads) {
      const pno = pnoOf(h.pageId, page);
      if (!isEventOrAnchor(conn, head, pno)) {
        throw new StoreError(
          "invariant",
          `head ${h.headId} of page ${h.pageId} is not a stored event or checkpoint anchor`,
        );
      }
      stmt(
        conn,
        "UPDATE pages SET head = ?, state = ?, state_hash = ?, updated_at = ? WHERE pno = ?",
      ).run(head, state, hash, now, pno);
    }
    return { inserted: added.length, duplicates };
  });
}

function checkLimits(conn: Conn, sno: number, source: string, touched: number[]): void {
  const { limits } = conn;
  const page = stmt(conn, "SELECT page_id, following, objects FROM pages WHERE pno = ?");
  let unfollowedTouched = false;
  for (const pno of touched) {
    const r = page.get(pno) as { page_id: Uint8Array; following: number; objects: number };
    if (r.following) continue;
    unfollowedTouched = true;
    if (r.objects > limits.maxObjectsPerUnfollowedPage) {
      throw new StoreError(
        "limit",
        `page ${r.page_id.toHex()} is not followed and would hold ${r.objects} objects ` +
          `(limit ${limits.maxObjectsPerUnfollowedPage}); batch from ${source} not stored`,
      );
    }
  }
  if (!unfollowedTouched) return;
  const fromPeer = (stmt(
    conn,
    `SELECT coalesce(sum(q.n), 0) AS n FROM quota q JOIN pages p ON p.pno = q.pno
       WHERE q.sno = ? AND p.following = 0`,
  ).get(sno) as { n: number }).n;
  if (fromPeer > limits.maxObjectsPerPeer) {
    throw new StoreError(
      "limit",
      `peer ${source} would have ${fromPeer} objects stored for unfollowed pages ` +
        `(limit ${limits.maxObjectsPerPeer}); batch not stored`,
    );
  }
  const total = (stmt(
    conn,
    "SELECT coalesce(sum(objects), 0) AS n FROM pages WHERE following = 0",
  ).get() as { n: number }).n;
  if (total > limits.maxUnfollowedObjects) {
    throw new StoreError(
      "limit",
      `unfollowed pages would hold ${total} objects (limit ${limits.maxUnfollowedObjects}); ` +
        `batch from ${source} not stored`,
    );
  }
}

/**
 * Throws unless `checkpoint` is a stored checkpoint of page `pno` and `state` is the state it
 * commits to (a root state is what a pruned page restarts from, so it must be exactly the state
 * the checkpoint certifies); returns the text to store (canonical, see `canonicalState`).
 */
export function checkRootState(
  conn: Conn,
  pno: number,
  checkpoint: Uint8Array,
  state: string,
  what: string,
): string {
  const row = stmt(
    conn,
    `SELECT bytes FROM objects WHERE id = ? AND kind = ${KIND_CODES.checkpoint} AND pno = ?`,
  ).get(checkpoint, pno) as { bytes: Uint8Array } | undefined;
  if (row === undefined) {
    throw new StoreError(
      "invariant",
      `${what}: ${checkpoint.toHex()} is not a stored checkpoint of the page`,
    );
  }
  const want = committedStateHash(row.bytes);
  const text = want === null ? null : canonicalState(state, want);
  if (text === null) {
    throw new StoreError(
      "invariant",
      `${what}: the state does not hash to the state hash checkpoint ${checkpoint.toHex()} ` +
        `commits to (${want ?? "none"})`,
    );
  }
  return text;
}
