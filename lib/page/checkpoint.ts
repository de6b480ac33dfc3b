/**
 * Checkpoints: Track-2-approved statements "the state at event X hashes to H", forming a chain
 * per page. Each checkpoint carries the governance of the state it commits to, and is approved
 * under the governance of the previous checkpoint (the genesis state for the first), so a new
 * node verifies the short chain of checkpoints, then only the events after the last one.
 *
 * @module
 */
import { canonicalize } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import { type Governance, voteTable } from "./governance.ts";
import { MAX_STATE_BYTES, PPM } from "./limits.ts";
import {
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  type Genesis,
  objectId,
  verifyCheckpointApproval,
} from "./objects.ts";
import { countPower, reaches } from "./power.ts";
import { type PageState, stateHash, stateSize, validateState } from "./state.ts";

/** A checkpoint with the approvals that make it valid. */
export interface CheckpointLink {
  /** The checkpoint. */
  readonly checkpoint: Checkpoint;
  /** Approvals by participants of the previous checkpoint's governance. */
  readonly approvals: readonly CheckpointApproval[];
}

/** What a verified checkpoint chain establishes. */
export interface CheckpointTip {
  /** Id of the last checkpoint (null: none, the genesis). */
  readonly id: string | null;
  /** Height of its event (0 for the genesis). */
  readonly height: number;
  /** Id of its event (the page id for the genesis). */
  readonly event: string;
  /** The governance the next checkpoint is approved under. */
  readonly governance: Governance;
}

function bad(what: string): never {
  throw new SignedPageError("bad-checkpoint", what);
}

/** The chain tip of a page that has no checkpoint yet. */
export function genesisTip(genesis: Genesis): CheckpointTip {
  return { id: null, height: 0, event: objectId(genesis), governance: genesis.state.governance };
}

/** A checkpoint checked against the tip it extends, with the approvals that count for it. */
export interface CheckedCheckpoint {
  /** Its id. */
  readonly id: string;
  /** The checkpoint (validated, frozen). */
  readonly checkpoint: Checkpoint;
  /**
   * Approvals that count, by key: well-formed, of this checkpoint, with a valid signature, by a
   * participant of the tip's governance. The others are ignored (PROTOCOL §9).
   */
  readonly approvals: Map<string, CheckpointApproval>;
}

/**
 * Checks that `link`'s checkpoint may extend the chain at `tip` (same page, `prev` = tip id,
 * greater height, a membership threshold above 1/2 to approve it under) and collects the approvals
 * that count; approvals that do not count (malformed, of another checkpoint, a bad signature, by a
 * non-participant) are ignored, not refused. `known`, when given, holds approvals already verified
 * (by key) and is added to. Throws `SignedPageError` ("bad-checkpoint", "malformed",
 * "wrong-page") when the checkpoint itself does not fit.
 */
export function checkCheckpointLink(
  page: string,
  tip: CheckpointTip,
  link: CheckpointLink,
  known?: Map<string, CheckpointApproval>,
): CheckedCheckpoint {
  const cp = checkObject(link.checkpoint, "checkpoint");
  const id = objectId(cp);
  if (cp.page !== page) {
    throw new SignedPageError("wrong-page", `checkpoint ${id}: belongs to page ${cp.page}`);
  }
  if (cp.prev !== tip.id) bad(`checkpoint ${id}: prev ${cp.prev} does not extend ${tip.id}`);
  if (cp.height <= tip.height) bad(`checkpoint ${id}: height ${cp.height} ≤ ${tip.height}`);
  const table = voteTable(tip.governance);
  if (table.membershipPpm * 2 <= PPM) {
    bad(`checkpoint ${id}: membership threshold must be above 1/2 to approve checkpoints`);
  }
  const approvals = known ?? new Map<string, CheckpointApproval>();
  for (const raw of Array.isArray(link.approvals) ? link.approvals : []) {
    let a: CheckpointApproval;
    try {
      a = checkObject(raw, "checkpoint-approval");
    } catch (e) {
      if (e instanceof SignedPageError) continue;
      throw e;
    }
    if (a.page !== page || a.checkpoint !== id || !table.power.has(a.key)) continue;
    const had = approvals.get(a.key);
    if (had !== undefined && had.sig === a.sig) continue;
    if (had === undefined && verifyCheckpointApproval(a)) approvals.set(a.key, a);
  }
  return { id, checkpoint: cp, approvals };
}

/**
 * Approving power of a checkpoint under the governance of the tip it extends, without the keys
 * in `excluded` (checkpoint equivocators at that tip), and whether it reaches the membership
 * threshold.
 */
export function checkpointPower(
  tip: CheckpointTip,
  approvers: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  excluded: ReadonlySet<string>,
): { power: number; enough: boolean } {
  const table = voteTable(tip.governance);
  const power = countPower(table, approvers, excluded);
  return { power, enough: reaches(table, power, table.membershipPpm) };
}

/** The tip a checked checkpoint makes. */
export function tipOf(c: CheckedCheckpoint): CheckpointTip {
  const cp = c.checkpoint;
  return { id: c.id, height: cp.height, event: cp.event, governance: cp.governance };
}

/**
 * Verifies that `link` extends the chain at `tip`: well-formed, same page, `prev` = tip id,
 * greater height, and approvals that count (valid signatures, participants of the tip
 * governance; the others are ignored) reaching its membership threshold (delegation counts; the
 * threshold must be above 1/2). Returns the new tip. Throws `SignedPageError`
 * ("bad-checkpoint", "malformed", "wrong-page") saying what failed.
 */
export function verifyCheckpointLink(
  page: string,
  tip: CheckpointTip,
  link: CheckpointLink,
): CheckpointTip {
  const c = checkCheckpointLink(page, tip, link);
  const { power, enough } = checkpointPower(tip, c.approvals, new Set());
  if (!enough) {
    const table = voteTable(tip.governance);
    bad(
      `checkpoint ${c.id}: approving power ${power / PPM} of ${table.totalWeight} is below the ` +
        `membership threshold ${table.membershipPpm / PPM} (counting ${c.approvals.size} valid ` +
        "approvals by participants)",
    );
  }
  return tipOf(c);
}

/** Verifies a whole chain from the genesis; returns its tip. */
export function verifyCheckpointChain(
  genesis: Genesis,
  chain: readonly CheckpointLink[],
): CheckpointTip {
  const page = objectId(genesis);
  let tip = genesisTip(genesis);
  for (const link of chain) tip = verifyCheckpointLink(page, tip, link);
  return tip;
}

/**
 * Checks that `state` is the state a checkpoint commits to: same hash, same governance.
 * Returns it validated and frozen.
 */
export function checkCheckpointState(cp: Checkpoint, state: unknown): PageState {
  const s = validateState(state, "checkpoint state");
  const size = stateSize(s);
  if (size > MAX_STATE_BYTES) {
    throw new SignedPageError(
      "too-large",
      `checkpoint state: ${size} bytes, limit ${MAX_STATE_BYTES}`,
    );
  }
  if (stateHash(s) !== cp.stateHash) {
    bad(`checkpoint state: hash ${stateHash(s)} is not the committed ${cp.stateHash}`);
  }
  if (canonicalize(s.governance) !== canonicalize(cp.governance)) {
    bad("checkpoint: governance differs from the governance of the committed state");
  }
  return s;
}
