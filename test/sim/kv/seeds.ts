/**
 * Which seeds a run of the KV simulation covers:
 * - CI (default): seeds 1..CI_SEEDS, split into SHARDS test files (sweep-<n>.test.ts) of
 *   CHUNK_SEEDS per it() block;
 * - long mode: SIM_SEEDS=<count> (from SIM_SEED_FROM, default 1), or SIM_LONG=1 for LONG_SEEDS;
 * - replay: SIM_SEED=<n> runs exactly that seed in replay.test.ts, with its whole trace; the sweeps
 *   are skipped.
 * Every seed fixes the whole run (config.ts): the same seed gives the same events and result.
 */

/** Seeds per CI run: ~17 ms of CPU each; measured 4000 in ~80 s on one core (vitest uses one worker on a 2-core machine by default; --maxWorkers=2 halves it). */
export const CI_SEEDS = 4_000;
/** Seeds of SIM_LONG=1. */
export const LONG_SEEDS = 50_000;
/** Number of sweep test files. */
export const SHARDS = 4;
/** Seeds per it() block. */
export const CHUNK_SEEDS = 250;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/** The seed to replay (SIM_SEED), if any. */
export function replaySeed(): number | undefined {
  return envInt("SIM_SEED");
}

/** The seeds of the whole sweep: [from, from + count). */
export function sweepRange(): { from: number; count: number } {
  const count = envInt("SIM_SEEDS") ?? (process.env.SIM_LONG === "1" ? LONG_SEEDS : CI_SEEDS);
  return { from: envInt("SIM_SEED_FROM") ?? 1, count };
}

/** The seeds of shard `shard` (1-based) in it() chunks; none while replaying one seed. */
export function shardChunks(shard: number): number[][] {
  if (replaySeed() !== undefined) return [];
  const { from, count } = sweepRange();
  const per = Math.ceil(count / SHARDS);
  const start = from + (shard - 1) * per;
  const end = Math.min(from + count, start + per);
  const chunks: number[][] = [];
  for (let s = start; s < end; s += CHUNK_SEEDS) {
    chunks.push(Array.from({ length: Math.min(CHUNK_SEEDS, end - s) }, (_, i) => s + i));
  }
  return chunks;
}
