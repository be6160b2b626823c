/**
 * Configuration and restart state of the Raft core (src/raft/core.ts).
 */
import type { ConfState, Entry, HardState, NodeId, Snapshot } from "./types.ts";

/** Logger the core reports protocol events to (pino-compatible). */
export interface RaftLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

/**
 * Configuration of one Raft member. Ticks are the unit of logical time (the application calls
 * tick() every heartbeat interval, typically).
 */
export interface RaftConfig {
  /** This member's id (16 hex digits). */
  id: NodeId;
  /** Election timeout base in ticks; each timeout is drawn from [electionTick, 2*electionTick) (§5.2). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  /** Seeded source of floats in [0,1); the only randomness of the core. */
  random: () => number;
  /** Most bytes of entries per MsgApp (always at least one entry). Default MAX_APPEND_BYTES. */
  maxAppendBytes?: number;
  /** Most unacknowledged MsgApp per follower in replicate state. Default MAX_INFLIGHT_APPENDS. */
  maxInflightAppends?: number;
  /** Run a PreVote round before campaigning (thesis §9.6). Default false. */
  preVote?: boolean;
  /** Leader steps down without a quorum of responses within an election timeout; followers ignore votes while in a leader lease (thesis §6.2, §4.2.3). Default false. */
  checkQuorum?: boolean;
  /** Entries kept in memory below a compaction snapshot so slow followers catch up by appends. Default SNAPSHOT_CATCH_UP_ENTRIES. */
  snapshotCatchUpEntries?: number;
  logger?: RaftLogger;
}

/** Persisted state a member restarts from (see RaftCore). */
export interface RaftInitialState {
  /** Last persisted hard state; null for a brand-new member. */
  hardState: HardState | null;
  /** Newest persisted snapshot, or null. */
  snapshot: Snapshot | null;
  /** Persisted entries after the snapshot (entries <= snapshot index are skipped). Contiguous. */
  entries: Entry[];
  /** Bootstrap membership, used when `snapshot` is null. */
  confState: ConfState;
  /** Index already applied by the state machine (the snapshot index on restart, 0 if new). */
  applied: number;
}
