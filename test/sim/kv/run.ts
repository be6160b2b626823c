/**
 * One seeded run of the KV simulation: build the cluster of the seed's config, run clients and the
 * nemesis for `chaosMs`, then heal and check (final-check.ts). Any violation (safety invariant,
 * liveness after healing, assertion of the real code, lost write, non-linearizable history) becomes
 * a {@link SimFailure} naming the seed, the simulated time, the config, the cluster state and the
 * last events of the trace, with the command that replays it.
 */
import { SimClient } from "./client.ts";
import { KvCluster } from "./cluster.ts";
import { configForSeed, describeConfig, type SimConfig } from "./config.ts";
import { settleAndCheck } from "./final-check.ts";
import type { NemesisStats } from "./nemesis.ts";

/** Options of {@link runSeed}. */
export interface RunOptions {
  /** Settings replacing the seed's (e.g. a harness bug for the sanity tests). */
  overrides?: Partial<SimConfig>;
  /** Keep the whole trace (replay of one seed). */
  keepTrace?: boolean;
  /** Search budget per key of the linearizability check. */
  maxSteps?: number;
}

/** What a passing run did. */
export interface RunResult {
  seed: number;
  config: SimConfig;
  /** Digest of the whole event trace (equal for two runs of one seed). */
  traceDigest: string;
  simMs: number;
  events: number;
  ops: number;
  ackedWrites: number;
  finalIndex: number;
  lincheckSteps: number;
  nemesis: NemesisStats;
  counts: Record<string, number>;
  /** The full trace, with keepTrace. */
  trace?: string;
}

/** A failed run, with everything needed to replay and understand it. */
export class SimFailure extends Error {
  override name = "SimFailure";
  constructor(
    readonly seed: number,
    readonly error: Error,
    message: string,
    readonly trace?: string,
  ) {
    super(message);
  }
}

/** Default budget of the linearizability check per key (steps, deterministic unlike a time budget). */
export const DEFAULT_MAX_STEPS = 3_000_000;

/** Runs one seed. @throws SimFailure */
export function runSeed(seed: number, opts: RunOptions = {}): RunResult {
  const cfg = configForSeed(seed, opts.overrides);
  const c = new KvCluster(cfg, opts.keepTrace ?? false);
  const keys = Array.from({ length: cfg.keys }, (_, i) => `k${i}`);
  const clients = Array.from(
    { length: cfg.clients },
    (_, i) => new SimClient(`c${i}`, c, c.rng.fork(), keys, cfg.opDeadlineMs, cfg.thinkMaxMs),
  );
  try {
    for (const cl of clients) cl.start();
    c.nemesis.start();
    c.runFor(cfg.chaosMs);
    for (const cl of clients) cl.stop();
    const report = settleAndCheck(c, keys, opts.maxSteps ?? DEFAULT_MAX_STEPS);
    const disk = c.allNodes().reduce(
      (acc, n) => {
        for (const [k, v] of Object.entries(n.disk.stats)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      },
      {} as Record<string, number>,
    );
    return {
      seed,
      config: cfg,
      traceDigest: c.trace.digest,
      simMs: c.sched.nowMs,
      events: c.sched.eventsRun,
      ops: c.history.size,
      ackedWrites: report.ackedWrites,
      finalIndex: report.finalIndex,
      lincheckSteps: report.lincheck.steps,
      nemesis: { ...c.nemesis.stats },
      counts: { ...c.safety.counts, ...c.stats, ...disk, ...prefixed("net", c.net.stats) },
      ...(opts.keepTrace ? { trace: c.trace.formatAll() } : {}),
    };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    let state: string;
    try {
      state = c.describe();
    } catch {
      state = "(cluster state unavailable)";
    }
    const message =
      `seed ${seed} (replay: SIM_SEED=${seed} npx vitest run test/sim/kv/replay.test.ts): ` +
      `${e.name}: ${e.message}\n` +
      (e.name === "SafetyViolation" || e.name === "LivenessFailure" ? "" : `${e.stack ?? ""}\n`) +
      `at t=${c.sched.nowMs}ms after ${c.sched.eventsRun} events; config: ${describeConfig(cfg)}\n` +
      `${state}\nlast events:\n${c.trace.formatTail(60)}`;
    throw new SimFailure(seed, e, message, opts.keepTrace ? c.trace.formatAll() : undefined);
  }
}

function prefixed(prefix: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}.${k}`, v]));
}
