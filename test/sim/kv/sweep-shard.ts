/**
 * The body of the sweep test files (sweep-<n>.test.ts): one it() per chunk of the shard's seeds
 * (seeds.ts), each printing its summary line and failing with every failing seed.
 */
import { describe, it } from "vitest";
import { SHARDS, shardChunks } from "./seeds.ts";
import { assertClean, describeSweep, sweep } from "./sweep.ts";

/** Most wall time of one chunk (ms): generous, the machine may be shared. */
const CHUNK_TIMEOUT_MS = 600_000;

/** Registers the sweep of shard `shard` (1..SHARDS). */
export function defineSweepShard(shard: number): void {
  const chunks = shardChunks(shard);
  describe(`KV simulation sweep ${shard}/${SHARDS}`, () => {
    it.skipIf(chunks.length > 0)("skipped: SIM_SEED replays one seed (replay.test.ts)", () => {});
    for (const seeds of chunks) {
      it(
        `seeds ${seeds[0]}–${seeds.at(-1)} are safe and linearizable`,
        () => {
          const s = sweep(seeds);
          console.log(describeSweep(seeds, s));
          assertClean(s);
        },
        CHUNK_TIMEOUT_MS,
      );
    }
  });
}
