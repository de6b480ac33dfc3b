/**
 * Dropping history older than a checkpoint.
 *
 * A checkpoint commits to the state at its anchor event, so everything a node needs from then on
 * is the genesis (a page log always starts from it), the checkpoint chain with its approvals, the
 * state at the anchor (kept as the page's root), the anchor, its descendants and their
 * approvals (not the anchor's own: the checkpoint certifies it). Events that are neither the genesis nor descendants of the anchor (its ancestors,
 * and forks that left the chain before it) are removed, with their approvals and the
 * equivocation evidence about their children.
 *
 * @module
 */
import { type Conn, idBytes, stmt, writeTx } from "./conn.ts";
import { StoreError } from "./errors.ts";
import { KIND_CODES } from "./schema.ts";
import type { PruneResult } from "./types.ts";
import { checkRootState } from "./write.ts";

const EVENT = KIND_CODES.event;
const APPROVAL = KIND_CODES.approval;
const EVIDENCE = KIND_CODES.evidence;
const CHECKPOINT = KIND_CODES.checkpoint;

/**
 * Walks from `from` towards the genesis until `stop(id)` is true; returns the id where it
 * stopped, or null when the chain ends (genesis or pruned history) first.
 */
function walkBack(
  conn: Conn,
  pno: number,
  from: Uint8Array,
  stop: (id: Uint8Array) => boolean,
): Uint8Array | null {
  const parentOf = stmt(
    conn,
    `SELECT parent FROM objects WHERE id = ? AND kind = ${EVENT} AND pno = ?`,
  );
  let cur: Uint8Array | null = from;
  while (cur !== null) {
    if (stop(cur)) return cur;
    const r = parentOf.get(cur, pno) as { parent: Uint8Array | null } | undefined;
    cur = r?.parent ?? null;
  }
  return null;
}

/**
 * Prunes page `pageId` to a checkpoint: `checkpointId` when given, else the checkpoint whose
 * anchor is nearest to the head on the head's chain. The head must be the anchor or a descendant
 * of it. The checkpoint becomes the page's root, with `anchorState` (canonical JSON of the state
 * at its anchor), which may be left out when the page's root already is that checkpoint or the
 * head is the anchor. Throws `not-found` when there is no such page or checkpoint, `invariant`
 * when the checkpoint is not on the head's chain or the anchor state is missing; nothing is
 * removed then.
 */
