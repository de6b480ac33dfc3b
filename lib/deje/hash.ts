/**
 * DEJE ids: lower-case hex SHA-1 of the UTF-8 bytes of the compact serialization. SHA-1 is what
 * the legacy format uses; it is only for reading legacy documents, never for djdns's own ids.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { JsonValue } from "./json.ts";
import { serializeDocument, serializeEvent, serializeValue } from "./serialize.ts";
import type { DejeDocument, DejeEvent } from "./types.ts";

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/** The id of an event. */
export function hashEvent(event: DejeEvent): string {
  return sha1Hex(serializeEvent(event, "compact"));
}

/** The hash of a whole document (its compact serialization). */
export function hashDocument(doc: DejeDocument): string {
  return sha1Hex(serializeDocument(doc, "compact"));
}

/** The hash of any JSON value (go-deje's `HashObject`). */
export function hashValue(value: JsonValue): string {
  return sha1Hex(serializeValue(value, "compact"));
}
