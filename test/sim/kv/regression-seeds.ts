/**
 * Seeds that once failed, run on every test run (regression.test.ts) and expected to pass. Add a
 * seed here when a failure it showed is fixed (in src/ or in the harness), with what it showed.
 * Seeds reproducing known src/ issues still open are in known-issues.ts.
 */
export interface RegressionSeed {
  seed: number;
  /** What it showed, and where the fix is. */
  note: string;
}

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
  { seed: 11, note: "known issue K1 (first seen here): tolerated unless strict" },
  { seed: 162, note: "known issue K2 (first seen here): avoided unless strict" },
  { seed: 26, note: "known issue K3 (first seen here): avoided unless strict" },
  ...[5337, 17380, 21714].map((seed) => ({ seed, note: "known issue K4: avoided unless strict" })),
  { seed: 7248, note: "known issue K5 (first seen here): avoided unless strict" },
];
