/**
 * RaftStorage held in memory: real (not a fake) storage for unit tests and the deterministic
 * simulation. Every acknowledged call is "durable" in the sense that a {@link MemoryStorage.reopen}
 * (the simulation's process restart) sees it. Inputs and outputs are copied, so callers may reuse
 * or mutate their buffers.
 */
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { SNAPSHOT_READ_CHUNK_BYTES } from "../util/limits.ts";
import { checkAppend, checkCompact, checkSnapshot, loadedHardState, type StoredLogView } from "./rules.ts";
import type {
  ClusterMetadata,
  PersistedState,
  RaftStorage,
  SnapshotChunks,
  SnapshotDataReader,
  StagedSnapshot,
} from "./types.ts";

/** Bytes counted per stored entry besides its data (term, index, type framing), for sizeBytes(). */
const ENTRY_OVERHEAD_BYTES = 24;

/** The persisted contents shared by the handles of one memory "disk". */
class MemoryDisk {
  hardState: HardState | null = null;
  snapshot: Snapshot | null = null;
  /** Contiguous entries: entries[k].index === entries[0].index + k. */
  entries: Entry[] = [];
  metadata: ClusterMetadata | null = null;
}

/** A copy as a plain Uint8Array (Buffer#slice would share memory). */
function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: new Uint8Array(e.data) };
}

function copyMetadata(m: SnapshotMetadata): SnapshotMetadata {
  return {
    index: m.index,
    term: m.term,
    confState: { voters: [...m.confState.voters], learners: [...m.confState.learners] },
  };
}

/** A staged snapshot of memory storage: the data held whole (memory storage is for tests). */
interface MemoryStaged extends StagedSnapshot {
  readonly data: Uint8Array;
}

/** Concatenates `chunks` into one fresh buffer. */
async function collect(chunks: SnapshotChunks): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(new Uint8Array(c));
  return new Uint8Array(Buffer.concat(parts));
}

/** `data` in slices of at most SNAPSHOT_READ_CHUNK_BYTES. */
async function* slices(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += SNAPSHOT_READ_CHUNK_BYTES) {
    yield data.slice(at, at + SNAPSHOT_READ_CHUNK_BYTES);
  }
}

/**
 * In-memory {@link RaftStorage}. `new MemoryStorage()` starts empty; {@link reopen} returns a new
 * handle on the same persisted contents (and closes this one), as a process restart would.
 * Enforces the same input rules as every storage (src/storage/rules.ts): violations throw AssertionError.
 */
export class MemoryStorage implements RaftStorage {
  #disk: MemoryDisk;
  #closed = false;

  constructor() {
    this.#disk = new MemoryDisk();
  }

  /**
   * A new open handle on this storage's persisted contents, like reopening a data dir after a
   * restart. This handle is closed (a crashed process writes nothing more).
   */
  reopen(): MemoryStorage {
    const next = new MemoryStorage();
    next.#disk = this.#disk;
    this.#closed = true;
    return next;
  }

  #open(): MemoryDisk {
    assert(!this.#closed, "storage is closed");
    return this.#disk;
  }

