/**
 * A bounded pool of held objects, charged to the source that sent them. Each object has a weight
 * (a small integer: one, or its size in units); when the pool is full, the oldest object of the
 * source holding most weight is evicted, so a flood from one source evicts its own objects and
 * never crowds out a source that holds little (docs/PROTOCOL.md §11). Every operation is O(1)
 * for weight 1, O(weight) otherwise.
 *
 * @module
 */

/** A bounded, per-source, oldest-first pool of values keyed by id. */
export interface Pool<T> {
  /** Total weight held. */
  readonly size: number;
  /** The most weight held. */
  readonly max: number;
  /** True when `id` is held. */
  has(id: string): boolean;
  /**
   * Holds `value` under `id`, charged to `source`; when full, evicts first (see the module doc).
   * An id held already keeps its place and source.
   */
  add(id: string, source: string, value: T, weight?: number): void;
  /** Stops holding `id` (no eviction callback); returns its value. */
  delete(id: string): T | undefined;
  /** Weight held for one source (for tests and metrics). */
  countOf(source: string): number;
}

/** Source name of objects added without one. */
export const NO_SOURCE = "";

/**
 * Creates a pool of at most `max` weight; `onEvict(id, value)` is called for each value evicted
 * to make room (after it left the pool).
 */
export function createPool<T>(max: number, onEvict: (id: string, value: T) => void): Pool<T> {
  // Per source, its ids in insertion order (a Map iterates oldest first) and its weight.
  const bySource = new Map<string, { entries: Map<string, [T, number]>; weight: number }>();
  const sourceOf = new Map<string, string>();
  // Sources by the weight they hold, to find the largest without a scan: weights change by
  // small steps, so the largest drops by at most that much per removal.
  const byCount = new Map<number, Set<string>>();
  let largest = 0;
  let total = 0;

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
    const [value, weight] = m.entries.get(id)!;
    m.entries.delete(id);
    m.weight -= weight;
    total -= weight;
    move(source, m.weight + weight, m.weight);
    if (m.entries.size === 0) bySource.delete(source);
    return value;
  }

  function evictFor(source: string, weight: number): void {
    // The new value's source counts with it: a source at the top evicts its own oldest.
    const own = (bySource.get(source)?.weight ?? 0) + weight;
    let victim = source;
    if (own <= largest || !bySource.has(source)) {
      victim = byCount.get(largest)!.values().next().value!;
    }
    const m = bySource.get(victim)!;
    const [id] = m.entries.keys();
    const value = remove(id)!;
    onEvict(id, value);
  }

  return {
    get size() {
      return total;
    },
    max,
    has: (id) => sourceOf.has(id),
    add(id, source, value, weight = 1) {
      if (sourceOf.has(id)) return;
      while (total + weight > max && total > 0) evictFor(source, weight);
      let m = bySource.get(source);
      if (!m) bySource.set(source, m = { entries: new Map(), weight: 0 });
      m.entries.set(id, [value, weight]);
      m.weight += weight;
      total += weight;
      sourceOf.set(id, source);
      move(source, m.weight - weight, m.weight);
    },
    delete: remove,
    countOf: (source) => bySource.get(source)?.weight ?? 0,
  };
}
