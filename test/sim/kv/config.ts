/**
 * Settings of one simulated run, all derived from its seed (so SIM_SEED=n replays the same cluster
 * size, fault mix and timings). Simulated time runs 10× faster than a real deployment: a tick is
 * 10 ms (real heartbeat 100 ms), the election timeout 10 ticks (real 1 s); the timeouts of the
 * real node (src/util/limits.ts, src/server/node.ts) are scaled the same way in {@link TIMING}.
 */

import { Rng } from "../rng.ts";
import type { TearPolicy } from "./disk.ts";

/** Timeouts of a simulated member, in simulated ms (real value / 10). */
export const TIMING = {
  /** Heartbeat interval = tick (real --heartbeat-interval 100 ms). */
  tickMs: 10,
  /** Election timeout in ticks (real 1000 ms / 100 ms). */
  electionTick: 10,
  heartbeatTick: 1,
  /** REQUEST_TIMEOUT_MS 7 s. */
  requestTimeoutMs: 700,
  /** NO_LEADER_WAIT_MS 3 s. */
  noLeaderWaitMs: 300,
  /** READ_INDEX_RETRY_MS 500 ms. */
  readIndexRetryMs: 50,
  /** PUBLISH_RETRY_MS 2 s. */
  publishRetryMs: 200,
} as const;

/** A deliberately broken variant of the harness (sanity tests: the checkers must catch it). */
export type HarnessBug =
  /** A member acknowledges a put as soon as Raft accepted the proposal, before it is committed. */
  | "ackBeforeCommit"
  /** Linearizable gets are served from local state without ReadIndex (serializable reads). */
  | "localReads"
  /** fsync returns without making anything durable. */
  | "fsyncIsNoop";

/** Network faults (all probabilities per message). */
export interface NetSettings {
  minDelayMs: number;
  maxDelayMs: number;
  dropProbability: number;
  duplicateProbability: number;
  /** A message is held back for up to spikeMaxMs (a stalled connection): strong reordering. */
  spikeProbability: number;
  spikeMaxMs: number;
}

/** Which faults the nemesis injects. */
export interface FaultMix {
  name: string;
  crashes: boolean;
  partitions: boolean;
  asymmetricPartitions: boolean;
  membership: boolean;
  transfers: boolean;
  /** A fault decision is taken this often (ms). */
  faultEveryMs: number;
  tear: TearPolicy;
}

/** Everything a run needs besides its seed. */
export interface SimConfig {
  seed: number;
  size: 3 | 5;
  /** Length of the fault phase (ms); then everything heals and the run must converge. */
  chaosMs: number;
  /** Longest wait for convergence after healing (ms). */
  settleMs: number;
  net: NetSettings;
  faults: FaultMix;
  /** Applied entries between snapshots (--snapshot-count). */
  snapshotCount: number;
  /** --snapshot-catchup-entries. */
  snapshotCatchUpEntries: number;
  maxAppendBytes: number;
  maxInflightAppends: number;
  /** WAL segment size (bytes): small, so rollovers and segment deletion happen. */
  segmentBytes: number;
  /** Dirty bytes older than this survive a crash (OS write-back). */
  writebackMs: number;
  /** Disk step latency is drawn from [0, diskMaxLatencyMs]. */
  diskMaxLatencyMs: number;
  clients: number;
  keys: number;
  /** Deadline of one client call, drawn from [lo, hi] ms. */
  opDeadlineMs: [number, number];
  /** Pause of a client between two calls, drawn from [0, thinkMaxMs]. */
  thinkMaxMs: number;
  /** A state digest is compared every this many applied indexes. */
  digestEvery: number;
  bug?: HarnessBug;
}

const ALL_FAULTS: Omit<FaultMix, "name"> = {
  crashes: true,
  partitions: true,
  asymmetricPartitions: true,
  membership: true,
  transfers: true,
  faultEveryMs: 60,
  tear: { keepAll: 0.2, cut: 0.35, corrupt: 0.25 },
};

