/**
 * Seeded pseudo-random numbers (mulberry32, public domain). Raft's randomized election timeouts
 * take randomness as an input so a seeded run replays exactly; a real node seeds it from the OS
 * and logs the seed.
 */

/**
 * Returns a generator of floats in [0, 1) determined entirely by `seed` (a uint32).
 * Not cryptographic.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
