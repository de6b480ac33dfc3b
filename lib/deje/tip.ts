/**
 * Choosing a document's tip and computing its state (go-deje `timestamps/tracker.go`, reference
 * digest §2.4).
 *
 * Start with no tip and state `{}`. For each id in the timestamp list, in order: skip it if the
 * event is unknown; skip it unless it is a fast-forward of the tip (there is no tip yet, or the
 * tip is the event or one of its ancestors), so the first of two forks wins; skip it if its
 * history does not apply (an ancestor is missing, or a SET/DELETE fails, or a handler is not
 * built in). Otherwise it becomes the tip. The state is the tip's: its history applied root-first
 * to `{}`. Like go-deje's tracker, nothing here checks who wrote an event.
 *
 * The digest words it as "pick the tip from the list, then apply it"; go-deje's tracker applies
 * each candidate (`DoIteration` calls `Goto`) and keeps the previous tip when that fails. We follow
 * the code, so the returned state is always a cleanly applied history, never a half-applied one.
 *
 * Work is linear in the document for ordinary histories; pathological timestamp lists that make
 * the same long history fail again and again stop with an error after {@linkcode MAX_WORK} units.
 *
 * @module
 */
import { DejeError, type JsonValue } from "./json.ts";
import { type ApplyContext, applyEvent, type StateBox } from "./state.ts";
import type { DejeDocument } from "./types.ts";

/** Bound on evaluation work: event steps walked plus JSON values copied. */
export const MAX_WORK = 20_000_000;

/** A timestamp that did not move the tip, and why. */
export interface SkippedTimestamp {
  /** Position in the timestamp list. */
  index: number;
  /** The event id listed there. */
  id: string;
  /** One-line reason. */
  reason: string;
}

/** The outcome of tip choice. */
export interface TipChoice {
  /** Id of the tip event, or null when no timestamp qualified. */
  tip: string | null;
  /** The tip's state (`{}` without a tip); owned by the caller. */
  state: JsonValue;
  /** Timestamps that were skipped, in list order. */
  skipped: SkippedTimestamp[];
}

/**
 * Pre/post-order numbers of every event whose ancestry is complete, so that "x is an ancestor of
 * y" is two comparisons instead of a walk.
 */
function ancestryIntervals(doc: DejeDocument): Map<string, [number, number]> {
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const [id, event] of doc.events) {
    if (event.parent === "") roots.push(id);
    else if (doc.events.has(event.parent)) {
      const list = children.get(event.parent);
      if (list === undefined) children.set(event.parent, [id]);
      else list.push(id);
    }
    // An event whose parent is unknown gets no interval: its history can never be applied.
  }
  const intervals = new Map<string, [number, number]>();
  let clock = 0;
  for (const root of roots) {
    // Iterative DFS: histories can be far deeper than the call stack.
    const stack: [string, number][] = [[root, 0]];
    intervals.set(root, [clock++, -1]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const kids = children.get(top[0]) ?? [];
      if (top[1] < kids.length) {
        const child = kids[top[1]++];
        intervals.set(child, [clock++, -1]);
        stack.push([child, 0]);
      } else {
        intervals.get(top[0])![1] = clock++;
        stack.pop();
      }
    }
  }
  return intervals;
}

const short = (id: string) => id.slice(0, 12);

/** Options of {@linkcode chooseTip}. */
export interface TipOptions {
  /** Work bound; defaults to {@linkcode MAX_WORK}. */
  maxWork?: number;
}

/**
 * Chooses the tip of `doc` and computes its state. Throws {@linkcode DejeError} when evaluation
 * needs more than `maxWork` units.
 */
export function chooseTip(doc: DejeDocument, options: TipOptions = {}): TipChoice {
  const intervals = ancestryIntervals(doc);
  const isAncestorOrSelf = (x: string, y: string) => {
    const a = intervals.get(x)!, b = intervals.get(y)!;
    return a[0] <= b[0] && b[1] <= a[1];
  };
  const failed = new Map<string, string>(); // event id -> why its history does not apply
  const box: StateBox = { root: {} };
  const budget = { units: options.maxWork ?? MAX_WORK };
  const skipped: SkippedTimestamp[] = [];
  let tip: string | null = null;

  doc.timestamps.forEach((id, index) => {
    const skip = (reason: string) => skipped.push({ index, id, reason });
    if (!doc.events.has(id)) return skip("unknown event");
    if (!intervals.has(id)) return skip("history incomplete: an ancestor event is unknown");
    if (tip !== null && !isAncestorOrSelf(tip, id)) {
      return skip(`not a fast-forward of the tip ${short(tip)}`);
    }
    if (id === tip) return;

    // The events from just after the tip down to `id`, newest first.
    const path: string[] = [];
    let known: string | undefined;
    for (let at = id; at !== tip && at !== ""; at = doc.events.get(at)!.parent) {
      if (--budget.units < 0) throw new DejeError("document is too expensive to evaluate");
      known = failed.get(at);
      if (known !== undefined) break;
      path.push(at);
    }
    if (known !== undefined) {
      for (const p of path) failed.set(p, known);
      return skip(known);
    }

    const ctx: ApplyContext = { budget, undo: [] };
    for (let i = path.length - 1; i >= 0; i--) {
      try {
        applyEvent(box, doc.events.get(path[i])!, ctx);
      } catch (e) {
        if (!(e instanceof DejeError) || budget.units < 0) throw e;
        for (let u = ctx.undo.length - 1; u >= 0; u--) ctx.undo[u]();
        const reason = `event ${short(path[i])} does not apply: ${e.message}`;
        for (let j = i; j >= 0; j--) failed.set(path[j], reason);
        return skip(reason);
      }
    }
    tip = id;
  });
  return { tip, state: box.root, skipped };
}

/** The state of the document's tip: what a legacy DJDNS page served from a DEJE document was. */
export function documentState(doc: DejeDocument): JsonValue {
  return chooseTip(doc).state;
}