  #view(d: MemoryDisk): StoredLogView {
    return {
      lastEntryIndex: () => d.entries.at(-1)?.index ?? 0,
      termAt: (index) => {
        const first = d.entries[0];
        return first === undefined ? undefined : d.entries[index - first.index]?.term;
      },
      snapshotIndex: d.snapshot?.metadata.index ?? 0,
      snapshotTerm: d.snapshot?.metadata.term ?? 0,
      hardState: d.hardState,
    };
  }

  /**
   * See {@link RaftStorage.load}: entries after the snapshot only; commit >= snapshot index
   * (loadedHardState). @throws AssertionError when closed
   */
  async load(): Promise<PersistedState> {
    const d = this.#open();
    const after = d.snapshot?.metadata.index ?? 0;
    return {
      hardState: loadedHardState(d.hardState, after),
      snapshot:
        d.snapshot === null ? null : { metadata: copyMetadata(d.snapshot.metadata), data: new Uint8Array(0) },
      entries: d.entries.filter((e) => e.index > after).map(copyEntry),
    };
  }

  /** See {@link RaftStorage.append} and checkAppend (src/storage/rules.ts). @throws AssertionError */
  async append(hardState: HardState | null, entries: Entry[], _sync = true): Promise<void> {
    const d = this.#open();
    checkAppend(this.#view(d), hardState, entries);
    const first = entries[0];
    if (first !== undefined) {
      const stored = d.entries[0];
      if (stored !== undefined) {
        // Remove every stored entry with index >= first.index (Raft §5.3); a gap after a snapshot resets the log.
        const keep = first.index - stored.index;
        d.entries = keep < 0 || keep > d.entries.length ? [] : d.entries.slice(0, keep);
      }
      for (const e of entries) d.entries.push(copyEntry(e));
    }
    if (hardState !== null)
      d.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }

  /**
   * See {@link RaftStorage.stageSnapshot}: the data is collected in memory (`background` changes
   * nothing here). @throws AssertionError when closed
   */
  async stageSnapshot(metadata: SnapshotMetadata, data: SnapshotChunks): Promise<StagedSnapshot> {
    this.#open();
    const bytes = await collect(data);
    const staged: MemoryStaged = {
      kind: "staged",
      metadata: copyMetadata(metadata),
      dataBytes: bytes.length,
      data: bytes,
    };
    return staged;
  }

  /** See {@link RaftStorage.saveSnapshot} and checkSnapshot (Raft §7 log discard). @throws AssertionError */
  async saveSnapshot(snapshot: Snapshot | StagedSnapshot): Promise<void> {
    const d = this.#open();
    if (checkSnapshot(this.#view(d), snapshot.metadata)) d.entries = [];
    const data = "kind" in snapshot ? (snapshot as MemoryStaged).data : new Uint8Array(snapshot.data);
    d.snapshot = { metadata: copyMetadata(snapshot.metadata), data };
  }

  /** See {@link RaftStorage.discardStaged}: nothing to release. */
  async discardStaged(_staged: StagedSnapshot): Promise<void> {}

  /** See {@link RaftStorage.readSnapshotData}. @throws AssertionError when closed */
  readSnapshotData(): SnapshotDataReader | null {
    const d = this.#open();
    if (d.snapshot === null) return null;
    const { metadata, data } = d.snapshot;
    return { metadata: copyMetadata(metadata), dataBytes: data.length, chunks: slices(data) };
  }

  /** See {@link RaftStorage.compact}: drops entries <= index. @throws AssertionError when index > snapshot index */
  async compact(index: number): Promise<void> {
    const d = this.#open();
    checkCompact(this.#view(d), index);
    const first = d.entries[0];
    if (first !== undefined && first.index <= index) d.entries = d.entries.slice(index - first.index + 1);
  }

  /** See {@link RaftStorage.readMetadata}. */
  async readMetadata(): Promise<ClusterMetadata | null> {
    const d = this.#open();
    return d.metadata === null ? null : { ...d.metadata };
  }

  /** See {@link RaftStorage.writeMetadata}. */
  async writeMetadata(meta: ClusterMetadata): Promise<void> {
    const d = this.#open();
    d.metadata = { clusterId: meta.clusterId, memberId: meta.memberId, name: meta.name };
  }

  /** Approximate bytes held: entry data plus a fixed per-entry overhead, plus the snapshot data. */
  async sizeBytes(): Promise<number> {
    const d = this.#open();
    let bytes = d.snapshot?.data.length ?? 0;
    for (const e of d.entries) bytes += ENTRY_OVERHEAD_BYTES + e.data.length;
    return bytes;
  }

  /** Closes this handle; further calls (except close) throw AssertionError. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
