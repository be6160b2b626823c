/**
 * The history of one key: every put and delete (tombstone) still retained, oldest first, at most
 * one per revision. etcd keeps the same information as a keyIndex of generations
 * (server/storage/mvcc/key_index.go); a flat list with tombstones marks the generation ends.
 */
import { assert } from "../util/assert.ts";
import type { KeyValue } from "./types.ts";

/** One retained event of a key. A tombstone ends a generation (etcd: a delete). */
export interface HistoryEntry {
  /** Revision of this put or delete (etcd mod_revision of the put; main revision of the tombstone). */
  modRevision: number;
  /** Revision that created the generation this put belongs to; 0 for a tombstone. */
  createRevision: number;
  /** Puts since creation (1 on create); 0 for a tombstone. */
  version: number;
  /** Stored value; empty for a tombstone. */
  value: Uint8Array;
  /** Lease id, 0 for none. */
  lease: number;
  /** Cairn extension: Content-Type stored with the value. */
  contentType: string | undefined;
  tombstone: boolean;
}

/** The tombstone (etcd: a delete) of a key at `modRevision`. */
export function tombstoneEntry(modRevision: number): HistoryEntry {
  return {
    modRevision,
    createRevision: 0,
    version: 0,
    value: new Uint8Array(0),
    lease: 0,
    contentType: undefined,
    tombstone: true,
  };
}

/** Approximate bytes of bookkeeping per history entry (object, array slot, numbers). */
export const ENTRY_OVERHEAD_BYTES = 64;
/** Approximate bytes of bookkeeping per key (record, B-tree slot, key string). */
export const KEY_OVERHEAD_BYTES = 64;

/** Approximate memory of one entry in bytes (for KvStore.sizeBytes). */
export function entryBytes(e: HistoryEntry): number {
  return ENTRY_OVERHEAD_BYTES + e.value.length + (e.contentType?.length ?? 0);
}

/** One key and its retained history, entries strictly ascending by modRevision. */
export class KeyHistory {
  readonly entries: HistoryEntry[] = [];

  /** @param key the key bytes (owned by this record, never modified) */
  constructor(readonly key: Uint8Array) {}

  /** The newest entry, or undefined when the history is empty. */
  get latest(): HistoryEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** Index of the newest entry with modRevision <= `revision`, or -1 (binary search). */
  indexAt(revision: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.modRevision <= revision) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** The live (non-tombstone) entry visible at `revision`, or undefined if the key did not exist then. */
  visibleAt(revision: number): HistoryEntry | undefined {
    const e = this.entries[this.indexAt(revision)];
    return e === undefined || e.tombstone ? undefined : e;
  }

  /**
   * Appends an event. Invariant: revisions strictly increase; a tombstone follows a live entry.
   * @throws AssertionError when the invariant would break
   */
  append(e: HistoryEntry): void {
    const last = this.latest;
    assert(last === undefined || last.modRevision < e.modRevision, "key history: revisions must increase");
    assert(
      !e.tombstone || (last !== undefined && !last.tombstone),
      "key history: tombstone of a missing key",
    );
    this.entries.push(e);
  }

  /**
   * Drops history made unreachable by compaction at `revision` (etcd keyIndex.compact): every entry
   * older than the newest entry <= revision; that entry too if it is a tombstone.
   * @returns bytes freed (see {@link entryBytes})
   */
  compact(revision: number): number {
    const i = this.indexAt(revision);
    if (i < 0) return 0;
    const keepFrom = this.entries[i]!.tombstone ? i + 1 : i;
    let freed = 0;
    for (const e of this.entries.splice(0, keepFrom)) freed += entryBytes(e);
    return freed;
  }
}

/** The KeyValue (etcd mvccpb.KeyValue) of a live entry. `value` is shared: callers must not modify it. */
export function toKeyValue(key: Uint8Array, e: HistoryEntry, keysOnly = false): KeyValue {
  const kv: KeyValue = {
    key,
    createRevision: e.createRevision,
    modRevision: e.modRevision,
    version: e.version,
    value: keysOnly ? new Uint8Array(0) : e.value,
    lease: e.lease,
  };
  if (e.contentType !== undefined) kv.contentType = e.contentType;
  return kv;
}
