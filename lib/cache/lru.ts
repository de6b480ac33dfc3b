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
  key: string;
  value: V;
  expiresAt: number;
  size: number;
  /** Neighbours in recency order: `prev` was used less recently, `next` more. */
  prev: Entry<V> | null;
  next: Entry<V> | null;
}

/**
 * Creates an empty cache: a `Map` for lookups and a doubly linked list for recency. (Re-inserting
 * into the Map on every hit and evicting its first key looked O(1) but is not: V8 leaves deleted
 * slots at the front of a Map's table until it rehashes, and `keys().next()` walks over them, so
 * every eviction of a full 10,000-entry cache skipped thousands of holes — most of the cost of
 * a cache miss under a flood of distinct names.)
 */
export function createCache<V>(options: CacheOptions): Cache<V> {
  const { maxEntries, maxBytes, now } = options;
  if (!(maxEntries >= 0) || !(maxBytes >= 0)) {
    throw new RangeError("maxEntries and maxBytes must be non-negative");
  }
  const entries = new Map<string, Entry<V>>();
  let bytes = 0;
  let oldest: Entry<V> | null = null;
  let newest: Entry<V> | null = null;

  function unlink(e: Entry<V>): void {
    if (e.prev) e.prev.next = e.next;
    else oldest = e.next;
    if (e.next) e.next.prev = e.prev;
    else newest = e.prev;
    e.prev = e.next = null;
  }

  function append(e: Entry<V>): void {
    e.prev = newest;
    e.next = null;
    if (newest) newest.next = e;
    else oldest = e;
    newest = e;
  }

  function drop(e: Entry<V>): void {
    entries.delete(e.key);
    unlink(e);
    bytes -= e.size;
  }

  function remove(key: string): boolean {
    const entry = entries.get(key);
    if (entry === undefined) return false;
    drop(entry);
    return true;
  }

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (now() >= entry.expiresAt) {
        drop(entry);
        return undefined;
      }
      if (entry !== newest) {
        unlink(entry);
        append(entry);
      }
      return entry.value;
    },
    set(key, value, ttlMs, sizeBytes) {
      remove(key);
      const size = Math.max(0, sizeBytes);
      if (!(ttlMs > 0) || !Number.isFinite(ttlMs) || size > maxBytes || maxEntries < 1) {
        return false;
      }
      while (oldest !== null && (entries.size >= maxEntries || bytes + size > maxBytes)) {
        drop(oldest);
      }
      const entry: Entry<V> = {
        key,
        value,
        expiresAt: now() + ttlMs,
        size,
        prev: null,
        next: null,
      };
      entries.set(key, entry);
      append(entry);
      bytes += size;
      return true;
    },
    delete: remove,
    clear() {
      entries.clear();
      oldest = newest = null;
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
