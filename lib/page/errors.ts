/**
 * The one error type of the signed-page model. Every refusal carries a stable `code` (for tests,
 * gossip peer scoring and `page show`) and a message that says what is wrong and where.
 *
 * @module
 */

/**
 * Why an object, an event or an approval was refused. Stable strings: other implementations and
 * tools may match on them (see docs/PROTOCOL.md §9).
 */
export type SignedPageErrorCode =
  /** Not the JSON shape the format requires (wrong type, missing or unknown field). */
  | "malformed"
  /** Bytes that are not the canonical encoding of the object they decode to. */
  | "not-canonical"
  /** Larger than a documented size or count limit. */
  | "too-large"
  /** A `v` this implementation does not know. */
  | "unsupported-version"
  /** A `type` this implementation does not know, or the wrong type for the call. */
  | "unknown-type"
  /** A handler name this implementation does not know. */
  | "unknown-handler"
  /** The Ed25519 signature does not verify over the message it claims to sign. */
  | "bad-signature"
  /** The signer is not a participant of the state the vote is counted in. */
  | "not-participant"
  /** The object names another page than the one it was given to. */
  | "wrong-page"
  /** An approval whose parent does not match the approved event's parent. */
  | "event-mismatch"
  /** A resulting page state is invalid (governance, meta or branches). */
  | "invalid-state"
  /** An operation cannot be applied to the parent state (missing path, bad index). */
  | "apply-failed"
  /** A checkpoint that does not verify (chain, approvals, state hash, governance). */
  | "bad-checkpoint"
  /** Two approvals that are not evidence of equivocation. */
  | "bad-evidence"
  /** A sub-page that the verified parent page does not link to, or a wrong trust anchor. */
  | "not-linked"
  /** Cannot be checked yet (a checkpoint's event is not known here); retry later. */
  | "not-ready"
  /** A resource bound of this node (held orphans) is full; retry later. */
  | "limit";

/** Thrown for every refused input of the signed-page model. Refusal never changes any state. */
export class SignedPageError extends Error {
  /** Machine-readable reason. */
  readonly code: SignedPageErrorCode;
  /** Creates an error; `message` names the part at fault (`event.args.path[2]: ...`). */
  constructor(code: SignedPageErrorCode, message: string) {
    super(message);
    this.name = "SignedPageError";
    this.code = code;
  }
}
