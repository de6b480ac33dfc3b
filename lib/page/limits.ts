/**
 * Size and count limits of the signed-page formats. They are part of the protocol: an object over
 * a limit is invalid everywhere, so every node refuses the same things.
 *
 * @module
 */

/** Largest canonical encoding of an event, in bytes. */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Largest canonical encoding of a genesis (it carries a whole initial state), in bytes. */
export const MAX_GENESIS_BYTES = 8 * 1024 * 1024;
/** Largest canonical encoding of a checkpoint (it carries a governance section), in bytes. */
export const MAX_CHECKPOINT_BYTES = 32 * 1024 * 1024;
/** Largest canonical encoding of a page state, in bytes (checkpoint bootstrap). */
export const MAX_STATE_BYTES = 64 * 1024 * 1024;
/** Largest canonical encoding of an approval, evidence or checkpoint approval, in bytes. */
export const MAX_APPROVAL_BYTES = 2048;
/** Deepest nesting of arrays and objects in any object. */
export const MAX_DEPTH = 32;
/** Longest JSON path of a SET or DELETE. */
export const MAX_PATH_LENGTH = 16;
/** Most operations in one BATCH event. */
export const MAX_BATCH_OPS = 64;
/** Most participants of one page. */
export const MAX_PARTICIPANTS = 100_000;
/** Largest vote weight of one participant, and largest total weight of a page. */
export const MAX_TOTAL_WEIGHT = 1_000_000_000;
/** Most delegates one participant may name. */
export const MAX_DELEGATES = 8;
/** Most delegation edges power travels from the participant it belongs to; beyond, it is lost. */
export const MAX_DELEGATION_HOPS = 4;
/** Most network endpoints of one participant. */
export const MAX_ENDPOINTS = 8;
/** Longest endpoint string and participant name, in characters. */
export const MAX_LABEL_LENGTH = 255;
/** Longest genesis nonce, in characters. */
export const MAX_NONCE_LENGTH = 128;
/** Denominator of thresholds and delegation fractions: they are exact multiples of 10^-6. */
export const PPM = 1_000_000;
