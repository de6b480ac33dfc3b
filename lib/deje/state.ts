/**
 * Applying the built-in DEJE handlers, SET and DELETE, to a document state, with an undo log so
 * that a chain of events that fails part-way can be rolled back.
 *
 * Semantics (go-deje `state/`, reference digest §2.1):
 * - `SET {path, value}` with an empty path replaces the whole state. Otherwise `path[:-1]` is
 *   walked from the root (every key must exist and have the container's type: strings for
 *   objects, numbers for arrays, truncated toward zero) and the last key is set on that container.
 *   An array index past the end is allowed; the gap is filled with `null`.
 * - `DELETE {path}` with an empty path is an error ("Cannot delete root node"). Deleting a missing
 *   object key or an index past the end is a no-op; deleting an array element shifts the rest down.
 * - Any other handler: "Custom events are not supported yet".
 *
 * Bounds Go does not have: a negative array index is an error rather than wrapping; an index more
 * than {@linkcode MAX_ARRAY_GAP} past the end is an error (Go would allocate the gap); the state
 * may not nest deeper than {@linkcode MAX_DEPTH}. Values are copied into the state, so events are
 * never changed by later edits.
 *
 * @module
 */
import {
  cloneJson,
  DejeError,
  depthOf,
  getOwn,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  MAX_DEPTH,
  setOwn,
} from "./json.ts";
import type { DejeEvent } from "./types.ts";

/** Furthest past the end of an array a SET may write. */
export const MAX_ARRAY_GAP = 1024;

/** A mutable document state: the root can be replaced by `SET []`. */
export interface StateBox {
  /** The current state. */
  root: JsonValue;
}

/** Per-evaluation bookkeeping: a work budget (values copied) and the undo log. */
export interface ApplyContext {
  /** Remaining work units; copying a value costs one unit per JSON value. */
  budget: { units: number };
  /** Closures that undo applied changes; run in reverse order to roll back. */
  undo: (() => void)[];
}

type PathKey = string | number;

function describe(value: JsonValue): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : typeof value;
}

function pathOf(args: JsonObject | null): JsonValue[] {
  const path = args === null ? undefined : getOwn(args, "path");
  if (path === undefined) throw new DejeError("No path provided");
  if (!Array.isArray(path)) throw new DejeError("Bad path value: 'path' must be an array");
  return path;
}

function arrayIndex(key: JsonValue, i: number): number {
  if (typeof key !== "number") {
    throw new DejeError(`path[${i}]: array index must be a number, not ${describe(key)}`);
  }
  const index = Math.trunc(key);
  if (index < 0) throw new DejeError(`path[${i}]: array index ${key} is negative`);
  return index;
}

function objectKey(key: JsonValue, i: number): string {
  if (typeof key !== "string") {
    throw new DejeError(`path[${i}]: object key must be a string, not ${describe(key)}`);
  }
  return key;
}

/** Walks `path[:-1]` and returns the container its last key addresses. */
function parentOf(root: JsonValue, path: JsonValue[]): JsonValue[] | JsonObject {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (Array.isArray(node)) {
      const index = arrayIndex(path[i], i);
      if (index >= node.length) throw new DejeError(`path[${i}]: index ${index} not present`);
      node = node[index];
    } else if (isJsonObject(node)) {
      const key = objectKey(path[i], i);
      const child = getOwn(node, key);
      if (child === undefined) throw new DejeError(`path[${i}]: key '${key}' not present`);
      node = child;
    } else {
      throw new DejeError(`path[${i}]: cannot descend into ${describe(node)}`);
    }
  }
  if (Array.isArray(node) || isJsonObject(node)) return node;
  throw new DejeError(`path[${path.length - 1}]: ${describe(node)} has no children`);
}

function applySet(box: StateBox, args: JsonObject | null, ctx: ApplyContext): void {
  const path = pathOf(args);
  const value = getOwn(args!, "value");
  if (value === undefined) throw new DejeError("No value provided");
  if (path.length + depthOf(value) > MAX_DEPTH) {
    throw new DejeError(`SET would nest the state more than ${MAX_DEPTH} deep`);
  }
  if (path.length === 0) {
    const old = box.root;
    box.root = cloneJson(value, ctx.budget);
    ctx.undo.push(() => box.root = old);
    return;
  }
  const container = parentOf(box.root, path);
  const last = path.length - 1;
  if (Array.isArray(container)) {
    const index = arrayIndex(path[last], last);
    if (index > container.length + MAX_ARRAY_GAP) {
      throw new DejeError(
        `path[${last}]: index ${index} is more than ${MAX_ARRAY_GAP} past the end`,
      );
    }
    const copy = cloneJson(value, ctx.budget);
    if (index < container.length) {
      const old = container[index];
      container[index] = copy;
      ctx.undo.push(() => container[index] = old);
    } else {
      const oldLength = container.length;
      while (container.length < index) container.push(null);
      container.push(copy);
      ctx.undo.push(() => container.length = oldLength);
    }
  } else {
    const key = objectKey(path[last], last);
    const old = getOwn(container, key);
    setOwn(container, key, cloneJson(value, ctx.budget));
    ctx.undo.push(() => {
      if (old === undefined) delete container[key];
      else setOwn(container, key, old);
    });
  }
}

function applyDelete(box: StateBox, args: JsonObject | null, ctx: ApplyContext): void {
  const path = pathOf(args);
  if (path.length === 0) throw new DejeError("Cannot delete root node");
  const container = parentOf(box.root, path);
  const last = path.length - 1;
  if (Array.isArray(container)) {
    const index = arrayIndex(path[last], last);
    if (index >= container.length) return;
    const [old] = container.splice(index, 1);
    ctx.undo.push(() => container.splice(index, 0, old));
  } else {
    const key = objectKey(path[last], last);
    const old = getOwn(container, key);
    if (old === undefined) return;
    delete container[key];
    ctx.undo.push(() => setOwn(container, key, old));
  }
}

/**
 * Applies one event to `box`, recording how to undo it in `ctx.undo`. Throws
 * {@linkcode DejeError} when the event cannot apply; the state is then unchanged by this event.
 */
export function applyEvent(box: StateBox, event: DejeEvent, ctx: ApplyContext): void {
  if (event.handler === "SET") applySet(box, event.args, ctx);
  else if (event.handler === "DELETE") applyDelete(box, event.args, ctx);
  else throw new DejeError(`Custom events are not supported yet (handler '${event.handler}')`);
}
