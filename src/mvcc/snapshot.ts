/**
 * The streamed binary form of the MVCC state for a Raft snapshot. A sequence of frames (a 4-byte
 * big-endian length, then a msgpack value; src/transport/framing.ts):
 *
 *   header  ["cairn-mvcc", 3, revision, compactRevision, leases]
 *   keys    [[key bin, entries], …]   one or more frames, ascending key order; a record that repeats
 *                                     the previous record's key continues that key's history
 *   end     ["end", keyCount, entryCount]
 *
 *   entries = [entry, …] ascending by revision (EntryRecord, snapshot-records.ts)
 *   leases  = [[id, ttl], …] ascending by id (granted TTL in seconds)
 *
 * Frames are closed at about SNAPSHOT_FRAME_TARGET_BYTES, so a state of any size is written, sent
 * and restored one bounded frame at a time; the end frame's counts catch a stream cut at a frame
 * boundary. Which keys are attached to which lease is not stored: it is rebuilt from the keys (a
 * live key's newest put names its lease), as etcd re-attaches keys when it restores its mvcc store.
 * Lease expiry is not stored either (only the leader knows it; a new leader renews every lease).
 *
 * The layout depends only on the state, so equal states give equal bytes (replicas can compare
 * snapshots byte for byte). The older single-value formats are still read (snapshot-legacy.ts).
 */
import { Packr } from "msgpackr";
import { encodeFrame, FrameDecoder, FrameTooLargeError } from "../util/framing.ts";
import { MAX_SNAPSHOT_FRAME_BYTES, SNAPSHOT_FRAME_TARGET_BYTES } from "../util/limits.ts";
import type { KeyHistory } from "./key-history.ts";
import { KeyIndex } from "./key-index.ts";
import type { LeaseTable } from "./leases.ts";
import { HistoryBuilder, int, malformed, parseLeases } from "./snapshot-records.ts";
import { type HistorySlice, KeyFrameWriter } from "./snapshot-writer.ts";

const MAGIC = "cairn-mvcc";
const FORMAT_VERSION = 3;
const END = "end";
/** Bytes counted per entry besides its value when filling a frame (numbers and msgpack framing). */
const ENTRY_RECORD_OVERHEAD_BYTES = 24;

const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

/** The state a snapshot carries. */
export interface MvccState {
  index: KeyIndex;
  revision: number;
  compactRevision: number;
  leases: LeaseTable;
}

/**
 * A frozen view of a store to serialize: histories may be shared with a live store that keeps
 * appending newer entries (those after `revision` are skipped) and whose compaction is deferred
 * until the view is released (entries a compaction at `compactRevision` drops are skipped).
 */
export interface MvccSnapshotView {
  /** Every key history, ascending by key. */
  histories: Iterable<KeyHistory>;
  revision: number;
  compactRevision: number;
  /** [id, ttl] of every lease, ascending by id. */
  leases: [number, number][];
}

/** `msgpack(value)` as one length-prefixed frame. */
function frameOf(value: unknown): Uint8Array {
  return encodeFrame(packr.pack(value));
}

/**
 * The entries of `h` a store at (`revision`, `compactRevision`) holds: none newer than `revision`,
 * and none that compaction drops (every entry older than the newest one at or before the compact
 * revision, and that one too when it is a tombstone; KeyHistory.compact).
 */
function retained(h: KeyHistory, revision: number, compactRevision: number): { from: number; to: number } {
  const to = h.indexAt(revision) + 1;
  const c = h.indexAt(compactRevision);
  const from = c < 0 ? 0 : h.entries[c]!.tombstone ? c + 1 : c;
  return { from, to: Math.max(from, to) };
}

/**
 * Serializes `view` as frames (module comment), each closed once it reaches about
 * `frameTargetBytes`. Lazy: a frame is built only when asked for, so the caller may write each
 * to a file or a socket before the next exists.
 * @returns the frames, each a complete length-prefixed frame
 */
export function* encodeSnapshotFrames(
  view: MvccSnapshotView,
  frameTargetBytes: number = SNAPSHOT_FRAME_TARGET_BYTES,
): Generator<Uint8Array> {
  yield frameOf([MAGIC, FORMAT_VERSION, view.revision, view.compactRevision, view.leases]);
  const writer = new KeyFrameWriter();
  let slices: HistorySlice[] = [];
  let bytes = 0;
  let keyCount = 0;
  let entryCount = 0;
  for (const history of view.histories) {
    const { from, to } = retained(history, view.revision, view.compactRevision);
    if (from === to) continue;
    keyCount++;
    entryCount += to - from;
    let sliceFrom = from;
    bytes += history.key.length + ENTRY_RECORD_OVERHEAD_BYTES;
    for (let i = from; i < to; i++) {
      const e = history.entries[i]!;
      bytes += e.value.length + (e.contentType?.length ?? 0) + ENTRY_RECORD_OVERHEAD_BYTES;
      if (bytes < frameTargetBytes) continue;
      slices.push({ history, from: sliceFrom, to: i + 1 });
      yield writer.frame(slices);
      slices = [];
      bytes = 0;
      sliceFrom = i + 1;
      // The rest of this history continues in the next frame, under the same key.
      if (sliceFrom < to) bytes += history.key.length + ENTRY_RECORD_OVERHEAD_BYTES;
    }
    if (sliceFrom < to) slices.push({ history, from: sliceFrom, to });
  }
  if (slices.length > 0) yield writer.frame(slices);
  yield frameOf([END, keyCount, entryCount]);
}

