/**
 * The simulated disk of one member: Cairn's file storage (src/storage/file/storage.ts + wal.ts)
 * replayed on in-memory bytes, with the real record format, rules, scan, replay and assembly code.
 *
 * What lives where (the model of a crash):
 * - WAL segments are byte arrays. A write puts bytes "in the OS" (`len`); an fdatasync of the
 *   active segment makes them durable (`durable`) when its disk step finishes. The OS also writes
 *   dirty bytes back on its own after `writebackMs`.
 * - Records appended with sync=false (commit-only hard states) wait in process memory, as in the
 *   real Wal, and go out with the next write: a crash loses them.
 * - A snapshot is an object written atomically (temp file, fsync, rename): after a crash either
 *   the old or the new one is there.
 * - A crash keeps the durable bytes of each segment and, of its not yet durable tail, one of:
 *   nothing, everything, a prefix cut at a random byte (a torn write), or everything with one byte
 *   of the last record flipped (a corrupt last record).
 * - A restart runs the real recovery: scanSegment, findValidRecordFrom (a damaged tail with nothing
 *   valid after it is truncated; anything else is StorageCorruptError), LogReplay, assembleState.
 *
 * Each storage call returns the disk steps it waits for ({@link DiskStep}); the member runs them one
 * after the other with a simulated latency, exactly as FileStorage serializes its calls.
 */
import type { Entry, HardState, Snapshot } from "../../../src/raft/types.ts";
import { assembleState } from "../../../src/storage/file/assemble.ts";
import { TermRuns } from "../../../src/storage/file/term-runs.ts";
import { checkFrame, encodeRecords, type WalRecord } from "../../../src/storage/file/wal-record.ts";
import { LogReplay } from "../../../src/storage/file/wal-replay.ts";
import { findValidRecordFrom, scanSegment } from "../../../src/storage/file/wal-scan.ts";
import type { StoredLogView } from "../../../src/storage/rules.ts";
import { checkAppend, checkCompact, checkSnapshot } from "../../../src/storage/rules.ts";
import { type PersistedState, StorageCorruptError } from "../../../src/storage/types.ts";
import type { Rng } from "../rng.ts";

/** wal.ts MAX_UNSYNCED_WAL_BYTES (not exported there): unsynced records are written to the OS past it. */
const MAX_UNSYNCED_WAL_BYTES = 64 * 1024;

/** One I/O wait of a storage call: `start` issues it, `done` runs when it completed (after a latency). */
export interface DiskStep {
  /** True when the call waits for this step's fsync (false: a write held in memory returns at once). */
  readonly synced: boolean;
  start(): void;
  done(): void;
}

/** How a crash treats bytes that are not durable yet. Probabilities of the four outcomes (sum <= 1; the rest: keep nothing). */
export interface TearPolicy {
  /** Keep the whole unsynced tail (the OS happened to write it). */
  keepAll: number;
  /** Keep a prefix cut at a random byte (torn write). */
  cut: number;
  /** Keep everything but flip one byte of the last record. */
  corrupt: number;
}

interface Segment {
  seq: number;
  buf: Buffer;
  /** Bytes written to the OS. */
  len: number;
  /** Bytes that survive a crash. */
  durable: number;
  /** Simulated time of the last write to the OS. */
  lastWriteMs: number;
  /** Largest entry index written to it (wal.ts Segment.maxEntryIndex). */
  maxEntryIndex: number;
}

/** What crashes and recoveries did to the disk (for coverage assertions). */
export interface DiskStats {
  tornTails: number;
  corruptTails: number;
  truncatedRecoveries: number;
  rollovers: number;
  deletedSegments: number;
  logResets: number;
}

function maxEntryIndexOf(records: readonly WalRecord[], start = 0): number {
  let max = start;
  for (const r of records) if (r.kind === "entry" && r.entry.index > max) max = r.entry.index;
  return max;
}

/** The disk of one member. Survives crashes; the FileStorage view in it is rebuilt by {@link open}. */
export class SimDisk {
  private segments: Segment[] = [];
  /** The durable snapshot. */
  private snapshot: Snapshot | null = null;
  // ---- process memory of the storage (lost at a crash) ----
  private unsynced: Buffer[] = [];
  private unsyncedBytes = 0;
  private terms = new TermRuns();
  private hardState: HardState | null = null;
  private snapRef: { index: number; term: number } | null = null;
  readonly stats: DiskStats = {
    tornTails: 0,
    corruptTails: 0,
    truncatedRecoveries: 0,
    rollovers: 0,
    deletedSegments: 0,
    logResets: 0,
  };

  /**
   * @param clock simulated time (for OS write-back)
   * @param segmentBytes WAL segment size that triggers a rollover
   * @param writebackMs dirty bytes older than this are on disk at a crash (the OS flushed them)
   * @param fsyncIsNoop broken-disk variant for the sanity tests: fsync returns without making anything durable
   */
  constructor(
    private readonly clock: { nowMs: number },
    private readonly segmentBytes: number,
    private readonly writebackMs: number,
    private readonly fsyncIsNoop = false,
  ) {}

