/**
 * Legacy DEJE Next compatibility: read DEJE documents (events, timestamps, SHA-1 ids over the
 * original compact serialization), reproduce the original serializer byte for byte, apply SET and
 * DELETE, choose the tip and compute its state (a legacy DJDNS page). Pure: no I/O.
 *
 * @example
 * ```ts
 * import { documentState, parseDocument, parseJsonText } from "./mod.ts";
 * const doc = parseDocument(parseJsonText('{"events": {}, "timestamps": []}'));
 * documentState(doc); // {}
 * ```
 *
 * @module
 */
export type { DejeDocument, DejeEvent } from "./types.ts";
export { DejeError, type JsonObject, type JsonValue, MAX_DEPTH, MAX_INPUT_CHARS } from "./json.ts";
export { parseJsonText } from "./json.ts";
export { MAX_EVENTS, MAX_TIMESTAMPS, parseDocument, parseEvent } from "./document.ts";
export { type DejeFormat, serializeDocument, serializeEvent, serializeValue } from "./serialize.ts";
export { hashDocument, hashEvent, hashValue } from "./hash.ts";
export { type ApplyContext, applyEvent, MAX_ARRAY_GAP, type StateBox } from "./state.ts";
export {
  chooseTip,
  documentState,
  MAX_WORK,
  type SkippedTimestamp,
  type TipChoice,
  type TipOptions,
} from "./tip.ts";