/**
 * Rebuilds a store state from the payloads of {@link encodeSnapshotFrames}' frames, one at a time,
 * checking every field and invariant (key order, revision order, a tombstone only after a put,
 * leases ascending, a live key's lease exists, the end frame's counts) and re-attaching keys to
 * leases. Nothing is shared with the payloads once a frame is handled (copied buffers).
 */
export class MvccSnapshotDecoder {
  private state: MvccState | null = null;
  private builder: HistoryBuilder | null = null;
  private keyCount = 0;
  private entryCount = 0;
  private ended = false;

  /**
   * Handles the payload of the next frame.
   * @throws CairnError("invalid_argument") on a malformed frame or a frame after the end frame
   */
  frame(payload: Uint8Array): void {
    if (this.ended) throw malformed("data after the end frame");
    let raw: unknown;
    try {
      raw = packr.unpack(payload);
    } catch (err) {
      throw malformed((err as Error).message);
    }
    if (!Array.isArray(raw)) throw malformed("frame is not a list");
    if (this.state === null) this.header(raw);
    else if (raw[0] === END) this.end(raw);
    else for (const item of raw) this.builder!.add(item, true);
  }

  /**
   * The decoded state, once the end frame arrived.
   * @throws CairnError("invalid_argument") when the stream ended early
   */
  finish(): MvccState {
    if (!this.ended || this.state === null) throw malformed("the snapshot ends before its end frame");
    return this.state;
  }

  private header(raw: unknown[]): void {
    if (raw[0] !== MAGIC) throw malformed("not an mvcc snapshot");
    if (raw[1] !== FORMAT_VERSION) throw malformed(`unknown format version ${String(raw[1])}`);
    if (raw.length !== 5) throw malformed("header has the wrong length");
    const revision = int(raw[2], "revision", 1);
    const compactRevision = int(raw[3], "compactRevision", 0);
    if (compactRevision > revision) throw malformed("compactRevision after revision");
    const state: MvccState = {
      index: new KeyIndex(),
      revision,
      compactRevision,
      leases: parseLeases(raw[4]),
    };
    this.state = state;
    this.builder = new HistoryBuilder(revision, (k, h) => {
      state.index.insertRestored(k, h);
      this.keyCount++;
      this.entryCount += h.entries.length;
      const latest = h.latest!;
      if (!latest.tombstone && latest.lease !== 0) {
        if (!state.leases.has(latest.lease)) throw malformed("a key names a lease that does not exist");
        state.leases.attach(latest.lease, k);
      }
    });
  }

  private end(raw: unknown[]): void {
    this.builder!.flush();
    if (raw.length !== 3) throw malformed("end frame has the wrong length");
    const keys = int(raw[1], "key count", 0);
    const entries = int(raw[2], "entry count", 0);
    if (keys !== this.keyCount || entries !== this.entryCount) {
      throw malformed(
        `end frame counts ${keys} keys and ${entries} entries, the frames held ${this.keyCount} and ${this.entryCount}`,
      );
    }
    this.ended = true;
  }
}

/**
 * Splits snapshot bytes, arriving in chunks of any size, into frame payloads (at most
 * MAX_SNAPSHOT_FRAME_BYTES each; at most one partial frame is held between chunks).
 */
export class SnapshotFrameSplitter {
  private readonly decoder = new FrameDecoder(MAX_SNAPSHOT_FRAME_BYTES);

  /**
   * Adds a chunk and hands over the payload of each frame it completes, in order.
   * @throws CairnError("invalid_argument") on a frame over the limit; whatever `onFrame` throws
   */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    try {
      this.decoder.push(chunk, onFrame);
    } catch (err) {
      if (err instanceof FrameTooLargeError) throw malformed(err.message);
      throw err;
    }
  }

  /** Checks that the bytes ended at a frame boundary. @throws CairnError("invalid_argument") otherwise */
  end(): void {
    if (this.decoder.pendingBytes > 0) throw malformed("the snapshot ends inside a frame");
  }
}
