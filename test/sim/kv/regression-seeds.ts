/**
 * Seeds that once failed, run on every test run (regression.test.ts) and expected to pass. Add a
 * seed here when a failure it showed is fixed (in src/ or in the harness), with what it showed.
 */
import type { SimConfig } from "./config.ts";

export interface RegressionSeed {
  seed: number;
  /** What it showed, and where the fix is. */
  note: string;
  /** Settings on top of the seed's own that it needs to show the failure. */
  overrides?: Partial<SimConfig>;
}

/** The five src/ bugs the simulation found (all fixed in 349ad4e), with the seeds that showed them. */
const SRC_BUGS = {
  K1: "src (liveness, membership): a member added after the leader's newest snapshot could not catch up once the entries it needed were compacted: Raft sent its stored snapshot, whose confState lacked the member, and the member ignored it; fixed: the leader sends a fresh snapshot of its applied state (CairnNode.withCurrentSnapshots)",
  K2: "src (safety, storage): a commit-only hard state that rolled the WAL over stayed in memory; a compaction then deleted every segment holding the durable term and vote, and a crash lost them (recovered term 0); fixed: the first write of a new segment is synced",
  K3: "src (availability): a member snapshotted with term 0 (status().appliedTerm) when a leader's snapshot arrived during its fsync; the storage rules refused it and the ready loop died; fixed: snapshot metadata from the applied state, no snapshot while Raft's log is past it",
  K4: "src (safety, ReadIndex §6.4): a follower relayed another member's MsgReadIndex as its own, and read contexts were per-process counters from 1, so a round was released with a read index taken before it began; fixed: no relaying, 16-byte contexts with a random per-process prefix",
  K5: "src (availability, storage): a torn append kept a new term's entries without the hard state written after them; RaftCore refused to restart (term below last log term); fixed: Raft raises its term to the log's",
};

export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    seed: 4,
    note: "harness: the committed-entry check refused a deposed leader's stale-term write at an index committed elsewhere (legal in Raft); now only a same-term or newer-term overwrite is a violation",
  },
  {
    seed: 346,
    note: "harness: zero-time livelock (a client retrying at once against a member whose Raft had no leader); clients now have network latency and a think time of at least 1 ms, and the scheduler stops at 100,000 events at one time",
  },
  ...[815, 1114, 1218, 1682, 1893, 2648, 2717].map((seed) => ({
    seed,
    note: "harness: the network duplicated forwarded proposals (MsgProp), which Cairn's transport never does; a failed compare-and-swap was committed twice and succeeded the second time (not linearizable)",
  })),
  ...[11567, 12439].map((seed) => ({
    seed,
    note: "harness: final reads failed with no_leader while a leadership transfer issued just before the fault phase ended completed; convergence now waits for no transfer in progress and final reads retry",
  })),
  { seed: 11, note: SRC_BUGS.K1 },
  { seed: 25, note: SRC_BUGS.K1, overrides: { settleMs: 5_000 } },
  ...[162, 57].map((seed) => ({ seed, note: SRC_BUGS.K2 })),
  ...[26, 3957].map((seed) => ({ seed, note: SRC_BUGS.K3 })),
  ...[13895, 5337, 17380, 21714].map((seed) => ({ seed, note: SRC_BUGS.K4 })),
  { seed: 7248, note: SRC_BUGS.K5 },
];
