/**
 * Seeded randomness of the simulation: every random choice (delays, drops, crashes, election
 * timeouts) comes from one of these, so a seed replays a run exactly. Built on mulberry32
 * (src/util/random.ts).
 */
import { seededRandom } from "../../src/util/random.ts";

/** A seeded pseudo-random generator with the helpers the simulation needs. */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  /** Float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element. @throws Error on an empty array */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from empty array");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A new generator derived from this one (for a component that needs its own stream). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 2 ** 32));
  }
}

/**
 * Seeds to run: SIM_SEED=<n> replays exactly one; otherwise `count` seeds from 1
 * (SIM_SEEDS=<count> overrides the count).
 */
export function simSeeds(count: number): number[] {
  const one = process.env.SIM_SEED;
  if (one !== undefined && one !== "") return [Number.parseInt(one, 10)];
  const n = process.env.SIM_SEEDS ? Number.parseInt(process.env.SIM_SEEDS, 10) : count;
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * Runs `fn` for every seed; a failure is rethrown with the seed and how to replay it.
 */
export function forEachSeed(count: number, fn: (seed: number) => void): void {
  for (const seed of simSeeds(count)) {
    try {
      fn(seed);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message = `seed ${seed} (replay: SIM_SEED=${seed}): ${e.message}`;
      throw e;
    }
  }
}
