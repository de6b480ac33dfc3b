/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for every signed object of djdns, with
 * the restrictions djdns adds: no lone surrogates (RFC 8785 §3.2.2.2 requires refusing them), no
 * `__proto__` keys (so decoded objects are plain data in every language and cannot pollute a
 * prototype here), bounded nesting. Decoding accepts only bytes that are already canonical: an
 * object has exactly one byte form, so its SHA-256 id is unique.
 *
 * @module
 */
import { sha256Hex as sha256HexUtf8 } from "../crypto/mod.ts";
import { SignedPageError } from "./errors.ts";
import { MAX_DEPTH } from "./limits.ts";

/** A JSON value as djdns objects hold it (immutable once part of an object). */
export type Json = null | boolean | number | string | readonly Json[] | JsonObject;
/** A JSON object. */
export type JsonObject = { readonly [key: string]: Json };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Canonical strings of frozen subtrees. States share unchanged subtrees between events
// (copy-on-write), so hashing the next state re-encodes only what changed.
const memo = new WeakMap<object, string>();

// The location of a failure is rebuilt from a stack of keys only when something fails: building
// a location string for every node made encoding several times slower.
function fail(root: string, path: readonly (string | number)[], what: string): never {
  const where = root + path.map((k) => typeof k === "number" ? `[${k}]` : `.${k}`).join("");
  throw new SignedPageError("malformed", `${where}: ${what}`);
}

// `"key":` of object keys already encoded (and checked: no `__proto__`, no lone surrogate).
// Objects of one kind share a few keys; reusing their encoding saves about 15 % of the time of
// encoding an event. Keys come from input, so only the first few thousand short ones are kept.
const keyPrefix = new Map<string, string>();
const KEY_PREFIX_MAX = 4096;

function encode(
  value: unknown,
  root: string,
  path: (string | number)[],
  useMemo: boolean,
): string {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) fail(root, path, "string contains a lone surrogate");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) fail(root, path, "number is not finite");
      // ECMAScript Number::toString is exactly the RFC 8785 number form; -0 becomes "0".
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (path.length >= MAX_DEPTH) fail(root, path, `nested deeper than ${MAX_DEPTH}`);
      if (useMemo) {
        const hit = memo.get(value);
        if (hit !== undefined) return hit;
      }
      let out: string;
      if (Array.isArray(value)) {
        out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          path.push(i);
          out += encode(value[i], root, path, useMemo);
          path.pop();
        }
        out += "]";
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          fail(root, path, "not a plain JSON object");
        }
        // Default sort compares UTF-16 code units: exactly RFC 8785 §3.2.3.
        const keys = Object.keys(value).sort();
        out = "{";
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i];
          let prefix = keyPrefix.get(key);
          if (prefix === undefined) {
            if (key === "__proto__") fail(root, path, "key __proto__ is not allowed");
            if (!key.isWellFormed()) fail(root, path, "key contains a lone surrogate");
            prefix = JSON.stringify(key) + ":";
            if (keyPrefix.size < KEY_PREFIX_MAX && key.length <= 64) keyPrefix.set(key, prefix);
          }
          const v = (value as Record<string, unknown>)[key];
          path.push(key);
          if (v === undefined) fail(root, path, "undefined is not JSON");
          if (i > 0) out += ",";
          out += prefix + encode(v, root, path, useMemo);
          path.pop();
        }
        out += "}";
      }
      if (useMemo && Object.isFrozen(value)) memo.set(value, out);
      return out;
    }
    default:
      return fail(root, path, `${typeof value} is not JSON`);
  }
}

/*
 * The fast path of canonicalize(): JSON.stringify, run natively, writes exactly the RFC 8785
 * text of JSON data whose object keys were inserted in sorted order (strings and numbers are
 * serialized as encode() serializes them: by JSON.stringify). So the value is checked and copied
 * into such data, then stringified: about twice as fast as encode(), and the text is flat.
 * Anything the copy does not take exactly returns NOT_PLAIN, and encode() then encodes the
 * value, or says what is wrong with it:
 * - whatever encode() refuses (lone surrogates, non-finite numbers, undefined, functions,
 *   non-plain objects, nesting deeper than MAX_DEPTH);
 * - keys that would not stay in insertion order (array indices: any key starting with a digit)
 *   or that name a property of Object.prototype (`__proto__`, `constructor`, and any property a
 *   polluted prototype gained, whose setter a copy would call);
 * - objects of more than MAX_COPIED_KEYS keys (a state's participants: V8 would keep a hidden
 *   class per key of the copies);
 * - a polluted runtime: a `toJSON` on Object.prototype or Array.prototype (JSON.stringify would
 *   call it), or a replaced array iterator (arrays are copied by spreading).
 * What is stringified is the copy: a value the copy takes is read once, as encode() reads it (a
 * value it refuses is read again by encode()).
 */
