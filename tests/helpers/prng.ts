/**
 * A seeded pseudo-random generator (mulberry32) shared by the tests, so fuzz inputs, random
 * histories and kill times are the same on every run and a failure reproduces from its seed.
 *
 * @module
 */

/** Returns a generator of numbers in [0, 1) determined by `seed`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
