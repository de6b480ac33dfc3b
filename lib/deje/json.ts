/**
 * JSON values as DEJE documents hold them: validation with size bounds, own-property access that
 * is safe for keys such as `__proto__`, and deep copies.
 *
 * @module
 */

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Any malformed DEJE input or failed DEJE operation; the message is one line for the user. */
export class DejeError extends Error {
  /** Creates an error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "DejeError";
  }
}

/** Deepest nesting of arrays and objects accepted in input, and in a document state. */
export const MAX_DEPTH = 256;
/** Largest JSON text accepted by {@linkcode parseJsonText}, in UTF-16 code units. */
export const MAX_INPUT_CHARS = 16 * 1024 * 1024;

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The own property `key` of `obj`, or undefined; never reads the prototype chain. */
export function getOwn(obj: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Sets own property `key`; a plain assignment to `__proto__` would change the prototype instead. */
export function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * Parses JSON text, bounded in size. Throws {@linkcode DejeError} for oversized or invalid text
 * and for values {@linkcode checkJson} refuses.
 */
export function parseJsonText(text: string): JsonValue {
  if (text.length > MAX_INPUT_CHARS) {
    throw new DejeError(`input is larger than ${MAX_INPUT_CHARS} characters`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8 messages are one line and name the position, which is what the user needs.
    throw new DejeError(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  checkJson(value, "input");
  return value as JsonValue;
}

/**
 * Checks that `value` is JSON DEJE can hash: finite numbers, well-formed Unicode strings (a lone
 * surrogate has no UTF-8 encoding, so no defined hash), arrays and plain objects nested at most
 * {@linkcode MAX_DEPTH} deep. `where` names the value in the error message.
 */
export function checkJson(value: unknown, where: string): asserts value is JsonValue {
  check(value, where, 0);
}

function check(value: unknown, where: string, depth: number): void {
  switch (typeof value) {
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new DejeError(`${where}: number is not finite`);
      return;
    case "string":
      if (!value.isWellFormed()) {
        throw new DejeError(`${where}: string contains a lone UTF-16 surrogate`);
      }
      return;
    case "object": {
      if (value === null) return;
      if (depth >= MAX_DEPTH) throw new DejeError(`${where}: nested more than ${MAX_DEPTH} deep`);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) check(value[i], where, depth + 1);
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new DejeError(`${where}: not a plain JSON object`);
      }
      for (const key of Object.keys(value)) {
        if (!key.isWellFormed()) {
          throw new DejeError(`${where}: object key contains a lone UTF-16 surrogate`);
        }
        check((value as JsonObject)[key], where, depth + 1);
      }
      return;
    }
    default:
      throw new DejeError(`${where}: ${typeof value} is not a JSON value`);
  }
}

/** Nesting depth of `value`: 0 for a scalar, 1 for a flat array or object. */
export function depthOf(value: JsonValue): number {
  if (typeof value !== "object" || value === null) return 0;
  let max = 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) max = Math.max(max, depthOf(child));
  return max + 1;
}

/**
 * Deep copy of `value`. `budget.units` is decreased by the number of values copied, so a caller
 * can bound total work; the copy throws {@linkcode DejeError} when it would go negative.
 */
export function cloneJson(value: JsonValue, budget: { units: number }): JsonValue {
  if (--budget.units < 0) throw new DejeError("document is too expensive to evaluate");
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => cloneJson(v, budget));
  const out: JsonObject = {};
  for (const key of Object.keys(value)) setOwn(out, key, cloneJson(value[key], budget));
  return out;
}
