/**
 * The DEJE Next data model: events and documents.
 *
 * @module
 */
import type { JsonObject } from "./json.ts";

/**
 * An event: a change to a document's state. `parent` is the id of the parent event, or `""` for a
 * root event. `args` is `null` when the input had none (go-deje's nil map, serialized as `null`).
 */
export interface DejeEvent {
  /** Id (lower-case hex SHA-1) of the parent event, or `""` for a root event. */
  readonly parent: string;
  /** Handler name: `SET` and `DELETE` are the only ones that can be applied. */
  readonly handler: string;
  /** Handler arguments. */
  readonly args: JsonObject | null;
}

/** A document: events by id, and the timestamp list that decides the tip. */
export interface DejeDocument {
  /** Events keyed by their recomputed id (input keys are ignored). */
  readonly events: ReadonlyMap<string, DejeEvent>;
  /** Event ids in timestamp order; may name unknown events. */
  readonly timestamps: readonly string[];
}