const NOT_PLAIN = Symbol("not plain JSON data");
const stringify = JSON.stringify;
const ARRAY_VALUES = Array.prototype[Symbol.iterator];
const ARRAY_ITERATOR_NEXT = Object.getPrototypeOf([][Symbol.iterator]()).next;

const MAX_COPIED_KEYS = 32;

function plainCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
      return value.isWellFormed() ? value : NOT_PLAIN;
    case "number":
      return Number.isFinite(value) ? value : NOT_PLAIN;
    case "boolean":
      return value;
    case "object": {
      if (value === null) return null;
      if (depth >= MAX_DEPTH) return NOT_PLAIN;
      if (Array.isArray(value)) {
        // Spreading defines the copy's elements (no setter can run); holes become undefined.
        const copy: unknown[] = [...value];
        for (let i = 0; i < copy.length; i++) {
          const v = copy[i];
          const c = plainCopy(v, depth + 1);
          if (c === NOT_PLAIN) return NOT_PLAIN;
          if (c !== v) copy[i] = c;
        }
        return copy;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
      // Default sort compares UTF-16 code units: exactly RFC 8785 §3.2.3.
      const keys = Object.keys(value).sort();
      if (keys.length > MAX_COPIED_KEYS) return NOT_PLAIN;
      const copy: Record<string, unknown> = {};
      for (const key of keys) {
        const first = key.charCodeAt(0);
        if ((first >= 48 && first <= 57) || key in Object.prototype || !key.isWellFormed()) {
          return NOT_PLAIN;
        }
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) return NOT_PLAIN;
        const c = plainCopy(v, depth + 1);
        if (c === NOT_PLAIN) return NOT_PLAIN;
        copy[key] = c;
      }
      return copy;
    }
    default:
      return NOT_PLAIN;
  }
}

/** canonicalize() by plainCopy() and JSON.stringify, or undefined (see above). */
function fastCanonical(value: unknown, depth: number): string | undefined {
  if (
    "toJSON" in Object.prototype || "toJSON" in Array.prototype ||
    Array.prototype[Symbol.iterator] !== ARRAY_VALUES ||
    Object.getPrototypeOf([][Symbol.iterator]()).next !== ARRAY_ITERATOR_NEXT
  ) return undefined;
  const copy = plainCopy(value, depth);
  return copy === NOT_PLAIN ? undefined : stringify(copy);
}

/**
 * The RFC 8785 canonical JSON text of `value`. Throws `SignedPageError` ("malformed") for
 * anything that is not plain JSON data (non-finite numbers, lone surrogates, `__proto__` keys,
 * nesting deeper than {@linkcode MAX_DEPTH}); `where` names the value in that message.
 */
export function canonicalize(value: unknown, where = "value"): string {
  return fastCanonical(value, 0) ?? flat(encode(value, where, [], false));
}

/** Like {@linkcode canonicalize}, reusing cached encodings of frozen subtrees (page states). */
export function canonicalizeShared(value: unknown, where = "value"): string {
  return flat(encode(value, where, [], true));
}

// Written by flat(): a store the optimizing compilers cannot drop as dead code.
let _flattenSink = 0;

/**
 * `text` as one flat string. The encoder builds a rope (a V8 cons string per `+`, holding every
 * piece); checked objects keep their canonical text for their id and storage, and a kept rope of
 * an event costs about 6× the memory of its flat text (1.9 KB instead of 335 bytes), all of it
 * traced and copied by the garbage collector. Reading a character flattens a rope in place; the
 * result is stored so that Maglev and TurboFan cannot eliminate the read (they did, measured).
 */
function flat(text: string): string {
  _flattenSink = text.charCodeAt(0);
  return text;
}

/** UTF-8 bytes of the canonical JSON of `value`. */
export function canonicalBytes(value: unknown, where = "value"): Uint8Array {
  return encoder.encode(canonicalize(value, where));
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
  return sha256HexUtf8(text);
}

/** Recursively freezes a JSON value in place and returns it typed as {@linkcode Json}. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Decodes canonical JSON bytes: they must be UTF-8, at most `maxBytes` long, parse as JSON, and
 * re-encode to exactly the same text (this refuses whitespace, unsorted or duplicate keys, other
 * number or string spellings). The result is deep-frozen. `what` names the object in errors.
 */
export function decodeCanonical(bytes: Uint8Array, maxBytes: number, what: string): Json {
  if (bytes.length > maxBytes) {
    throw new SignedPageError("too-large", `${what}: ${bytes.length} bytes, limit ${maxBytes}`);
  }
  let text: string;
  let value: unknown;
  try {
    text = decoder.decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new SignedPageError("malformed", `${what}: not UTF-8 JSON (${(e as Error).message})`);
  }
  if (canonicalize(value, what) !== text) {
    throw new SignedPageError("not-canonical", `${what}: bytes are not in canonical form`);
  }
  return deepFreeze(value as Json);
}