  // ---- recovery ---------------------------------------------------------------------------

  /**
   * Opens the storage after a (re)start, as openFileStorage + Wal.open + load(): replays every
   * segment, truncates a damaged tail of the last segment that has nothing valid after it, and
   * assembles the state.
   * @throws StorageCorruptError as the real storage would (damage before the tail, missing entries)
   */
  open(): PersistedState {
    this.unsynced = [];
    this.unsyncedBytes = 0;
    const replay = new LogReplay();
    this.segments.forEach((seg, k) => {
      const buf = seg.buf.subarray(0, seg.len);
      const name = `segment-${seg.seq}`;
      const scan = scanSegment(buf, name);
      const isLast = k === this.segments.length - 1;
      if (scan.damage) {
        const d = scan.damage;
        if (!isLast) {
          throw new StorageCorruptError(
            `WAL ${name}: ${d.reason} at offset ${d.offset} in a segment that is not the last one`,
          );
        }
        const later = findValidRecordFrom(buf, d.probeFrom);
        if (later >= 0) {
          throw new StorageCorruptError(
            `WAL ${name}: ${d.reason} at offset ${d.offset}, followed by a valid record at offset ${later}`,
          );
        }
        seg.buf.fill(0, d.offset, seg.len);
        seg.len = d.offset;
        seg.durable = Math.min(seg.durable, d.offset);
        this.stats.truncatedRecoveries++;
      }
      for (const r of scan.records) replay.apply(r);
      seg.maxEntryIndex = maxEntryIndexOf(scan.records);
      // The next write goes after the last valid record (the zeros after it are preallocated space).
      if (isLast) {
        seg.len = scan.validEnd;
        seg.durable = Math.min(seg.durable, seg.len);
      }
    });
    if (this.segments.length === 0 && this.snapshot) {
      throw new StorageCorruptError("snapshot exists but the WAL is missing (hard state lost)");
    }
    const state = assembleState(replay, this.snapshot);
    if (this.segments.length === 0) this.createSegment();
    this.terms = new TermRuns();
    for (const e of replay.entries) this.terms.push(e.index, e.term);
    this.hardState = replay.hardState;
    this.snapRef = this.snapshot
      ? { index: this.snapshot.metadata.index, term: this.snapshot.metadata.term }
      : null;
    return state;
  }

  // ---- storage calls (FileStorage) ----------------------------------------------------------

  private view(): StoredLogView {
    return {
      lastEntryIndex: () => this.terms.lastIndex,
      termAt: (index) => this.terms.termAt(index),
      snapshotIndex: this.snapRef?.index ?? 0,
      snapshotTerm: this.snapRef?.term ?? 0,
      hardState: this.hardState,
    };
  }

  /**
   * FileStorage.append: entries then the hard state in one write; with `sync` one fdatasync of the
   * active segment. Rolls over first when the active segment is full (the new one starts with the
   * current hard state when none is written), and then always syncs: the new segment's hard state
   * must be durable before a compaction may delete the older segments.
   * @throws AssertionError when the call breaks src/storage/rules.ts
   */
  append(hardState: HardState | null, entries: Entry[], sync: boolean): DiskStep[] {
    const view = this.view();
    checkAppend(view, hardState, entries);
    if (hardState === null && entries.length === 0) return [];
    const first = entries[0];
    const records: WalRecord[] = [];
    let mustSync = sync;
    if (this.active().len >= this.segmentBytes) {
      this.flush();
      this.createSegment();
      this.stats.rollovers++;
      if (hardState === null && this.hardState !== null)
        records.push({ kind: "hardState", hardState: this.hardState });
      mustSync = true;
    }
    for (const entry of entries) records.push({ kind: "entry", entry });
    if (hardState !== null) records.push({ kind: "hardState", hardState });
    const steps = [this.writeStep(records, mustSync)];
    if (first !== undefined) {
      if (this.terms.lastIndex !== 0 && first.index > this.terms.lastIndex + 1) this.terms.clear();
      else this.terms.truncateFrom(first.index);
      for (const e of entries) this.terms.push(e.index, e.term);
    }
    if (hardState !== null) this.hardState = { ...hardState };
    return steps;
  }

  /**
   * FileStorage.saveSnapshot: the snapshot is saved atomically, then, when it discards the log
   * (Raft §7, checkSnapshot), a synced log reset record follows in the WAL.
   * @throws AssertionError on a snapshot older than the saved one or conflicting with committed entries
   */
  saveSnapshot(snapshot: Snapshot): DiskStep[] {
    const discard = checkSnapshot(this.view(), snapshot.metadata);
    const { index, term } = snapshot.metadata;
    const steps: DiskStep[] = [
      {
        synced: true,
        start: () => {},
        done: () => {
          if (!this.fsyncIsNoop) this.snapshot = snapshot;
        },
      },
    ];
    if (discard) {
      steps.push(this.writeStep([{ kind: "logReset", term, index }], true));
      this.stats.logResets++;
      this.terms.clear();
    }
    this.snapRef = { index, term };
    return steps;
  }

