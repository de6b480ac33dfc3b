/**
 * What is read back is what was verified.
 *
 * Every object's id is the SHA-256 of its canonical bytes, so one hash per object proves that the
 * bytes read back are the bytes that were verified and stored; a page's materialized state is
 * checked the same way against its stored state hash, and a root state (the state a pruned page
 * restarts from) against the state hash its root checkpoint commits to. The store refuses to
 * write anything that breaks these rules (see write.ts), so a mismatch read back is damage: bytes
 * changed on disk after they were written. SQLite's own checks do not see it (the b-tree is
 * whole; a byte inside a record changed).
 *
 * @module
 */
import { hash } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { canonicalize } from "../page/canonical.ts";
import { StoreError } from "./errors.ts";
import { KIND_CODES } from "./schema.ts";
import type { Damage, ObjectKind } from "./types.ts";

const KIND_NAMES = new Map<number, ObjectKind>(
  Object.entries(KIND_CODES).map(([k, v]) => [v, k as ObjectKind]),
);

/** The kind stored as `code`, or undefined for a code no build wrote. */
export function kindName(code: number): ObjectKind | undefined {
  return KIND_NAMES.get(code);
}

/** SHA-256 of bytes or of the UTF-8 encoding of a string. */
export function digest(data: Uint8Array | string): Uint8Array {
  // The one-shot hash() is ~4x faster than createHash().update().digest() here: one call into
  // the runtime instead of three (this runs once per object read).
  return hash("sha256", data, "buffer") as unknown as Uint8Array;
}

/** Byte equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Why an object's stored bytes are not what was verified, or null when they are: they must hash
 * to `id`; with `deep`, they must also be UTF-8 JSON (the store writes nothing else, so with a
 * matching hash they are; `deep` is for writes and for `verify`).
 */
export function objectProblem(id: Uint8Array, bytes: unknown, deep: boolean): string | null {
  if (!(bytes instanceof Uint8Array)) return "its bytes are missing";
  const json = () => {
    try {
      JSON.parse(utf8.decode(bytes));
      return true;
    } catch {
      return false;
    }
  };
  if (!sameBytes(digest(bytes), id)) {
    // Rare: say as much as is known about the damage.
    return `its bytes do not hash to its id${json() ? "" : " and are not UTF-8 JSON"}`;
  }
  return deep && !json() ? "its bytes are not UTF-8 JSON" : null;
}

/** Why a page's materialized state does not match its stored hash, or null when it does. */
export function stateProblem(state: unknown, hash: Uint8Array | null): string | null {
  if (state === null && hash === null) return null;
  if (typeof state !== "string" || !(hash instanceof Uint8Array)) {
    return "its state or state hash is missing";
  }
  return sameBytes(digest(state), hash) ? null : "its state does not hash to its state hash";
}

/**
 * The text to store for a state that must hash to `hashHex`: `state` itself when it does, else its
 * canonical JSON (RFC 8785, what state hashes are computed over) when that does, else null. So a
 * caller may hand over any JSON text of the right state, and what is stored is always the
 * canonical text whose hash a read checks.
 */
