/**
 * Storage interfaces of one node: the Raft log with its hard state, snapshots, and the cluster
 * metadata of the data dir. Narrow on purpose (hashicorp/raft: LogStore, StableStore,
 * SnapshotStore) so that memory, file and PostgreSQL implementations fit the same contract,
 * checked by one suite (test/contract/storage.contract.ts).
 */
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../raft/types.ts";

/** Identity of the cluster and of this member, written once when a data dir is first used. */
export interface ClusterMetadata {
  /** Cluster id: 16 hex digits derived from --initial-cluster-token and the initial peer URLs. */
  clusterId: string;
  /** This member's id: 16 hex digits derived from its peer URLs and the token. */
  memberId: string;
  /** --name of this member. */
  name: string;
  /**
   * Set once this member has applied its own removal from the cluster: the data dir must never be
   * used to rejoin (etcd refuses a removed member the same way).
   */
  removed?: boolean;
}

/** Everything a node needs to restart its Raft core, as persisted. */
export interface PersistedState {
  /** Last saved hard state, or null when nothing was ever saved. */
  hardState: HardState | null;
  /**
   * Newest snapshot, or null. Its `data` is always empty: the data may be far larger than memory
   * should hold at once and is read in chunks with RaftStorage.readSnapshotData.
   */
  snapshot: Snapshot | null;
  /** Log entries after the snapshot (or from index 1), contiguous and in order. */
  entries: Entry[];
}

/** A snapshot's data as chunks of any sizes, read once, in order. */
export type SnapshotChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * A snapshot written durably by RaftStorage.stageSnapshot but not part of the stored state yet: it
 * becomes the saved snapshot through saveSnapshot, or is dropped by discardStaged (a restart drops
 * it too). Opaque to callers beyond these fields.
 */
export interface StagedSnapshot {
  readonly kind: "staged";
  readonly metadata: SnapshotMetadata;
  /** Bytes of data. */
  readonly dataBytes: number;
}

/** The newest saved snapshot's data, read lazily (see RaftStorage.readSnapshotData). */
export interface SnapshotDataReader {
  readonly metadata: SnapshotMetadata;
  /** Bytes of data. */
  readonly dataBytes: number;
  /**
   * The data in chunks of at most SNAPSHOT_READ_CHUNK_BYTES; iterate once. Iteration throws
   * StorageCorruptError when the data no longer matches its checksum (checked as it is read).
   */
  readonly chunks: AsyncIterable<Uint8Array>;
}

/**
 * Durable storage of the Raft log, hard state and snapshots of one member.
 *
 * Contract (every implementation, checked by the contract suite):
 * - `append` resolves only when the hard state and entries are durable (fsync or commit).
 * - Appending an entry with index i first removes every stored entry with index >= i
 *   (a leader overwrote a conflicting suffix, Raft paper §5.3).
 * - Entries must be contiguous with what is stored (first appended index <= lastIndex + 1);
 *   otherwise `append` throws AssertionError.
 * - `saveSnapshot` is atomic: after a crash either the old or the new snapshot is loaded,
 *   never a torn one; it does not remove log entries (`compact` does).
 * - `compact(index)` may drop entries <= index; `load` then returns entries after the
 *   snapshot only (entries <= snapshot index may or may not appear; callers skip them).
 * - A corrupt record in the middle of the log makes `load` throw StorageCorruptError; a torn
 *   or corrupt final record is dropped with a warning (it was never acknowledged).
 * - Inputs are checked with the shared rules of src/storage/rules.ts (checkAppend, checkSnapshot,
 *   checkCompact), so every implementation refuses the same calls with AssertionError: e.g. a
 *   hard state commit beyond the last index, so a Ready's snapshot is saved before its hard state.
 * - `saveSnapshot` keeps the entries after the snapshot only when the log holds the snapshot's
 *   entry with the same term; otherwise it discards the stored log (Raft paper §7).
 * - `load` returns a hard state whose commit is >= the snapshot index (loadedHardState), and the
 *   snapshot's metadata with empty data; `readSnapshotData` streams the data of that snapshot.
 * - Snapshot data is never held whole in memory by the file implementation: `stageSnapshot`
 *   writes it chunk by chunk, and `readSnapshotData` reads it back chunk by chunk.
 */
export interface RaftStorage {
  /** Loads the persisted state. Throws StorageCorruptError on corruption before the tail. */
  load(): Promise<PersistedState>;
  /**
   * Stores `hardState` (if not null) and `entries` (possibly empty), durably when `sync` is true
   * (the default). The caller passes `sync` false only when `entries` is empty and the term and
   * vote are unchanged, i.e. only the commit index moved: losing that on a crash is safe because
   * the commit index is re-learned from the leader (etcd: wal.MustSync).
   */
  append(hardState: HardState | null, entries: Entry[], sync?: boolean): Promise<void>;
  /**
   * Writes a snapshot's metadata and data (read from `data` chunk by chunk) durably to a staging
   * place, without changing the stored state. Unlike the other calls it is not queued behind them:
   * a large snapshot is written while appends go on. `background` (the member's own periodic
   * snapshot, which nothing waits for) lets an implementation pace the writing so that it does
   * not slow the appends down (file storage: paced-writer.ts).
   * @throws whatever iterating `data` throws (nothing is left behind then)
   */
  stageSnapshot(
    metadata: SnapshotMetadata,
    data: SnapshotChunks,
    background?: boolean,
  ): Promise<StagedSnapshot>;
  /**
   * Durably and atomically makes a snapshot the stored one (the one `load` returns): a staged
   * snapshot (consumed) or one with its data inline.
   */
  saveSnapshot(snapshot: Snapshot | StagedSnapshot): Promise<void>;
  /** Drops a staged snapshot that will not be saved (idempotent). */
  discardStaged(staged: StagedSnapshot): Promise<void>;
  /**
   * The newest saved snapshot's data, or null when none is saved. The reader stays valid while up
   * to SNAPSHOT_FILES_KEPT - 1 newer snapshots are saved.
   */
  readSnapshotData(): SnapshotDataReader | null;
  /** Allows dropping log entries with index <= `index` (which a saved snapshot covers). */
  compact(index: number): Promise<void>;
  /** Reads the cluster metadata, or null for a new data dir. */
  readMetadata(): Promise<ClusterMetadata | null>;
  /** Durably writes the cluster metadata. */
  writeMetadata(meta: ClusterMetadata): Promise<void>;
  /** Bytes used on disk (WAL + snapshots), for status. */
  sizeBytes(): Promise<number>;
  /** Releases files and handles. Further calls throw. */
  close(): Promise<void>;
}

/** Persisted data failed its checksum or framing before the log tail: refusing to start is the only safe choice. */
export class StorageCorruptError extends Error {
  override name = "StorageCorruptError";
}
