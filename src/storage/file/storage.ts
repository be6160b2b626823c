/**
 * RaftStorage in files: a WAL of hard states and entries plus snapshot files and the metadata
 * file, under `<data-dir>/member` (layout.ts), like etcd's data dir.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../../raft/types.ts";
import { AssertionError, assert } from "../../util/assert.ts";
import { checkAppend, checkCompact, checkSnapshot, lastIndexOf, type StoredLogView } from "../rules.ts";
import {
  type ClusterMetadata,
  type PersistedState,
  type RaftStorage,
  type SnapshotChunks,
  type SnapshotDataReader,
  type StagedSnapshot,
  StorageCorruptError,
} from "../types.ts";
import { assembleState } from "./assemble.ts";
import { fsyncDir } from "./fsutil.ts";
import { type DataDirPaths, DEFAULT_SEGMENT_BYTES, dataDirPaths } from "./layout.ts";
import { DataDirLock } from "./lock.ts";
import { defaultStorageLogger, type StorageLogger } from "./logger.ts";
import { readMetadataFile, writeMetadataFile } from "./metadata.ts";
import { backgroundPacing, foregroundPacing } from "./paced-writer.ts";
import { type BrokenSnapshot, SnapshotDir, type StagedFile, type VerifiedSnapshot } from "./snapshot-dir.ts";
import { TermRuns } from "./term-runs.ts";
import { Wal } from "./wal.ts";

/** Options of {@link openFileStorage}. */
export interface FileStorageOptions {
  /** Where recoveries (truncated torn tail, broken snapshot) are reported; default: pino to stderr. */
  logger?: StorageLogger;
  /** WAL segment size that triggers a rollover, in bytes (default 64 MiB, etcd's). */
  segmentBytes?: number;
  /**
   * Extend each new WAL segment file to `segmentBytes` up front (default true, as etcd does), so
   * an append's fdatasync does not also have to persist a grown file size. Tests that reason
   * about file lengths turn it off.
   */
  preallocate?: boolean;
}

/** A snapshot staged in a temp file of the snapshot directory. */
class FileStagedSnapshot implements StagedSnapshot {
  readonly kind = "staged";
  constructor(readonly file: StagedFile) {}
  get metadata(): SnapshotMetadata {
    return this.file.metadata;
  }
  get dataBytes(): number {
    return this.file.dataBytes;
  }
}

/** The metadata of a verified snapshot as the Snapshot `load` returns (data empty: read it with readSnapshotData). */
function metadataOnly(v: VerifiedSnapshot | null): Snapshot | null {
  return v === null ? null : { metadata: v.metadata, data: new Uint8Array(0) };
}

function ignore(): void {}

/**
 * `p` with a rejection handler attached, so that a caller that drops the promise of a call (say,
 * one that throws between starting an append and awaiting it) causes no unhandled rejection. A
 * failed write still fails every later call.
 */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

/**
 * Opens (creating it if needed) the file storage of the data dir `dataDir`: takes the data dir
 * lock, replays the WAL (truncating a torn tail with a warning), picks the newest valid snapshot.
 * Everything `load()` will return is checked here, so a corrupt data dir fails at open.
 * @throws DataDirLockedError when another live process (or another open storage of this process) uses the data dir
 * @throws StorageCorruptError on corruption before the WAL tail, a missing WAL, or missing committed entries
 */
