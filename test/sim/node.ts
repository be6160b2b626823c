/**
 * One simulated member: a RaftCore, its SimStore "disk", its state machine, and the Ready loop
 * with an asynchronous disk (a Ready taken at t is durable at t + disk delay; a crash before that
 * loses it).
 */
import { RaftCore } from "../../src/raft/core.ts";
import type { ConfState, NodeId, Ready } from "../../src/raft/types.ts";
import type { Rng } from "./rng.ts";
import type { AppliedEntry } from "./state-machine.ts";
import { SimStore } from "./store.ts";

/** Raft settings of simulated members. */
export interface SimRaftSettings {
  electionTick: number;
  heartbeatTick: number;
  maxAppendBytes?: number;
  maxInflightAppends?: number;
  snapshotCatchUpEntries: number;
  preVote: boolean;
  checkQuorum: boolean;
}

/** A simulated member. */
export class SimNode {
  core: RaftCore | null = null;
  readonly store = new SimStore();
  /** The state machine: every applied entry, from index 1. */
  applied: AppliedEntry[] = [];
  /** A Ready being written to disk, durable at `doneAtMs`. */
  pending: { rd: Ready; doneAtMs: number } | null = null;
  nextTickMs = 0;
  /** Index of the newest snapshot the application saved. */
  snapshotIndex = 0;
  /** Restarts so far. */
  incarnation = 0;
  /** Highest term seen (terms never go back, even across restarts). */
  maxTerm = 0;

  constructor(
    readonly id: NodeId,
    readonly tickIntervalMs: number,
    private readonly rng: Rng,
  ) {}

  get up(): boolean {
    return this.core !== null;
  }

  /** Starts (or restarts) from the store; the state machine reloads from the stored snapshot. */
  start(confState: ConfState, settings: SimRaftSettings, nowMs: number): void {
    const initial = this.store.initial(confState);
    this.core = new RaftCore(
      {
        id: this.id,
        electionTick: settings.electionTick,
        heartbeatTick: settings.heartbeatTick,
        random: () => this.rng.float(),
        maxAppendBytes: settings.maxAppendBytes,
        maxInflightAppends: settings.maxInflightAppends,
        snapshotCatchUpEntries: settings.snapshotCatchUpEntries,
        preVote: settings.preVote,
        checkQuorum: settings.checkQuorum,
      },
      initial,
    );
    this.pending = null;
    this.snapshotIndex = this.store.snapshot?.metadata.index ?? 0;
    this.nextTickMs = nowMs + this.rng.int(1, this.tickIntervalMs);
  }

  /** Crash: everything not in the store is lost. */
  crash(): void {
    this.core = null;
    this.pending = null;
    this.applied = [];
    this.incarnation++;
    // Only the persisted term survives; a term never sent anywhere may be forgotten.
    this.maxTerm = this.store.hardState?.term ?? 0;
  }
}
