/**
 * The answer cache: a pure, bounded LRU cache with TTLs, and the DNS rules for how long an
 * answer may be cached. Keys are strings built by the caller (e.g. `name|type|class|do`).
 *
 * @module
 */
export { type Cache, type CacheOptions, createCache } from "./lru.ts";
export {
  MAX_NEGATIVE_TTL_SECONDS,
  MAX_POSITIVE_TTL_SECONDS,
  negativeTtl,
  positiveTtl,
  responseTtl,
  SERVFAIL_TTL_SECONDS,
} from "./ttl.ts";
