/**
 * Known peers and their standing: a bounded table.
 *
 * @module
 */
import { type Conn, ensureOpen, stmt, writeTx } from "./conn.ts";
import { StoreError, translateError } from "./errors.ts";
import type { PeerRecord } from "./types.ts";

interface PeerRow {
  address: string;
  score: number;
  banned_until: number;
  last_seen: number;
}

function toPeer(r: PeerRow): PeerRecord {
  return {
    address: r.address,
    score: r.score,
    bannedUntil: r.banned_until,
    lastSeen: r.last_seen,
  };
}

function check(p: PeerRecord): void {
  if (typeof p?.address !== "string" || p.address === "" || p.address.length > 255) {
    throw new StoreError("invariant", "peer address must be 1-255 characters");
  }
  for (const k of ["score", "bannedUntil", "lastSeen"] as const) {
    if (typeof p[k] !== "number" || !Number.isFinite(p[k])) {
      throw new StoreError("invariant", `peer ${p.address}: ${k} must be a finite number`);
    }
  }
}

/**
 * Inserts or replaces peers in one transaction. When the table would exceed `maxPeers`, the
 * lowest-scored, least recently seen other peers are dropped, so a flood of new addresses
 * cannot push the table past its bound. Returns how many peers were evicted.
 */
export function putPeers(conn: Conn, peers: PeerRecord[]): number {
  peers.forEach(check);
  return writeTx(conn, "storing peers", () => {
    const upsert = stmt(
      conn,
      `INSERT INTO peers (address, score, banned_until, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (address) DO UPDATE SET score = excluded.score,
           banned_until = excluded.banned_until, last_seen = excluded.last_seen`,
    );
    for (const p of peers) {
      upsert.run(p.address, p.score, Math.trunc(p.bannedUntil), Math.trunc(p.lastSeen));
    }
    const n = (stmt(conn, "SELECT count(*) AS n FROM peers").get() as { n: number }).n;
    const excess = n - conn.limits.maxPeers;
    if (excess <= 0) return 0;
    // Evict among the other peers first (walking the eviction index, which stops early), so
    // the peers just written stay unless the batch alone overflows the table.
    const fresh = new Set(peers.map((p) => p.address));
    const victims: string[] = [];
    const spare: string[] = [];
    for (
      const r of stmt(conn, "SELECT address FROM peers ORDER BY score, last_seen")
        .iterate() as Iterable<{ address: string }>
    ) {
      if (!fresh.has(r.address)) victims.push(r.address);
      else if (spare.length < excess) spare.push(r.address);
      if (victims.length >= excess) break;
    }
    victims.push(...spare.slice(0, excess - victims.length));
    const del = stmt(conn, "DELETE FROM peers WHERE address = ?");
    for (const a of victims) del.run(a);
    return victims.length;
  });
}

/** Forgets a peer; returns whether it was known. */
export function removePeer(conn: Conn, address: string): boolean {
  return writeTx(
    conn,
    "removing a peer",
    () => stmt(conn, "DELETE FROM peers WHERE address = ?").run(address).changes > 0,
  );
}

/** One peer, or undefined. */
export function getPeer(conn: Conn, address: string): PeerRecord | undefined {
  ensureOpen(conn, false);
  try {
    const r = stmt(
      conn,
      "SELECT address, score, banned_until, last_seen FROM peers WHERE address = ?",
    ).get(address) as PeerRow | undefined;
    return r && toPeer(r);
  } catch (e) {
    throw translateError(e, conn.path, "reading a peer");
  }
}

/**
 * Peers, best score first (then most recently seen). Peers banned at `now` are left out unless
 * `includeBanned`.
 */
export function listPeers(
  conn: Conn,
  options: { limit?: number; includeBanned?: boolean; now?: number } = {},
): PeerRecord[] {
  ensureOpen(conn, false);
  const limit = options.limit ?? -1;
  const now = options.now ?? Date.now();
  try {
    const rows = options.includeBanned
      ? stmt(
        conn,
        `SELECT address, score, banned_until, last_seen FROM peers
           ORDER BY score DESC, last_seen DESC LIMIT ?`,
      ).all(limit)
      : stmt(
        conn,
        `SELECT address, score, banned_until, last_seen FROM peers WHERE banned_until <= ?
           ORDER BY score DESC, last_seen DESC LIMIT ?`,
      ).all(now, limit);
    return (rows as unknown as PeerRow[]).map(toPeer);
  } catch (e) {
    throw translateError(e, conn.path, "listing peers");
  }
}
