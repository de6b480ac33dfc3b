/**
 * Signed pages: the page model, the change log, consensus and the verifier of djdns.
 *
 * Pure logic: no sockets, no files, no clock. Formats and rules are specified in
 * docs/PROTOCOL.md; this module is their reference implementation.
 *
 * - Objects ({@linkcode Genesis}, {@linkcode PageEvent}, {@linkcode Approval},
 *   {@linkcode Evidence}, {@linkcode Checkpoint}, {@linkcode CheckpointApproval}): canonical bytes
 *   ({@linkcode encodeObject}), ids ({@linkcode objectId}), decoding with re-validation
 *   ({@linkcode decodeObject}).
 * - Building: {@linkcode createGenesis}, {@linkcode proposeEvent}, {@linkcode approve},
 *   {@linkcode createCheckpoint}, {@linkcode approveCheckpoint}.
 * - Verifying: {@linkcode createPageLog} / {@linkcode openFromCheckpoint} give an incremental
 *   {@linkcode PageLog}; {@linkcode openAnchor} and {@linkcode openSubPage} follow the chain of
 *   trust.
 *
 * @example
 * ```ts
 * import { generateKeyPair } from "../crypto/mod.ts";
 * import { approve, createGenesis, createPageLog, objectId, proposeEvent } from "./mod.ts";
 *
 * const alice = generateKeyPair();
 * const genesis = createGenesis({
 *   participants: { [alice.publicKey.toHex()]: { weight: 1 } },
 * });
 * const log = createPageLog(genesis);
 * const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
 *   branch: { selector: "^a\\.example$", records: [{ rtype: "A", rdata: "192.0.2.1" }] },
 * });
 * log.addEvent(ev);
 * log.addApproval(approve(alice.secretKey, ev));
 * console.assert(log.head() === objectId(ev));
 * ```
 *
 * @module
 */
export { SignedPageError, type SignedPageErrorCode } from "./errors.ts";
export * from "./limits.ts";
export { canonicalBytes, canonicalize, type Json, type JsonObject } from "./canonical.ts";
export {
  DEFAULT_CONTENT_THRESHOLD,
  DEFAULT_MEMBERSHIP_THRESHOLD,
  type Governance,
  type Participant,
  type Thresholds,
  validateGovernance,
} from "./governance.ts";
export { type HandlerName, HANDLERS, type Track } from "./handlers.ts";
export type { Op, PathKey } from "./path.ts";
export {
  linkedPageIds,
  type PageState,
  stateBranches,
  stateHash,
  stateSize,
  validateState,
} from "./state.ts";
export { type Applied, applyEvent } from "./apply.ts";
export {
  type Approval,
  approvalMessage,
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  checkpointApprovalMessage,
  type CheckpointEvidence,
  decodeObject,
  encodeObject,
  type Evidence,
  type Genesis,
  MAX_BYTES,
  objectId,
  type PageEvent,
  type SignedObject,
  verifyApproval,
  verifyCheckpointApproval,
  VERSION,
} from "./objects.ts";
export { addApprover, countPower, type PowerWork } from "./power.ts";
// Vote tables for tools that count power outside a log (pending checkpoints in `page show`).
export { type VoteTable, voteTable } from "./governance.ts";
export { type CheckpointLink, type CheckpointTip, verifyCheckpointChain } from "./checkpoint.ts";
export {
  type AddOptions,
  type AddResult,
  createPageLog,
  type EventStatus,
  HELD_EVENT_UNIT,
  MAX_HELD_APPROVALS,
  MAX_HELD_CHECKPOINT_APPROVALS,
  MAX_HELD_EVENT_BYTES,
  MAX_HELD_EVENTS,
  MAX_ORPHAN_APPROVALS,
  MAX_ORPHAN_EVENTS,
  openFromCheckpoint,
  type PageLog,
} from "./log.ts";
export { checkpointEvidenceOf, evidenceOf } from "./equivocation.ts";
export {
  approve,
  approveCheckpoint,
  createCheckpoint,
  createGenesis,
  type GenesisInput,
  proposeEvent,
} from "./sign.ts";
export { links, openAnchor, openSubPage, type TrustAnchor } from "./trust.ts";
