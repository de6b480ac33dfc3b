/**
 * Reading DEJE Next events and documents from parsed JSON, with shape checks and size bounds.
 *
 * As go-deje does, unknown keys are dropped (old documents carry `topic` and `quorums`), missing
 * fields take their zero value (`""`, `null`, no events, no timestamps), and events are re-keyed by
 * their recomputed id: the keys in the input are ignored. Unlike Go, field names are matched
 * exactly (Go's decoder also accepts `"Parent"`).
 *
 * @module
 */
import { hashEvent } from "./hash.ts";
import {
  checkJson,
  DejeError,
  getOwn,
  isJsonObject,
  type JsonObject,
  type JsonValue,
} from "./json.ts";
import type { DejeDocument, DejeEvent } from "./types.ts";

/** Most events a document may hold. */
export const MAX_EVENTS = 100_000;
/** Longest timestamp list a document may hold. */
export const MAX_TIMESTAMPS = 100_000;

function optionalString(obj: JsonObject, key: string, where: string): string {
  const v = getOwn(obj, key);
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new DejeError(`${where}: '${key}' must be a string`);
  return v;
}

/**
 * Reads an event. Throws {@linkcode DejeError} when `input` is not an object, when `parent` or
 * `handler` is not a string, or when `args` is not an object (or null).
 */
export function parseEvent(input: unknown, where = "event"): DejeEvent {
  checkJson(input, where);
  return readEvent(input, where);
}

// The shape checks of parseEvent, for a value checkJson has already accepted.
function readEvent(input: JsonValue, where: string): DejeEvent {
  if (!isJsonObject(input)) throw new DejeError(`${where}: must be a JSON object`);
  const parent = optionalString(input, "parent", where);
  const handler = optionalString(input, "handler", where);
  const args = getOwn(input, "args");
  if (args !== undefined && args !== null && !isJsonObject(args)) {
    throw new DejeError(`${where}: 'args' must be an object`);
  }
  return { parent, handler, args: args ?? null };
}

/**
 * Reads a document. Throws {@linkcode DejeError} when `input` is not an object, `events` is not an
 * object of events, `timestamps` is not an array of strings, or either exceeds its bound.
 */
export function parseDocument(input: unknown): DejeDocument {
  checkJson(input, "document");
  if (!isJsonObject(input)) throw new DejeError("document: must be a JSON object");
  const rawEvents = getOwn(input, "events") ?? {};
  if (!isJsonObject(rawEvents)) {
    throw new DejeError("document: 'events' must be an object of events keyed by id");
  }
  const keys = Object.keys(rawEvents);
  if (keys.length > MAX_EVENTS) {
    throw new DejeError(`document: more than ${MAX_EVENTS} events`);
  }
  const events = new Map<string, DejeEvent>();
  for (const key of keys) {
    const event = readEvent(rawEvents[key], `document: event '${key}'`);
    events.set(hashEvent(event), event);
  }
  const rawTimestamps = getOwn(input, "timestamps") ?? [];
  if (!Array.isArray(rawTimestamps)) {
    throw new DejeError("document: 'timestamps' must be an array of event ids");
  }
  if (rawTimestamps.length > MAX_TIMESTAMPS) {
    throw new DejeError(`document: more than ${MAX_TIMESTAMPS} timestamps`);
  }
  const timestamps = rawTimestamps.map((ts, i) => {
    if (typeof ts !== "string") throw new DejeError(`document: timestamps[${i}] must be a string`);
    return ts;
  });
  return { events, timestamps };
}
