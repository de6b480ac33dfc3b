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
import { PPM } from "./limits.ts";
import {
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  type Genesis,
  objectId,
  verifyCheckpointApproval,
} from "./objects.ts";
import { countPower, reaches } from "./power.ts";
import { type PageState, stateHash, validateState } from "./state.ts";

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

/**
 * Verifies that `link` extends the chain at `tip`: well-formed, same page, `prev` = tip id,
 * greater height, and approvals whose signatures verify, by participants of the tip governance,
 * reaching its membership threshold (delegation counts; membership threshold must be above 1/2
 * so two conflicting checkpoints cannot both verify without equivocation). Returns the new tip.
 * Throws `SignedPageError` ("bad-checkpoint", "bad-signature", "not-participant", "malformed",
 * "wrong-page") saying what failed.
 */
export function verifyCheckpointLink(
  page: string,
  tip: CheckpointTip,
  link: CheckpointLink,
): CheckpointTip {
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
  const approvers = new Set<string>();
  link.approvals.forEach((raw, i) => {
    const a = checkObject(raw, "checkpoint-approval", `approvals[${i}]`);
    if (a.page !== page || a.checkpoint !== id) bad(`approvals[${i}]: approves another checkpoint`);
    if (!verifyCheckpointApproval(a)) {
      throw new SignedPageError("bad-signature", `approvals[${i}]: signature does not verify`);
    }
    if (!table.power.has(a.key)) {
      throw new SignedPageError(
        "not-participant",
        `approvals[${i}]: ${a.key} is not a participant`,
      );
    }
    approvers.add(a.key);
  });
  const power = countPower(table, approvers, new Set());
  if (!reaches(table, power, table.membershipPpm)) {
    bad(
      `checkpoint ${id}: approving power ${power / PPM} of ${table.totalWeight} is below the ` +
        `membership threshold ${table.membershipPpm / PPM}`,
    );
  }
  return { id, height: cp.height, event: cp.event, governance: cp.governance };
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
  if (stateHash(s) !== cp.stateHash) {
    bad(`checkpoint state: hash ${stateHash(s)} is not the committed ${cp.stateHash}`);
  }
  if (canonicalize(s.governance) !== canonicalize(cp.governance)) {
    bad("checkpoint: governance differs from the governance of the committed state");
  }
  return s;
}
