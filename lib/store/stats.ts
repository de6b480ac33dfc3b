/**
 * Sizes and counts of a store.
 *
 * @module
 */
import { type Conn, readTx, stmt } from "./conn.ts";
import { KIND_CODES } from "./schema.ts";
import type { StoreStats } from "./types.ts";

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Counts and sizes, read in one snapshot. */
export function stats(conn: Conn): StoreStats {
  return readTx(conn, "reading statistics", () => {
    const one = (sql: string) => Object.values(stmt(conn, sql).get() as object)[0] as number;
    const byKind = new Map<number, number>();
    for (
      const r of stmt(conn, "SELECT kind, count(*) AS n FROM objects GROUP BY kind").all() as {
        kind: number;
        n: number;
      }[]
    ) byKind.set(r.kind, r.n);
    return {
      dir: conn.dir,
      path: conn.path,
      schemaVersion: one("PRAGMA user_version"),
      databaseBytes: fileSize(conn.path),
      walBytes: fileSize(`${conn.path}-wal`),
      pageSize: one("PRAGMA page_size"),
      freePages: one("PRAGMA freelist_count"),
      pages: one("SELECT count(*) FROM pages"),
      followedPages: one("SELECT count(*) FROM pages WHERE following = 1"),
      events: byKind.get(KIND_CODES.event) ?? 0,
      approvals: byKind.get(KIND_CODES.approval) ?? 0,
      evidence: byKind.get(KIND_CODES.evidence) ?? 0,
      checkpoints: byKind.get(KIND_CODES.checkpoint) ?? 0,
      checkpointApprovals: byKind.get(KIND_CODES["checkpoint-approval"]) ?? 0,
      objectBytes: one("SELECT coalesce(sum(bytes), 0) FROM pages"),
      peers: one("SELECT count(*) FROM peers"),
    };
  });
}
