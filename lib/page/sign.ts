/**
 * Building and signing objects: the genesis of a new page, proposed events, approvals, checkpoints
 * and their approvals. Everything returned is validated, frozen and ready to gossip or store.
 *
 * @module
 */
import { publicKeyOf, sign } from "../crypto/mod.ts";
import type { Json, JsonObject } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import {
  DEFAULT_CONTENT_THRESHOLD,
  DEFAULT_MEMBERSHIP_THRESHOLD,
  type Participant,
} from "./governance.ts";
import type { HandlerName } from "./handlers.ts";
import {
  type Approval,
  approvalMessage,
  checkObject,
  type Checkpoint,
  type CheckpointApproval,
  checkpointApprovalMessage,
  type Genesis,
  objectId,
  type PageEvent,
} from "./objects.ts";
import type { PageLog } from "./log.ts";
import { stateHash } from "./state.ts";

/** What a new page starts with; thresholds default to 0.34 (content) and 0.70 (membership). */
export interface GenesisInput {
  /** Participants keyed by lowercase hex public key. */
  readonly participants: { readonly [key: string]: Participant };
  /** Thresholds; each defaults when omitted. */
  readonly thresholds?: { readonly content?: number; readonly membership?: number };
  /** Optional `meta`. */
  readonly meta?: JsonObject;
  /** Initial branches (original page format); default none. */
  readonly branches?: readonly JsonObject[];
  /** Optional nonce, to make the page id unique. */
  readonly nonce?: string;
}

/** Builds and validates the genesis of a new page. Its {@linkcode objectId} is the page id. */
export function createGenesis(input: GenesisInput): Genesis {
  const state: Record<string, unknown> = {
    governance: {
      participants: input.participants,
      thresholds: {
        content: input.thresholds?.content ?? DEFAULT_CONTENT_THRESHOLD,
        membership: input.thresholds?.membership ?? DEFAULT_MEMBERSHIP_THRESHOLD,
      },
    },
    branches: input.branches ?? [],
  };
  if (input.meta !== undefined) state.meta = input.meta;
  const g: Record<string, unknown> = { type: "genesis", v: 1, state: structuredClone(state) };
  if (input.nonce !== undefined) g.nonce = input.nonce;
  return checkObject(g, "genesis");
}

/** Builds and validates an event proposing `handler(args)` on top of event `parent`. */
export function proposeEvent(
  page: string,
  parent: string,
  handler: HandlerName,
  args: Json,
): PageEvent {
  return checkObject(
    { type: "event", v: 1, page, parent, handler, args: structuredClone(args) },
    "event",
  );
}

/** Signs an approval of `event` with a 32-byte Ed25519 secret key. */
export function approve(secretKey: Uint8Array, event: PageEvent): Approval {
  const e = checkObject(event, "event");
  const id = objectId(e);
  const sig = sign(secretKey, approvalMessage(e.page, e.parent, id)).toHex();
  return checkObject(
    {
      type: "approval",
      v: 1,
      page: e.page,
      parent: e.parent,
      event: id,
      key: publicKeyOf(secretKey).toHex(),
      sig,
    },
    "approval",
  );
}

/**
 * Builds the next checkpoint of `log`'s chain for the accepted event `eventId` (default: the
 * head), committing to the state computed there. It still needs approvals
 * ({@linkcode approveCheckpoint}) by the governance of the previous checkpoint.
 */
export function createCheckpoint(log: PageLog, eventId: string = log.head()): Checkpoint {
  const state = log.stateAt(eventId);
  if (state === undefined || log.status(eventId).status !== "accepted") {
    throw new SignedPageError("not-ready", `checkpoint: ${eventId} is not on the head chain`);
  }
  if (log.height(eventId) === 0) {
    throw new SignedPageError("not-ready", "checkpoint: the genesis needs no checkpoint");
  }
  const last = log.checkpoints().at(-1)?.checkpoint;
  return checkObject(
    {
      type: "checkpoint",
      v: 1,
      page: log.pageId,
      prev: last ? objectId(last) : null,
      event: eventId,
      height: log.height(eventId),
      stateHash: stateHash(state),
      governance: state.governance,
    },
    "checkpoint",
  );
}

/** Signs an approval of a checkpoint. */
export function approveCheckpoint(secretKey: Uint8Array, cp: Checkpoint): CheckpointApproval {
  const c = checkObject(cp, "checkpoint");
  const id = objectId(c);
  return checkObject(
    {
      type: "checkpoint-approval",
      v: 1,
      page: c.page,
      checkpoint: id,
      key: publicKeyOf(secretKey).toHex(),
      sig: sign(secretKey, checkpointApprovalMessage(c.page, id)).toHex(),
    },
    "checkpoint-approval",
  );
}