export function canonicalState(state: string, hashHex: string): string | null {
  if (digest(state).toHex() === hashHex) return state;
  let text: string;
  try {
    text = canonicalize(JSON.parse(state), "state");
  } catch {
    return null;
  }
  return text !== state && digest(text).toHex() === hashHex ? text : null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The state hash a checkpoint's canonical bytes commit to (its `stateHash` field), or null when
 * the bytes are not a JSON object with one. The store knows this one field of the checkpoint
 * format so that it can hold a root state to the hash its checkpoint commits to.
 */
export function committedStateHash(checkpointBytes: Uint8Array): string | null {
  try {
    const v = JSON.parse(utf8.decode(checkpointBytes));
    return typeof v?.stateHash === "string" && HEX64.test(v.stateHash) ? v.stateHash : null;
  } catch {
    return null;
  }
}

/** Why a root state does not match what its checkpoint commits to, or null when it does. */
export function rootProblem(
  state: unknown,
  checkpointId: Uint8Array | null,
  checkpointBytes: Uint8Array | undefined,
): string | null {
  if (checkpointId === null || checkpointBytes === undefined) {
    return "its root checkpoint is not stored";
  }
  if (objectProblem(checkpointId, checkpointBytes, false) !== null) {
    return "its root checkpoint's bytes do not hash to its id";
  }
  if (typeof state !== "string") return "its root state is missing";
  const want = committedStateHash(checkpointBytes);
  if (want === null) return "its root checkpoint commits to no state hash";
  return digest(state).toHex() === want
    ? null
    : "its root state does not hash to the state hash its checkpoint commits to";
}

/** One line naming a damage: the object (or the page's state) and the page. */
export function describeDamage(d: Damage): string {
  const what = d.objectId === undefined
    ? `the ${d.what === "root" ? "root state" : "materialized state"} of page ${d.pageId}`
    : `${d.kind ?? "object"} ${d.objectId} of page ${d.pageId}`;
  return `${what}: ${d.problem}`;
}

/**
 * The error for damage found while reading: names the record and the page, says the database is
 * damaged and what to do.
 */
export function damagedError(dir: string, path: string, d: Damage, more = 0): StoreError {
  const err = new StoreError(
    "damaged",
    `database ${path} is damaged: ${describeDamage(d)}` +
      (more > 0 ? ` (and ${more} more damaged record${more > 1 ? "s" : ""})` : "") +
      `; run 'djdns store verify --data ${dir}' to list the damage and 'djdns store repair ` +
      `--data ${dir}' to drop it, then re-import the affected pages — nothing was changed`,
  );
  err.damage = {
    what: d.what,
    pageId: d.pageId,
    problem: d.problem,
    ...(d.objectId === undefined ? {} : { objectId: d.objectId }),
    ...(d.kind === undefined ? {} : { kind: d.kind }),
  };
  return err;
}

/** What a scan looked at. */
export interface ScanCounts {
  /** Objects checked. */
  objects: number;
  /** Pages checked. */
  pages: number;
}

/** A damaged object row, as repair needs it. */
export interface DamagedRow extends Damage {
  /** Row number in `objects`, or undefined for a page's state. */
  seq?: number;
  /** Page row number. */
  pno: number;
}

/** An extra check of an object whose bytes hash to its id (the CLI decodes it with the page module). */
export type RowCheck = (o: {
  kind: ObjectKind;
  id: string;
  pageId: string;
  parentId: string | null;
  signer: string | null;
  bytes: Uint8Array;
}) => string | null;

/** A scan of every stored record, run a slice at a time (see {@linkcode recordScanner}). */
export interface RecordScanner {
  /**
   * Checks up to `maxRows` more objects (or, once every object is checked, up to `maxRows`
   * pages); returns true when every record has been checked.
   */
  step(maxRows: number): boolean;
  /** What was checked so far. */
  counts(): ScanCounts;
}

/**
 * A scan of every stored object and every page's states on `db`, run by {@linkcode
 * RecordScanner.step} a slice at a time (one snapshot when the caller holds a read transaction
 * across the steps), calling `onDamage` for each problem found. `deep` also parses every object
 * as UTF-8 JSON; `check`, when given, is asked about every object whose bytes hash to its id.
 * Objects are read in row order by ranges of their row number, so a slice costs the same
 * wherever it starts.
 */
export function recordScanner(
  db: DatabaseSync,
  onDamage: (d: DamagedRow) => void,
  options: { deep?: boolean; check?: RowCheck } = {},
): RecordScanner {
  const deep = options.deep === true;
  const check = options.check;
  const pageIds = new Map<number, string>();
  for (
    const r of db.prepare("SELECT pno, page_id FROM pages").iterate() as Iterable<{
      pno: number;
      page_id: unknown;
    }>
  ) {
    pageIds.set(r.pno, r.page_id instanceof Uint8Array ? r.page_id.toHex() : "(unknown)");
  }
  const pageOf = (pno: number) => pageIds.get(pno) ?? "(unknown)";
  // Rows as arrays, and parent and signer only when asked for: node:sqlite's cost per row, not
  // the hash, dominates this loop.
  const rows = db.prepare(
    (check
      ? "SELECT seq, kind, id, pno, bytes, parent, signer FROM objects"
      : "SELECT seq, kind, id, pno, bytes FROM objects") + " WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  // Deno's node:sqlite has setReturnArrays at run time, not yet in its types.
  (rows as unknown as { setReturnArrays?(on: boolean): void }).setReturnArrays?.(true);
  const checkpoint = db.prepare(
    `SELECT bytes FROM objects WHERE id = ? AND kind = ${KIND_CODES.checkpoint} AND pno = ?`,
  );
  const headKnown = db.prepare(
    `SELECT EXISTS (SELECT 1 FROM objects WHERE id = ?1 AND kind = ${KIND_CODES.event}
                      AND pno = ?2)
         OR EXISTS (SELECT 1 FROM objects WHERE parent = ?1 AND kind = ${KIND_CODES.checkpoint}
                      AND pno = ?2) AS ok`,
  );
  const pageRows = db.prepare(
    `SELECT pno, head, state, state_hash, root_checkpoint, root_state FROM pages
       WHERE pno > ? ORDER BY pno LIMIT ?`,
  );
  let objects = 0;
  let pages = 0;
  let lastSeq = -1;
  let lastPno = -1;
  let objectsDone = false;

  const objectRow = (row: unknown[] | Record<string, unknown>) => {
    objects++;
    const r = Array.isArray(row) ? row : Object.values(row);
    const [seq, code, rawId, pno, bytes, parent, signer] = r as [
      number,
      number,
      unknown,
      number,
      unknown,
      unknown,
      unknown,
    ];
    lastSeq = seq;
    const id = rawId instanceof Uint8Array ? rawId : new Uint8Array(0);
    let problem = objectProblem(id, bytes, deep);
    const kind = kindName(code);
    if (kind === undefined) problem = `its kind (${code}) is unknown`;
    if (problem === null && check) {
      problem = check({
        kind: kind!,
        id: id.toHex(),
        pageId: pageOf(pno),
        parentId: parent instanceof Uint8Array ? parent.toHex() : null,
        signer: signer instanceof Uint8Array ? signer.toHex() : null,
        bytes: bytes as Uint8Array,
      });
    }
    if (problem !== null) {
      onDamage({
        what: "object",
        seq,
        pno,
        pageId: pageOf(pno),
        kind,
        objectId: id.toHex(),
        problem,
      });
    }
  };

  const pageRow = (r: {
    pno: number;
    head: Uint8Array | null;
    state: unknown;
    state_hash: Uint8Array | null;
    root_checkpoint: Uint8Array | null;
    root_state: unknown;
  }) => {
    pages++;
    lastPno = r.pno;
    const base = { pno: r.pno, pageId: pageOf(r.pno) };
    let problem = stateProblem(r.state, r.state_hash);
    if (problem === null && (r.head === null) !== (r.state === null)) {
      problem = "its head or state is missing";
    }
    if (
      problem === null && r.head !== null &&
      (headKnown.get(r.head, r.pno) as { ok: number }).ok !== 1
    ) {
      problem = `its head ${r.head.toHex()} is not a stored event of the page`;
    }
    if (problem !== null) onDamage({ ...base, what: "state", problem });
    if (r.root_checkpoint !== null || r.root_state !== null) {
      const cp = r.root_checkpoint === null
        ? undefined
        : (checkpoint.get(r.root_checkpoint, r.pno) as { bytes: Uint8Array } | undefined)?.bytes;
      const root = rootProblem(r.root_state, r.root_checkpoint, cp);
      if (root !== null) onDamage({ ...base, what: "root", problem: root });
    }
  };

  return {
    step(maxRows) {
      const n = Math.max(1, Math.trunc(maxRows));
      if (!objectsDone) {
        let got = 0;
        for (const row of rows.iterate(lastSeq, n) as Iterable<unknown[]>) {
          objectRow(row);
          got++;
        }
        if (got < n) objectsDone = true;
        return false;
      }
      let got = 0;
      for (const r of pageRows.iterate(lastPno, n) as Iterable<Parameters<typeof pageRow>[0]>) {
        pageRow(r);
        got++;
      }
      return got < n;
    },
    counts: () => ({ objects, pages }),
  };
}

/**
 * Checks every stored object and every page's states on `db` (one snapshot when the caller
 * holds a read transaction) and calls `onDamage` for each problem found; see
 * {@linkcode recordScanner}.
 */
export function scan(
  db: DatabaseSync,
  onDamage: (d: DamagedRow) => void,
  options: { deep?: boolean; check?: RowCheck } = {},
): ScanCounts {
  const scanner = recordScanner(db, onDamage, options);
  while (!scanner.step(4096)) { /* next slice */ }
  return scanner.counts();
}

/** Runs SQLite's `quick_check` or `integrity_check` on a connection; the problems, [] when sound. */
export function integrityProblems(
  db: { prepare(sql: string): { all(): unknown[] } },
  mode: "quick" | "full",
): string[] {
  const rows = db.prepare(mode === "full" ? "PRAGMA integrity_check" : "PRAGMA quick_check")
    .all() as Record<string, string>[];
  const lines = rows.map((r) => Object.values(r)[0]);
  return lines.length === 1 && lines[0] === "ok" ? [] : lines;
}
