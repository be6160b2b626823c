/**
 * KV simulation sweep, shard 3 of 4 (seeds.ts): every seed runs N members of the real Raft, MVCC
 * and storage code under faults and must stay safe and linearizable. A failure names its seed:
 * SIM_SEED=<n> npx vitest run test/sim/kv/replay.test.ts replays it with its trace.
 */
import { defineSweepShard } from "./sweep-shard.ts";

defineSweepShard(3);
