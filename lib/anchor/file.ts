/**
 * Trust anchor files (docs/PROTOCOL.md §10.1): what `djdns anchor export` writes and
 * `djdns run --anchor FILE` / `djdns verify-proof --anchor FILE` read. The file is the JSON of a
 * {@linkcode TrustAnchor} and nothing else:
 *
 * ```json
 * {"page": "<page id>", "genesis": {...}, "checkpoints": [{"checkpoint": {...},
 *   "approvals": [...]}], "state": {...}}
 * ```
 *
 * `checkpoints` and `state` (the state at the last checkpoint) are present together or not at
 * all. Parsing checks the shape only; {@linkcode openAnchor} verifies the genesis id, the
 * checkpoint chain and the state, so `openAnchor(parseAnchorFile(text))` is the whole check.
 *
 * @module
 */
import type { TrustAnchor } from "../page/mod.ts";

/** Largest anchor file read (a genesis is at most 8 MiB, a checkpoint 32 MiB). */
export const MAX_ANCHOR_FILE_BYTES = 64 * 1024 * 1024;

const KEYS = new Set(["page", "genesis", "checkpoints", "state"]);

/** Thrown for a file that is not an anchor file; the message is one line. */
export class AnchorFileError extends Error {
  /** Creates an anchor-file error. */
  constructor(message: string) {
    super(message);
    this.name = "AnchorFileError";
  }
}

/** The text of an anchor file (pretty JSON, newline-terminated). */
export function encodeAnchorFile(anchor: TrustAnchor): string {
  const out: Record<string, unknown> = { page: anchor.page, genesis: anchor.genesis };
  if (anchor.checkpoints && anchor.checkpoints.length > 0) {
    out.checkpoints = anchor.checkpoints.map((l) => ({
      checkpoint: l.checkpoint,
      approvals: l.approvals,
    }));
    out.state = anchor.state;
  }
  return JSON.stringify(out, null, 1) + "\n";
}

/**
 * Parses the text of an anchor file; `where` names it in errors. Checks the shape (known keys,
 * a 64-hex page id, objects where objects belong); signatures and ids are for openAnchor.
 */
export function parseAnchorFile(text: string, where = "anchor"): TrustAnchor {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AnchorFileError(`${where}: not JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new AnchorFileError(`${where}: an anchor file is a JSON object`);
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k)) throw new AnchorFileError(`${where}: unknown field '${k}'`);
  }
  if (typeof o.page !== "string" || !/^[0-9a-f]{64}$/.test(o.page)) {
    throw new AnchorFileError(`${where}: 'page' must be a page id (64 lowercase hex)`);
  }
  if (o.genesis === null || typeof o.genesis !== "object") {
    throw new AnchorFileError(`${where}: 'genesis' must be the page's genesis object`);
  }
  if (o.checkpoints !== undefined) {
    if (
      !Array.isArray(o.checkpoints) ||
      !o.checkpoints.every((l) =>
        l !== null && typeof l === "object" && "checkpoint" in l && Array.isArray(l.approvals)
      )
    ) {
      throw new AnchorFileError(
        `${where}: 'checkpoints' must be a list of {checkpoint, approvals}`,
      );
    }
    if (o.state === undefined) {
      throw new AnchorFileError(`${where}: 'checkpoints' needs 'state' (at the last one)`);
    }
  } else if (o.state !== undefined) {
    throw new AnchorFileError(`${where}: 'state' without 'checkpoints'`);
  }
  return o as unknown as TrustAnchor;
}
