/**
 * The chain of trust: a trust anchor (root page id, its genesis, optionally a checkpoint chain
 * and the state at its last checkpoint) opens the root page; a sub-page is opened only when a
 * verified page links to it with a `djdns:<page-id>` target.
 *
 * @module
 */
import type { CheckpointLink } from "./checkpoint.ts";
import { SignedPageError } from "./errors.ts";
import { createPageLog, openFromCheckpoint, type PageLog } from "./log.ts";
import { checkObject, type Genesis, objectId } from "./objects.ts";
import { linkedPageIds, type PageState } from "./state.ts";

/** What a node trusts without asking anyone: embedded in the binary for the root page. */
export interface TrustAnchor {
  /** The page id (SHA-256 of the genesis). */
  readonly page: string;
  /** The genesis of that page. */
  readonly genesis: Genesis;
  /** Optional checkpoint chain; when given, `state` is the state at its last checkpoint. */
  readonly checkpoints?: readonly CheckpointLink[];
  /** The state at the last checkpoint (required with `checkpoints`). */
  readonly state?: PageState;
}

/**
 * Opens the page of a trust anchor after checking that the genesis has the anchored id and,
 * with checkpoints, that the chain and state verify. Throws `SignedPageError` ("not-linked"
 * for a genesis that is not the anchored page, else the checkpoint's error).
 */
export function openAnchor(anchor: TrustAnchor): PageLog {
  const g = checkObject(anchor.genesis, "genesis");
  if (objectId(g) !== anchor.page) {
    throw new SignedPageError(
      "not-linked",
      `anchor: genesis has id ${objectId(g)}, not the anchored page ${anchor.page}`,
    );
  }
  if (anchor.checkpoints && anchor.checkpoints.length > 0) {
    if (anchor.state === undefined) {
      throw new SignedPageError("bad-checkpoint", "anchor: checkpoints given without their state");
    }
    return openFromCheckpoint(g, anchor.checkpoints, anchor.state);
  }
  return createPageLog(g);
}

/** True when a `djdns:<pageId>` target of `state` delegates to `pageId`. */
export function links(state: PageState, pageId: string): boolean {
  return linkedPageIds(state).includes(pageId);
}

/**
 * Opens a sub-page reached from the verified page `parent`: its head state must hold a
 * `djdns:<id>` target naming the sub-page's genesis. Optional checkpoints work as for an anchor.
 * Throws `SignedPageError` ("not-linked") when the parent does not link to it.
 */
export function openSubPage(
  parent: PageLog,
  genesis: Genesis,
  checkpoints?: readonly CheckpointLink[],
  state?: PageState,
): PageLog {
  const g = checkObject(genesis, "genesis");
  const id = objectId(g);
  if (!links(parent.state(), id)) {
    throw new SignedPageError(
      "not-linked",
      `sub-page ${id}: no djdns:${id} target in the head state of page ${parent.pageId}`,
    );
  }
  return openAnchor({ page: id, genesis: g, checkpoints, state });
}
