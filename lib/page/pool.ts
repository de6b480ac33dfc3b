/**
 * A bounded pool of held objects, charged to the source that sent them. When the pool is full, the
 * oldest object of the source holding most is evicted, so a flood from one source evicts its own
 * objects and never crowds out a source that holds few (docs/PROTOCOL.md §11). Every operation
 * is O(1).
 *
 * @module
 */

/** A bounded, per-source, oldest-first pool of values keyed by id. */
export interface Pool<T> {
  /** Number of values held. */
  readonly size: number;
  /** The most values held. */
  readonly max: number;
  /** True when `id` is held. */
  has(id: string): boolean;
  /**
   * Holds `value` under `id`, charged to `source`; when full, evicts first (see the module doc).
   * An id held already keeps its place and source.
   */
  add(id: string, source: string, value: T): void;
  /** Stops holding `id` (no eviction callback); returns its value. */
  delete(id: string): T | undefined;
  /** Values held for one source (for tests and metrics). */
  countOf(source: string): number;
}

/** Source name of objects added without one. */
export const NO_SOURCE = "";

/**
 * Creates a pool of at most `max` values; `onEvict(id, value)` is called for each value evicted
 * to make room (after it left the pool).
 */
export function createPool<T>(max: number, onEvict: (id: string, value: T) => void): Pool<T> {
  // Per source, its ids in insertion order (a Map iterates oldest first).
  const bySource = new Map<string, Map<string, T>>();
  const sourceOf = new Map<string, string>();
  // Sources by how many values they hold, to find the largest in O(1): counts change by one at a
  // time, so the largest count drops by at most one per removal.
  const byCount = new Map<number, Set<string>>();
  let largest = 0;

  function move(source: string, from: number, to: number): void {
    if (from > 0) {
      const s = byCount.get(from)!;
      s.delete(source);
      if (s.size === 0) byCount.delete(from);
    }
    if (to > 0) {
      let s = byCount.get(to);
      if (!s) byCount.set(to, s = new Set());
      s.add(source);
    }
    if (to > largest) largest = to;
    while (largest > 0 && !byCount.has(largest)) largest--;
  }

  function remove(id: string): T | undefined {
    const source = sourceOf.get(id);
    if (source === undefined) return undefined;
    sourceOf.delete(id);
    const m = bySource.get(source)!;
    const value = m.get(id)!;
    m.delete(id);
    move(source, m.size + 1, m.size);
    if (m.size === 0) bySource.delete(source);
    return value;
  }

  function evictFor(source: string): void {
    // The new value's source counts with it: a source at the top evicts its own oldest.
    const own = (bySource.get(source)?.size ?? 0) + 1;
    let victim = source;
    if (own <= largest) victim = byCount.get(largest)!.values().next().value!;
    const m = bySource.get(victim);
    if (m === undefined) return; // a new source when every other holds nothing: cannot happen
    const [id] = m.keys();
    const value = remove(id)!;
    onEvict(id, value);
  }

  return {
    get size() {
      return sourceOf.size;
    },
    max,
    has: (id) => sourceOf.has(id),
    add(id, source, value) {
      if (sourceOf.has(id)) return;
      while (sourceOf.size >= max) evictFor(source);
      let m = bySource.get(source);
      if (!m) bySource.set(source, m = new Map());
      m.set(id, value);
      sourceOf.set(id, source);
      move(source, m.size - 1, m.size);
    },
    delete: remove,
    countOf: (source) => bySource.get(source)?.size ?? 0,
  };
}