export async function openFileStorage(dataDir: string, opts: FileStorageOptions = {}): Promise<FileStorage> {
  const logger = opts.logger ?? defaultStorageLogger();
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  assert(
    Number.isSafeInteger(segmentBytes) && segmentBytes > 0,
    "segmentBytes must be > 0, got %s",
    segmentBytes,
  );
  const paths = dataDirPaths(dataDir);
  const created = await mkdir(paths.wal, { recursive: true });
  await mkdir(paths.snap, { recursive: true });
  // Make new directory entries durable: the parent of the first created directory, the data dir, member/.
  const toSync = [...(created === undefined ? [] : [dirname(created)]), dataDir, paths.member];
  for (const dir of toSync) await fsyncDir(dir);
  const lock = await DataDirLock.acquire(paths.lock, dataDir);
  let wal: Wal | null = null;
  try {
    const snaps = new SnapshotDir(paths.snap);
    await snaps.removeTempFiles();
    const preallocateBytes = (opts.preallocate ?? true) ? segmentBytes : 0;
    const opened = await Wal.open(paths.wal, { segmentBytes, preallocateBytes, logger });
    wal = opened.wal;
    const snapFiles = await snaps.list();
    if (wal.isEmpty && snapFiles.length > 0) {
      throw new StorageCorruptError(
        `data dir ${dataDir}: snapshot files exist in ${paths.snap} but the WAL in ${paths.wal} is missing (hard state lost)`,
      );
    }
    const { snapshot, broken } = await snaps.newestValid();
    const state = assembleState(opened.replay, metadataOnly(snapshot), brokenContext(broken));
    for (const b of broken) {
      logger.warn(
        { file: b.path, reason: b.reason, using: snapshot?.file.path ?? null },
        "snapshot file failed verification; using an older snapshot and the WAL entries after it",
      );
      await snaps.markBroken(b);
    }
    if (wal.isEmpty) await wal.createFirstSegment(1);
    const terms = new TermRuns();
    for (const e of opened.replay.entries) terms.push(e.index, e.term);
    return new FileStorage(paths, logger, lock, wal, snaps, terms, opened.replay.hardState, snapshot, state);
  } catch (err) {
    await wal?.close();
    await lock.release();
    throw err;
  }
}

function brokenContext(broken: readonly BrokenSnapshot[]): string {
  if (broken.length === 0) return "";
  return `newer snapshot files failed verification: ${broken.map((b) => `${b.path} (${b.reason})`).join(", ")}`;
}

/**
 * The file {@link RaftStorage} (see {@link openFileStorage}). Calls run one at a time in call
 * order (a call made while none is pending starts synchronously). After an I/O error during a write every further call throws: the on-disk state is
 * unknown and the process must restart (etcd panics; fsync errors are not retryable).
 */
export class FileStorage implements RaftStorage {
  #closed = false;
  #failed: unknown = null;
  /** True while a call runs (from its start to its end); calls made meanwhile wait in #waiting. */
  #busy = false;
  /** Wake-ups of the calls waiting for their turn, oldest first (see {@link #enter}). */
  #waiting: (() => void)[] = [];
  /** The state found at open, handed out by the first load() unless a write came first. */
  #opened: PersistedState | null;
  /**
   * The stored log as the rules of src/storage/rules.ts see it: one object for the storage's
   * lifetime, reading the current state, since every append checks against it.
   */
  readonly #view: StoredLogView;

