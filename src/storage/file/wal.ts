/**
 * The write-ahead log: a directory of segment files, each a sequence of framed records
 * (wal-record.ts). Appends go to the last segment as one write followed by one fdatasync
 * (group commit); a segment past `segmentBytes` rolls over to a new one. Compaction deletes
 * whole old segments. After etcd's server/storage/wal.
 */
import { type FileHandle, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../../util/assert.ts";
import { StorageCorruptError } from "../types.ts";
import { fsyncDir, writeFully } from "./fsutil.ts";
import { parseSegmentName, segmentName } from "./layout.ts";
import type { StorageLogger } from "./logger.ts";
import { encodeRecords, type WalRecord } from "./wal-record.ts";
import { LogReplay } from "./wal-replay.ts";
import { findValidRecordFrom, scanSegment } from "./wal-scan.ts";

/** One segment file. */
interface Segment {
  seq: number;
  path: string;
  /** Largest entry index written to this segment, 0 when it holds no entry. */
  maxEntryIndex: number;
}

function maxEntryIndexOf(records: readonly WalRecord[], start = 0): number {
  let max = start;
  for (const r of records) if (r.kind === "entry" && r.entry.index > max) max = r.entry.index;
  return max;
}

/** Options of {@link Wal.open}. */
export interface WalOptions {
  /** Roll over to a new segment once the current one holds at least this many bytes. */
  segmentBytes: number;
  logger: StorageLogger;
}

/** An open WAL directory; owns the file handle of its last segment. Not safe for concurrent calls. */
export class Wal {
  #segments: Segment[];
  #active: FileHandle | null;
  /** Bytes of the last segment (where the next record goes). */
  #activeBytes: number;

  private constructor(
    readonly dir: string,
    readonly opts: WalOptions,
    segments: Segment[],
    active: FileHandle | null,
    activeBytes: number,
  ) {
    this.#segments = segments;
    this.#active = active;
    this.#activeBytes = activeBytes;
  }

  /**
   * Opens the WAL in `dir` (which must exist), replaying every segment. A damaged record at the
   * tail of the last segment with nothing valid after it (a torn write, never acknowledged) is
   * truncated away with a warning. When `dir` holds no segment, the WAL is empty and the first
   * segment is created by {@link createFirstSegment}.
   * @throws StorageCorruptError on a missing segment, or a damaged record in a non-last segment or followed by a valid record
   */
  static async open(dir: string, opts: WalOptions): Promise<{ wal: Wal; replay: LogReplay }> {
    const found: { seq: number; name: string }[] = [];
    for (const name of await readdir(dir)) {
      const parsed = parseSegmentName(name);
      if (parsed) found.push({ seq: parsed.seq, name });
      else opts.logger.warn({ dir, file: name }, "ignoring a file that is not a WAL segment");
    }
    found.sort((a, b) => a.seq - b.seq);
    const replay = new LogReplay();
    const segments: Segment[] = [];
    let activeBytes = 0;
    for (let k = 0; k < found.length; k++) {
      const { seq, name } = found[k]!;
      const path = join(dir, name);
      if (k > 0 && seq !== found[k - 1]!.seq + 1) {
        throw new StorageCorruptError(
          `WAL segment missing before ${path}: sequence jumps from ${found[k - 1]!.seq}`,
        );
      }
      const buf = await readFile(path);
      const scan = scanSegment(buf, path);
      const isLast = k === found.length - 1;
      if (scan.damage) {
        const d = scan.damage;
        if (!isLast) {
          throw new StorageCorruptError(
            `WAL segment ${path}: ${d.reason} at offset ${d.offset} in a segment that is not the last one`,
          );
        }
        const later = findValidRecordFrom(buf, d.probeFrom);
        if (later >= 0) {
          throw new StorageCorruptError(
            `WAL segment ${path}: ${d.reason} at offset ${d.offset}, followed by a valid record at offset ${later}`,
          );
        }
        await truncateFile(path, d.offset);
        opts.logger.warn(
          { file: path, offset: d.offset, droppedBytes: buf.length - d.offset, reason: d.reason },
          "truncated a torn or corrupt record at the tail of the WAL (it was never acknowledged)",
        );
      }
      for (const r of scan.records) replay.apply(r);
      segments.push({ seq, path, maxEntryIndex: maxEntryIndexOf(scan.records) });
      if (isLast) activeBytes = scan.validEnd;
    }
    const last = segments.at(-1);
    const active = last ? await open(last.path, "r+") : null;
    return { wal: new Wal(dir, opts, segments, active, activeBytes), replay };
  }

  /** True when the WAL has no segment (a new data dir). */
  get isEmpty(): boolean {
    return this.#segments.length === 0;
  }

  /** Number of segment files (for status and tests). */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Creates segment 0 in an empty WAL; `firstIndex` names the index its first entry will have. */
  async createFirstSegment(firstIndex: number): Promise<void> {
    assert(this.isEmpty, "WAL already has segments");
    await this.#createSegment(0, firstIndex);
  }

  /** True when the last segment has reached `segmentBytes`: the next write should go to a new one. */
  get needsRollover(): boolean {
    return this.#activeBytes >= this.opts.segmentBytes;
  }

  /**
   * Starts a new segment named after `firstIndex` (the index of its first entry); later writes go
   * there. The directory is fsynced so the new file survives a crash.
   */
  async rollover(firstIndex: number): Promise<void> {
    const last = this.#segments.at(-1);
    assert(last !== undefined, "WAL has no segment to roll over from");
    await this.#createSegment(last.seq + 1, firstIndex);
  }

  async #createSegment(seq: number, firstIndex: number): Promise<void> {
    const path = join(this.dir, segmentName(seq, firstIndex));
    const h = await open(path, "wx");
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      await h.close();
      throw err;
    }
    await this.#active?.close();
    this.#active = h;
    this.#activeBytes = 0;
    this.#segments.push({ seq, path, maxEntryIndex: 0 });
  }

  /**
   * Appends `records` to the last segment: one write, then one fdatasync unless `sync` is false
   * (a later synced write or the OS makes them durable; see RaftStorage.append).
   */
  async write(records: readonly WalRecord[], sync = true): Promise<void> {
    const h = this.#active;
    const seg = this.#segments.at(-1);
    assert(h !== null && seg !== undefined, "WAL has no open segment");
    const buf = encodeRecords(records);
    await writeFully(h, buf, this.#activeBytes);
    if (sync) await h.datasync();
    this.#activeBytes += buf.length;
    seg.maxEntryIndex = maxEntryIndexOf(records, seg.maxEntryIndex);
  }

  /**
   * Deletes old segments whose entries all have index <= `index`, oldest first, stopping at the
   * first segment holding a later entry; the last segment always stays.
   * @returns number of segments deleted
   */
  async deleteSegmentsThrough(index: number): Promise<number> {
    let n = 0;
    while (this.#segments.length > 1 && this.#segments[0]!.maxEntryIndex <= index) {
      await unlink(this.#segments[0]!.path);
      this.#segments.shift();
      n++;
    }
    if (n > 0) await fsyncDir(this.dir);
    return n;
  }

  /**
   * Reads every segment again into a fresh replay (for load() after writes).
   * @throws StorageCorruptError on any damaged record (this process wrote them all whole)
   */
  async readAll(): Promise<LogReplay> {
    const replay = new LogReplay();
    for (const seg of this.#segments) {
      const buf = await readFile(seg.path);
      const scan = scanSegment(buf, seg.path);
      if (scan.damage) {
        throw new StorageCorruptError(
          `WAL segment ${seg.path}: ${scan.damage.reason} at offset ${scan.damage.offset} in a record written by this process`,
        );
      }
      for (const r of scan.records) replay.apply(r);
    }
    return replay;
  }

  /** Paths of the segment files, oldest first. */
  get segmentPaths(): string[] {
    return this.#segments.map((s) => s.path);
  }

  /** Closes the last segment's file handle. */
  async close(): Promise<void> {
    const h = this.#active;
    this.#active = null;
    await h?.close();
  }
}

/** Cuts `path` to `length` bytes and makes the cut durable before anything is appended after it. */
async function truncateFile(path: string, length: number): Promise<void> {
  const h = await open(path, "r+");
  try {
    await h.truncate(length);
    await h.datasync();
  } finally {
    await h.close();
  }
}
