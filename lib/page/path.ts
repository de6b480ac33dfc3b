/**
 * Copy-on-write JSON path operations (DEJE's SET and DELETE, plus an array insert used by the
 * convenience handlers). The input value is never modified; the result shares every untouched
 * subtree with it and is frozen, so states of consecutive events cost only the changed path.
 *
 * @module
 */
import type { Json, JsonObject } from "./canonical.ts";
import { deepFreeze } from "./canonical.ts";
import { SignedPageError } from "./errors.ts";

/** One step of a path: an object key or an array index. */
export type PathKey = string | number;

/** A primitive change of a JSON document. */
export type Op =
  /** Sets the value at `path` (`[]` replaces the whole document; index = length appends). */
  | { readonly op: "set"; readonly path: readonly PathKey[]; readonly value: Json }
  /** Deletes an object key (missing key: no change, as in DEJE) or an array element (shifts). */
  | { readonly op: "delete"; readonly path: readonly PathKey[] }
  /** Inserts into an array before the index (index = length appends). */
  | { readonly op: "insert"; readonly path: readonly PathKey[]; readonly value: Json };

function fail(where: string, what: string): never {
  throw new SignedPageError("apply-failed", `${where}: ${what}`);
}

function step(node: Json, op: Op, i: number, where: string): Json {
  const key = op.path[i];
  const last = i === op.path.length - 1;
  const at = `${where}[${i}]`;
  if (Array.isArray(node)) {
    const arr = node as readonly Json[];
    if (typeof key !== "number") fail(at, `'${key}' is not an index into an array`);
    if (!last) {
      if (key >= arr.length) fail(at, `index ${key} is past the end (length ${arr.length})`);
      const child = step(arr[key], op, i + 1, where);
      if (child === arr[key]) return arr; // a no-op below (DELETE of a missing key)
      const copy = arr.slice();
      copy[key] = child;
      return Object.freeze(copy);
    }
    const copy = arr.slice();
    if (op.op === "set") {
      if (key > arr.length) fail(at, `index ${key} is past the end (length ${arr.length})`);
      copy[key] = op.value;
    } else if (op.op === "insert") {
      if (key > arr.length) fail(at, `index ${key} is past the end (length ${arr.length})`);
      copy.splice(key, 0, op.value);
    } else {
      if (key >= arr.length) fail(at, `no element ${key} to delete (length ${arr.length})`);
      copy.splice(key, 1);
    }
    return Object.freeze(copy);
  }
  if (node !== null && typeof node === "object") {
    const obj = node as JsonObject;
    if (typeof key !== "string") fail(at, `${key} is an index but the value is an object`);
    if (last && op.op === "insert") fail(at, "insert needs an array");
    if (last && op.op === "delete" && !Object.hasOwn(obj, key)) return obj;
    if (!last && !Object.hasOwn(obj, key)) fail(at, `no field '${key}'`);
    if (!last) {
      const child = step(obj[key], op, i + 1, where);
      if (child === obj[key]) return obj;
      return Object.freeze({ ...obj, [key]: child });
    }
    const copy: Record<string, Json> = { ...obj };
    if (op.op === "set") copy[key] = op.value;
    else delete copy[key];
    return Object.freeze(copy);
  }
  return fail(at, "cannot descend into a scalar");
}

/**
 * Applies one operation to `doc` and returns the new document (frozen, sharing untouched parts).
 * Throws `SignedPageError` ("apply-failed") naming the path step at fault; `where` names the path
 * (`event.args.path`).
 */
export function applyOp(doc: Json, op: Op, where = "path"): Json {
  if (op.path.length === 0) {
    if (op.op === "set") return deepFreeze(op.value);
    fail(where, op.op === "delete" ? "cannot delete the root" : "insert needs an array");
  }
  if (op.op !== "delete") deepFreeze(op.value);
  return step(doc, op, 0, where);
}
