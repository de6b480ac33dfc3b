/**
 * Applying an event to its parent state: expand the handler into operations, apply them
 * copy-on-write, validate what changed, and derive the event's track from the touched paths.
 *
 * @module
 */
import type { Json, JsonObject } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";
import { combineTracks, type HandlerName, handlerOps, pathTrack, type Track } from "./handlers.ts";
import type { PageEvent } from "./objects.ts";
import { applyOp, type Op } from "./path.ts";
import { type PageState, validateNextState } from "./state.ts";

/** The outcome of applying an event that applies cleanly. */
export interface Applied {
  /** The state after the event. */
  readonly state: PageState;
  /** The track the event is on, which decides the approvals it needs. */
  readonly track: Track;
}

/**
 * Applies `event` to `parent` (a valid state). Throws `SignedPageError` ("apply-failed" or
 * "invalid-state") naming the operation and part at fault; `parent` is never modified.
 */
export function applyEvent(parent: PageState, event: PageEvent): Applied {
  const calls: Array<{ handler: HandlerName; args: Json; where: string }> =
    event.handler === "BATCH"
      ? ((event.args as JsonObject).ops as JsonObject[]).map((o, i) => ({
        handler: o.handler as HandlerName,
        args: o.args,
        where: `event.args.ops[${i}]`,
      }))
      : [{ handler: event.handler, args: event.args, where: "event" }];
  let doc: Json = parent as unknown as Json;
  const tracks: Track[] = [];
  // The one branch index all operations change something inside of (a path through
  // branches[i]: the branch list is copied with only element i replaced), null for any other
  // change of the branch list, undefined while none: lets validation skip the other branches.
  let onlyBranch: number | null | undefined;
  for (const call of calls) {
    const ops: Op[] = handlerOps(call.handler, call.args, doc);
    for (const op of ops) {
      tracks.push(pathTrack(op.path));
      const p = op.path;
      if (p.length === 0) onlyBranch = null;
      else if (p[0] === "branches") {
        const i = p.length >= 3 && typeof p[1] === "number" ? p[1] : null;
        onlyBranch = onlyBranch === undefined || onlyBranch === i ? i : null;
      }
      // The location is formatted only if the operation fails.
      doc = applyOp(
        doc,
        op,
        () => `${call.where} (${call.handler}) path ${JSON.stringify(op.path)}`,
      );
    }
  }
  const state = validateNextState(parent, doc, "state", onlyBranch ?? undefined);
  const track = combineTracks(tracks);
  if (
    track.kind === "delegation" && !Object.hasOwn(parent.governance.participants, track.delegator)
  ) {
    throw new SignedPageError("apply-failed", `event: ${track.delegator} is not a participant`);
  }
  return { state, track };
}