/** The fault mixes a seed may draw, with their weights. */
const MIXES: { weight: number; mix: FaultMix }[] = [
  { weight: 40, mix: { name: "all", ...ALL_FAULTS } },
  {
    weight: 15,
    mix: {
      name: "network",
      ...ALL_FAULTS,
      crashes: false,
      membership: false,
      transfers: false,
      faultEveryMs: 50,
    },
  },
  {
    weight: 15,
    mix: { name: "crashes", ...ALL_FAULTS, partitions: false, asymmetricPartitions: false, faultEveryMs: 70 },
  },
  {
    weight: 15,
    mix: { name: "membership", ...ALL_FAULTS, asymmetricPartitions: false, faultEveryMs: 40 },
  },
  {
    weight: 15,
    mix: {
      name: "calm",
      ...ALL_FAULTS,
      crashes: false,
      partitions: false,
      asymmetricPartitions: false,
      membership: false,
      faultEveryMs: 150,
    },
  },
];

function pickMix(rng: Rng): FaultMix {
  const total = MIXES.reduce((n, m) => n + m.weight, 0);
  let r = rng.float() * total;
  for (const m of MIXES) {
    r -= m.weight;
    if (r < 0) return m.mix;
  }
  return MIXES[0]!.mix;
}

/** The settings of `seed` (deterministic), with `overrides` on top. */
export function configForSeed(seed: number, overrides: Partial<SimConfig> = {}): SimConfig {
  const rng = new Rng(seed ^ 0x5eed_c0de);
  const faults = pickMix(rng);
  const lossy = faults.name !== "calm";
  const cfg: SimConfig = {
    seed,
    size: rng.chance(0.5) ? 3 : 5,
    chaosMs: rng.int(1_500, 3_000),
    settleMs: 30_000,
    net: {
      minDelayMs: 1,
      maxDelayMs: rng.int(2, 12),
      dropProbability: lossy ? rng.pick([0, 0.01, 0.05, 0.1]) : 0,
      duplicateProbability: rng.pick([0, 0.01, 0.05]),
      spikeProbability: rng.pick([0, 0.005, 0.02]),
      spikeMaxMs: rng.int(50, 400),
    },
    faults,
    snapshotCount: rng.pick([8, 20, 50]),
    snapshotCatchUpEntries: rng.pick([0, 3, 10]),
    maxAppendBytes: rng.pick([64, 512, 1024 * 1024]),
    maxInflightAppends: rng.pick([1, 4, 256]),
    segmentBytes: rng.pick([512, 2_048, 16_384]),
    writebackMs: rng.pick([100, 1_000]),
    diskMaxLatencyMs: rng.int(0, 6),
    clients: rng.int(2, 5),
    keys: rng.int(2, 4),
    opDeadlineMs: [300, 900],
    thinkMaxMs: rng.pick([0, 10, 30]),
    digestEvery: 4,
  };
  return { ...cfg, ...overrides };
}

/** A one-line summary of a config (printed with failures). */
export function describeConfig(c: SimConfig): string {
  return (
    `size=${c.size} mix=${c.faults.name} chaos=${c.chaosMs}ms net=[${c.net.minDelayMs}-${c.net.maxDelayMs}ms ` +
    `drop=${c.net.dropProbability} dup=${c.net.duplicateProbability} spike=${c.net.spikeProbability}/${c.net.spikeMaxMs}ms] ` +
    `snapshotCount=${c.snapshotCount} catchUp=${c.snapshotCatchUpEntries} maxAppendBytes=${c.maxAppendBytes} ` +
    `inflight=${c.maxInflightAppends} segment=${c.segmentBytes}B disk<=${c.diskMaxLatencyMs}ms ` +
    `clients=${c.clients} keys=${c.keys}${c.bug ? ` BUG=${c.bug}` : ""}`
  );
}