  /** @internal use {@link openFileStorage} */
  constructor(
    readonly paths: DataDirPaths,
    private readonly logger: StorageLogger,
    private readonly lock: DataDirLock,
    private readonly wal: Wal,
    private readonly snaps: SnapshotDir,
    private readonly terms: TermRuns,
    private hardState: HardState | null,
    private snapshot: VerifiedSnapshot | null,
    opened: PersistedState,
  ) {
    this.#opened = opened;
    const storage = this;
    this.#view = {
      lastEntryIndex: () => terms.lastIndex,
      termAt: (index) => terms.termAt(index),
      get snapshotIndex() {
        return storage.snapshot?.metadata.index ?? 0;
      },
      get snapshotTerm() {
        return storage.snapshot?.metadata.term ?? 0;
      },
      get hardState() {
        return storage.hardState;
      },
    };
  }

  /**
   * Starts a call's turn: null when it may run now, else a promise resolving once every earlier
   * call has completed. Each call that got its turn must end it with {@link #leave}.
   *
   * Calls run one at a time in call order: a call made while none runs starts at once
   * (synchronously, up to its first await); otherwise it waits for its turn, which the running
   * call hands to the oldest waiting one when it ends. Every call thus starts after all earlier
   * ones have completed. Written out rather than as a promise chain because append runs for
   * every Raft Ready: a call made while none runs allocates no promise or closure for its turn.
   * @throws AssertionError after close()
   */
  #enter(): Promise<void> | null {
    if (this.#closed) throw new AssertionError("storage is closed");
    if (!this.#busy) {
      this.#busy = true;
      return null;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Ends the running call's turn: hands it to the oldest waiting call, if any. */
  #leave(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#busy = false;
    else next();
  }

  /** @throws Error when an earlier write failed (the on-disk state is unknown) */
  #checkNotFailed(): void {
    if (this.#failed !== null) {
      throw new Error(`file storage failed earlier and must be reopened: ${String(this.#failed)}`, {
        cause: this.#failed,
      });
    }
  }

  /**
   * Runs `fn` in its turn, after every earlier call; rejects when called after close() or after
   * a failed write. The returned promise is {@link observed}.
   */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    return observed(this.#runNow(fn));
  }

  async #runNow<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.#enter();
    if (turn !== null) await turn;
    try {
      this.#checkNotFailed();
      return await fn();
    } finally {
      this.#leave();
    }
  }

  /** Runs an I/O step whose failure leaves the disk in an unknown state: marks the storage failed. */
  async #io<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.#failed = err;
      throw err;
    }
  }

  /**
   * See {@link RaftStorage.load}. The first call returns the state read at open; later calls
   * read the WAL and the snapshot file again.
   * @throws StorageCorruptError
   */
  load(): Promise<PersistedState> {
    return this.#run(async () => {
      const opened = this.#opened;
      if (opened !== null) {
        this.#opened = null;
        return opened;
      }
      const replay = await this.wal.readAll();
      return assembleState(replay, metadataOnly(this.snapshot));
    });
  }

  /**
   * See {@link RaftStorage.append}: one write of all records (entries, then the hard state) to the
   * last WAL segment and one fdatasync (none when `sync` is false). Rolls over to a new segment first when the last one is full;
   * a new segment starts with the current hard state so deleting old segments never loses it.
   * @throws AssertionError on a call breaking the rules of src/storage/rules.ts
   */
  append(hardState: HardState | null, entries: Entry[], sync = true): Promise<void> {
    return observed(this.#append(hardState, entries, sync));
  }

  /**
   * The body of {@link append}, in its turn: one async function rather than #run(#io(...)), since
   * it runs for every Raft Ready and each level of async nesting costs promises and closures. Its
   * synchronous steps are methods of their own, which keeps its suspended state small.
   */
  async #append(hardState: HardState | null, entries: Entry[], sync: boolean): Promise<void> {
    const turn = this.#enter();
    if (turn !== null) await turn;
    try {
      this.#checkNotFailed();
      checkAppend(this.#view, hardState, entries);
      if (hardState === null && entries.length === 0) return;
      try {
        let mustSync = sync;
        if (this.wal.needsRollover) {
          await this.#rollover(entries, hardState);
          // The new segment's first hard state must be durable before a compaction may delete the
          // older segments holding the previous one (else the term and vote could be lost).
          mustSync = true;
        }
        await this.wal.writeAppend(entries, hardState, mustSync);
      } catch (err) {
        // As #io: the disk is in an unknown state.
        this.#failed = err;
        throw err;
      }
      this.#appended(hardState, entries);
    } finally {
      this.#leave();
    }
  }

  /**
   * Starts a new WAL segment for an append of `entries` and `hardState`. Unless the append
   * carries a hard state, the new segment starts with the current one (queued unsynced: it goes
   * out in the same write as the append's records).
   */
  async #rollover(entries: readonly Entry[], hardState: HardState | null): Promise<void> {
    await this.wal.rollover(entries[0]?.index ?? lastIndexOf(this.#view) + 1);
    if (hardState === null && this.hardState !== null)
      await this.wal.write([{ kind: "hardState", hardState: this.hardState }], false);
  }

  /** Updates the state held in memory after `entries` and `hardState` were appended to the WAL. */
  #appended(hardState: HardState | null, entries: readonly Entry[]): void {
    this.#opened = null;
    const first = entries[0];
    if (first !== undefined) {
      if (this.terms.lastIndex !== 0 && first.index > this.terms.lastIndex + 1) this.terms.clear();
      else this.terms.truncateFrom(first.index);
      for (const e of entries) this.terms.push(e.index, e.term);
    }
    if (hardState !== null)
      this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }

  /**
   * See {@link RaftStorage.stageSnapshot}: streams the snapshot into a temp file of the snapshot
   * directory (removed at the next open if never saved). Not queued behind other calls.
   * @param background written at backgroundPacing() (32 MiB/s, flushed every MiB) rather than at
   *   full speed (paced-writer.ts)
   * @throws AssertionError when closed; whatever reading `data` or writing the file throws
   */
  async stageSnapshot(
    metadata: SnapshotMetadata,
    data: SnapshotChunks,
    background = false,
  ): Promise<StagedSnapshot> {
    if (this.#closed) throw new AssertionError("storage is closed");
    const pacing = background ? backgroundPacing() : foregroundPacing();
    return new FileStagedSnapshot(await this.snaps.stage(metadata, data, pacing));
  }

  /**
   * See {@link RaftStorage.saveSnapshot}: the snapshot file is made atomically first (a staged
   * file renamed; inline data staged first); when the snapshot discards the log (Raft §7,
   * checkSnapshot) a log reset record follows in the WAL. Keeps the newest SNAPSHOT_FILES_KEPT
   * snapshot files.
   * @throws AssertionError on a snapshot older than the saved one or conflicting with committed
   *   entries, or a staged snapshot of another storage
   */
  saveSnapshot(snapshot: Snapshot | StagedSnapshot): Promise<void> {
    return this.#run(async () => {
      const discard = checkSnapshot(this.#view, snapshot.metadata);
      const { index, term } = snapshot.metadata;
      let staged: StagedFile;
      if ("data" in snapshot) {
        staged = await this.#io(() =>
          this.snaps.stage(snapshot.metadata, [snapshot.data], foregroundPacing()),
        );
      } else {
        assert(snapshot instanceof FileStagedSnapshot, "a staged snapshot of another storage");
        staged = snapshot.file;
      }
      const saved = await this.#io(() => this.snaps.install(staged));
      if (discard) await this.#io(() => this.wal.write([{ kind: "logReset", term, index }]));
      this.#opened = null;
      if (discard) this.terms.clear();
      this.snapshot = saved;
    });
  }

  /** See {@link RaftStorage.discardStaged}: deletes the temp file. */
  async discardStaged(staged: StagedSnapshot): Promise<void> {
    assert(staged instanceof FileStagedSnapshot, "a staged snapshot of another storage");
    await this.snaps.discard(staged.file);
  }

  /** See {@link RaftStorage.readSnapshotData}: the newest snapshot file's data, read in chunks and checked. */
  readSnapshotData(): SnapshotDataReader | null {
    if (this.#closed) throw new AssertionError("storage is closed");
    const v = this.snapshot;
    if (v === null) return null;
    return { metadata: v.metadata, dataBytes: v.dataBytes, chunks: this.snaps.readData(v) };
  }

  /**
   * See {@link RaftStorage.compact}: deletes the old WAL segments whose entries all have index <= `index`
   * (the last segment always stays); entries of kept segments stay on disk and load() skips them.
   * @throws AssertionError when `index` is beyond the saved snapshot
   */
  compact(index: number): Promise<void> {
    return this.#run(async () => {
      checkCompact(this.#view, index);
      const deleted = await this.#io(() => this.wal.deleteSegmentsThrough(index));
      this.#opened = null;
      this.terms.dropThrough(index);
      if (deleted > 0) this.logger.info({ index, deletedSegments: deleted }, "compacted the WAL");
    });
  }

  /** See {@link RaftStorage.readMetadata}. @throws StorageCorruptError when meta.json is malformed */
  readMetadata(): Promise<ClusterMetadata | null> {
    return this.#run(() => readMetadataFile(this.paths.meta));
  }

  /** See {@link RaftStorage.writeMetadata}: meta.json replaced atomically (temp, fsync, rename, fsync dir). */
  writeMetadata(meta: ClusterMetadata): Promise<void> {
    return this.#run(() => writeMetadataFile(this.paths.meta, this.paths.member, meta));
  }

  /** Bytes of the WAL (without the preallocated space of its last segment) plus the snapshot files. */
  sizeBytes(): Promise<number> {
    return this.#run(async () => (await this.snaps.sizeBytes()) + (await this.wal.sizeBytes()));
  }

  /** Number of WAL segment files (for status and tests). */
  get walSegmentCount(): number {
    return this.wal.segmentCount;
  }

  /** Waits for pending calls, closes the WAL and removes the data dir lock. Later calls throw; close is idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Take the last turn and keep it: no call can start after close().
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#busy = true;
    await this.wal.close();
    await this.lock.release();
  }
}
