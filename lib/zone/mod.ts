/**
 * RFC 1035 master files ("zone files"): reading them into page records ({@linkcode parseZone})
 * and writing page records as one ({@linkcode formatZone}). Used by `djdns zone import|export`.
 *
 * @module
 */
export {
  MAX_ZONE_CHARS,
  type ParsedZone,
  parseTtl,
  parseZone,
  ZONE_TYPES,
  type ZoneProblem,
  type ZoneRecord,
} from "./parse.ts";
export {
  type ExportProblem,
  type ExportRecord,
  formatZone,
  inZone,
  quoteString,
  rdataText,
} from "./format.ts";
