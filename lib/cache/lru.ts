/**
 * A bounded LRU cache with per-entry expiry. Pure: time comes from an injected clock, so tests
 * and callers decide what "now" is.
 *
 * @module
 */

/** Options for {@linkcode createCache}. */
export interface CacheOptions {
  /** Most entries kept at once; the least recently used go first beyond it. */
  maxEntries: number;
  /** Most total `sizeBytes` kept at once; the least recently used go first beyond it. */
  maxBytes: number;
  /** Current time in milliseconds (monotonic or wall clock; only differences matter). */
  now: () => number;
}

/** A bounded LRU cache with TTLs, as returned by {@linkcode createCache}. */
export interface Cache<V> {
  /** The live value for `key`, or `undefined` when absent or expired (an expired entry is evicted). */
  get(key: string): V | undefined;
  /**
   * Stores `value` for `ttlMs` milliseconds, accounted as `sizeBytes`. Returns false (and drops
   * any previous entry for `key`) when the value cannot be stored: a non-positive or non-finite
   * TTL, or a size larger than `maxBytes`.
   */
  set(key: string, value: V, ttlMs: number, sizeBytes: number): boolean;
  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean;
  /** Removes every entry. */
  clear(): void;
  /** Number of entries held (expired entries not yet evicted included). */
  readonly size: number;
  /** Sum of `sizeBytes` of the entries held. */
  readonly bytes: number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  size: number;
}

/**
 * Creates an empty cache. A `Map` keeps insertion order, so re-inserting on every hit makes its
 * first key the least recently used one: O(1) LRU without a linked list.
 */
export function createCache<V>(options: CacheOptions): Cache<V> {
  const { maxEntries, maxBytes, now } = options;
  if (!(maxEntries >= 0) || !(maxBytes >= 0)) {
    throw new RangeError("maxEntries and maxBytes must be non-negative");
  }
  const entries = new Map<string, Entry<V>>();
  let bytes = 0;

  function remove(key: string): boolean {
    const entry = entries.get(key);
    if (entry === undefined) return false;
    entries.delete(key);
    bytes -= entry.size;
    return true;
  }

  function evictLeastRecent(): void {
    const oldest = entries.keys().next();
    if (!oldest.done) remove(oldest.value);
  }

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (now() >= entry.expiresAt) {
        remove(key);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },
    set(key, value, ttlMs, sizeBytes) {
      remove(key);
      const size = Math.max(0, sizeBytes);
      if (!(ttlMs > 0) || !Number.isFinite(ttlMs) || size > maxBytes || maxEntries < 1) {
        return false;
      }
      while (entries.size >= maxEntries || bytes + size > maxBytes) evictLeastRecent();
      entries.set(key, { value, expiresAt: now() + ttlMs, size });
      bytes += size;
      return true;
    },
    delete: remove,
    clear() {
      entries.clear();
      bytes = 0;
    },
    get size() {
      return entries.size;
    },
    get bytes() {
      return bytes;
    },
  };
}
