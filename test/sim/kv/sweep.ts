/**
 * Runs many seeds and summarizes them: the body of the sweep test files. Every seed runs to the
 * end even after a failure, so one report names every failing seed (the first failure in full).
 */
import { type RunResult, runSeed, SimFailure } from "./run.ts";

/** What a sweep did. */
export interface SweepSummary {
  seeds: number;
  failures: SimFailure[];
  ops: number;
  ackedWrites: number;
  /** Sums of the runs' fault and coverage counters. */
  totals: Record<string, number>;
  cpuMs: number;
}

function add(totals: Record<string, number>, o: Record<string, number>): void {
  for (const [k, v] of Object.entries(o)) totals[k] = (totals[k] ?? 0) + v;
}

/** Runs `seeds`; never throws for a failing seed (see {@link assertClean}). */
export function sweep(seeds: readonly number[]): SweepSummary {
  const cpu0 = process.cpuUsage().user;
  const s: SweepSummary = {
    seeds: seeds.length,
    failures: [],
    ops: 0,
    ackedWrites: 0,
    totals: {},
    cpuMs: 0,
  };
  for (const seed of seeds) {
    let r: RunResult;
    try {
      r = runSeed(seed);
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err;
      s.failures.push(err);
      continue;
    }
    s.ops += r.ops;
    s.ackedWrites += r.ackedWrites;
    add(s.totals, r.nemesis as unknown as Record<string, number>);
    add(s.totals, {
      snapshotsSent: r.counts.snapshotsSent ?? 0,
      tornTails: r.counts.tornTails ?? 0,
      corruptTails: r.counts.corruptTails ?? 0,
      truncatedRecoveries: r.counts.truncatedRecoveries ?? 0,
      readsChecked: r.counts.readsChecked ?? 0,
      digestsCompared: r.counts.digestsCompared ?? 0,
    });
  }
  s.cpuMs = Math.round((process.cpuUsage().user - cpu0) / 1000);
  return s;
}

/** One line for the test output. */
export function describeSweep(seeds: readonly number[], s: SweepSummary): string {
  const t = s.totals;
  return (
    `seeds ${seeds[0]}–${seeds.at(-1)}: ${s.seeds - s.failures.length}/${s.seeds} ok, ${s.ops} ops, ` +
    `${s.ackedWrites} acked writes, ${t.readsChecked ?? 0} read rounds and ${t.digestsCompared ?? 0} state digests checked; ` +
    `faults: ${t.crashes ?? 0} crashes (${t.tornTails ?? 0} torn, ${t.corruptTails ?? 0} corrupt tails, ` +
    `${t.truncatedRecoveries ?? 0} truncated at recovery), ${t.partitions ?? 0} partitions, ${t.oneWayCuts ?? 0} one-way cuts, ` +
    `${t.transfers ?? 0} transfers, ${t.confChangesApplied ?? 0} membership changes, ${t.snapshotsSent ?? 0} snapshots sent; ` +
    `${s.cpuMs} ms cpu`
  );
}

/** Throws a report naming every failing seed, the first one in full. */
export function assertClean(s: SweepSummary): void {
  if (s.failures.length === 0) return;
  const seeds = s.failures.map((f) => f.seed).join(", ");
  throw new Error(`${s.failures.length} failing seed(s): ${seeds}\n\n${s.failures[0]!.message}`);
}