export function prune(
  conn: Conn,
  pageId: string,
  options: { checkpointId?: string; anchorState?: string } = {},
): PruneResult {
  const page = idBytes(pageId, "page id");
  const wanted = options.checkpointId === undefined
    ? undefined
    : idBytes(options.checkpointId, "checkpoint id");
  const result = writeTx(conn, "pruning", () => {
    const row = stmt(
      conn,
      "SELECT pno, head, state, root_checkpoint, root_state FROM pages WHERE page_id = ?",
    ).get(page) as
      | {
        pno: number;
        head: Uint8Array | null;
        state: string | null;
        root_checkpoint: Uint8Array | null;
        root_state: string | null;
      }
      | undefined;
    if (!row) throw new StoreError("not-found", `page ${pageId} is not in the store`);
    const { pno, head } = row;
    if (head === null) {
      throw new StoreError("not-found", `page ${pageId} has no head yet; nothing to prune`);
    }
    const checkpointAt = stmt(
      conn,
      `SELECT id FROM objects WHERE parent = ? AND kind = ${CHECKPOINT} AND pno = ?
         ORDER BY seq DESC LIMIT 1`,
    );
    let checkpoint: Uint8Array;
    let anchor: Uint8Array;
    if (wanted !== undefined) {
      const c = stmt(
        conn,
        `SELECT parent FROM objects WHERE id = ? AND kind = ${CHECKPOINT} AND pno = ?`,
      ).get(wanted, pno) as { parent: Uint8Array } | undefined;
      if (!c) {
        throw new StoreError(
          "not-found",
          `checkpoint ${options.checkpointId} of page ${pageId} is not in the store`,
        );
      }
      checkpoint = wanted;
      anchor = c.parent;
      const a = anchor;
      if (walkBack(conn, pno, head, (id) => equal(id, a)) === null) {
        throw new StoreError(
          "invariant",
          `checkpoint ${options.checkpointId} is not on the history of page ${pageId}'s head; ` +
            "nothing pruned",
        );
      }
    } else {
      let found: Uint8Array | undefined;
      const at = walkBack(conn, pno, head, (id) => {
        found = (checkpointAt.get(id, pno) as { id: Uint8Array } | undefined)?.id;
        return found !== undefined;
      });
      if (at === null || found === undefined) {
        throw new StoreError(
          "not-found",
          `page ${pageId} has no checkpoint on its head's history; nothing pruned`,
        );
      }
      checkpoint = found;
      anchor = at;
    }

    let anchorState = options.anchorState;
    if (anchorState === undefined) {
      if (row.root_checkpoint !== null && equal(row.root_checkpoint, checkpoint)) {
        anchorState = row.root_state ?? undefined;
      } else if (equal(head, anchor)) {
        anchorState = row.state ?? undefined;
      }
    }
    if (typeof anchorState !== "string") {
      throw new StoreError(
        "invariant",
        `pruning page ${pageId} to checkpoint ${checkpoint.toHex()} needs the state at its ` +
          "event; nothing pruned",
      );
    }
    if (anchorState.length > conn.limits.maxStateBytes) {
      throw new StoreError("invariant", `anchor state of page ${pageId} is over the size limit`);
    }
    anchorState = checkRootState(
      conn,
      pno,
      checkpoint,
      anchorState,
      `pruning page ${pageId}; nothing pruned`,
    );

    const events = stmt(
      conn,
      `WITH RECURSIVE keep(id) AS (
         SELECT ?1
         UNION
         SELECT o.id FROM objects o JOIN keep k ON o.parent = k.id
           WHERE o.kind = ${EVENT} AND o.pno = ?2
       )
       DELETE FROM objects WHERE pno = ?2 AND kind = ${EVENT} AND id IS NOT ?3
         AND id NOT IN (SELECT id FROM keep)`,
    ).run(anchor, pno, page).changes as number;
    // Approvals of events no longer stored, and of the anchor, whose acceptance the checkpoint
    // now certifies (a log restarted from the checkpoint refuses votes on its root).
    const approvals = stmt(
      conn,
      `DELETE FROM objects WHERE pno = ?2 AND kind = ${APPROVAL} AND (parent = ?1
         OR NOT EXISTS (SELECT 1 FROM objects e
                          WHERE e.id = objects.parent AND e.kind = ${EVENT} AND e.pno = ?2))`,
    ).run(anchor, pno).changes as number;
    // Evidence about the children of events no longer stored; about the anchor's children it
    // still matters.
    const evidence = stmt(
      conn,
      `DELETE FROM objects WHERE pno = ?2 AND kind = ${EVIDENCE} AND parent IS NOT NULL
         AND parent IS NOT ?1
         AND NOT EXISTS (SELECT 1 FROM objects e
                           WHERE e.id = objects.parent AND e.kind = ${EVENT} AND e.pno = ?2)`,
    ).run(anchor, pno).changes as number;
    stmt(conn, "UPDATE pages SET root_checkpoint = ?, root_state = ? WHERE pno = ?")
      .run(checkpoint, anchorState, pno);
    recount(conn, pno);
    return {
      pageId,
      checkpointId: checkpoint.toHex(),
      anchorId: anchor.toHex(),
      events,
      approvals,
      evidence,
    };
  });
  return result;
}

/** Recomputes a page's object counters and per-peer quota from its rows. */
export function recount(conn: Conn, pno: number): void {
  stmt(
    conn,
    `UPDATE pages SET
       objects = (SELECT count(*) FROM objects WHERE pno = ?1),
       bytes = (SELECT coalesce(sum(length(bytes)), 0) FROM objects WHERE pno = ?1),
       updated_at = ?2
     WHERE pno = ?1`,
  ).run(pno, Date.now());
  stmt(conn, "DELETE FROM quota WHERE pno = ?").run(pno);
  stmt(
    conn,
    `INSERT INTO quota (sno, pno, n)
       SELECT sno, pno, count(*) FROM objects WHERE pno = ? AND sno IS NOT NULL GROUP BY sno`,
  ).run(pno);
}

/**
 * Returns space freed by pruning to the file system and truncates the write-ahead log. Failure
 * here loses nothing (the freed pages stay on the free list), so it is reported, not thrown.
 */
export function compact(conn: Conn): string | null {
  try {
    // Each step of this pragma frees one page; exec() would run only the first step.
    conn.db.prepare("PRAGMA incremental_vacuum").all();
    conn.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