  /**
   * FileStorage.compact: deletes old segments whose entries all have index <= `index` (the last
   * one stays). Unlinks are durable at once (the real code fsyncs the directory).
   * @throws AssertionError when `index` is beyond the saved snapshot
   */
  compact(index: number): void {
    checkCompact(this.view(), index);
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= index) {
      this.segments.shift();
      this.stats.deletedSegments++;
    }
    this.terms.dropThrough(index);
  }

  /**
   * Bootstrap of a new data dir (CairnNode.start appends bootstrapLog and awaits it before
   * anything else runs): written and durable at once.
   */
  appendDurably(hardState: HardState, entries: Entry[]): void {
    for (const s of this.append(hardState, entries, true)) {
      s.start();
      s.done();
    }
  }

  // ---- crash ----------------------------------------------------------------------------------

  /**
   * The process died: process memory is gone, each segment keeps its durable bytes and a
   * `policy`-chosen part of the rest (see the module comment).
   */
  crash(rng: Rng, policy: TearPolicy): void {
    const now = this.clock.nowMs;
    for (const seg of this.segments) {
      if (seg.len <= seg.durable) continue;
      if (!this.fsyncIsNoop && now - seg.lastWriteMs >= this.writebackMs) {
        seg.durable = seg.len;
        continue;
      }
      const r = rng.float();
      if (r < policy.keepAll) {
        // the OS wrote it all
      } else if (r < policy.keepAll + policy.cut) {
        const keep = rng.int(seg.durable, seg.len - 1);
        seg.buf.fill(0, keep, seg.len);
        seg.len = keep;
        this.stats.tornTails++;
      } else if (r < policy.keepAll + policy.cut + policy.corrupt) {
        const last = lastRecordStart(seg.buf, seg.durable, seg.len);
        const at = rng.int(last, seg.len - 1);
        seg.buf[at] = seg.buf[at]! ^ rng.int(1, 255);
        this.stats.corruptTails++;
      } else {
        seg.buf.fill(0, seg.durable, seg.len);
        seg.len = seg.durable;
      }
    }
    for (const seg of this.segments) seg.durable = seg.len;
    this.unsynced = [];
    this.unsyncedBytes = 0;
    this.terms = new TermRuns();
    this.hardState = null;
    this.snapRef = null;
  }

  /** True while some written bytes are not durable yet (a crash now may tear them). */
  hasUnsyncedBytes(): boolean {
    return this.segments.some((s) => s.len > s.durable);
  }

  /** Bytes in the WAL (for diagnostics). */
  get walBytes(): number {
    return this.segments.reduce((n, s) => n + s.len, 0);
  }

  // ---- internals ------------------------------------------------------------------------------

  private active(): Segment {
    const seg = this.segments.at(-1);
    if (!seg) throw new Error("sim disk: no WAL segment (open() first)");
    return seg;
  }

  private createSegment(): void {
    const seq = (this.segments.at(-1)?.seq ?? -1) + 1;
    this.segments.push({
      seq,
      buf: Buffer.alloc(Math.max(256, this.segmentBytes * 2)),
      len: 0,
      durable: 0,
      lastWriteMs: this.clock.nowMs,
      maxEntryIndex: 0,
    });
  }

  /** Wal.write: queue the records; with sync write everything queued and fdatasync the active segment. */
  private writeStep(records: WalRecord[], sync: boolean): DiskStep {
    const buf = encodeRecords(records);
    const seg = this.active();
    seg.maxEntryIndex = maxEntryIndexOf(records, seg.maxEntryIndex);
    let upTo = -1;
    return {
      synced: sync,
      start: () => {
        this.unsynced.push(buf);
        this.unsyncedBytes += buf.length;
        if (sync) {
          this.flush();
          upTo = seg.len;
        } else if (this.unsyncedBytes >= MAX_UNSYNCED_WAL_BYTES) this.flush();
      },
      done: () => {
        if (upTo >= 0 && !this.fsyncIsNoop) seg.durable = Math.max(seg.durable, upTo);
      },
    };
  }

  /** Wal.flush: write the records held in memory to the active segment (no fsync). */
  private flush(): void {
    if (this.unsynced.length === 0) return;
    const seg = this.active();
    const data = this.unsynced.length === 1 ? this.unsynced[0]! : Buffer.concat(this.unsynced);
    this.unsynced = [];
    this.unsyncedBytes = 0;
    if (seg.len + data.length > seg.buf.length) {
      const bigger = Buffer.alloc(Math.max(seg.buf.length * 2, seg.len + data.length));
      seg.buf.copy(bigger, 0, 0, seg.len);
      seg.buf = bigger;
    }
    data.copy(seg.buf, seg.len);
    seg.len += data.length;
    seg.lastWriteMs = this.clock.nowMs;
  }
}

/** Offset of the last whole record starting in [from, end) (records there start at `from`). */
function lastRecordStart(buf: Buffer, from: number, end: number): number {
  const data = buf.subarray(0, end);
  let at = from;
  let last = from;
  while (at < end) {
    const f = checkFrame(data, at);
    if (!f.ok) break;
    last = at;
    at = f.end;
  }
  return last;
}
