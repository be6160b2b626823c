/**
 * The key index: every key with retained history, in byte order, in a B-tree (sorted-btree)
 * keyed by the key's binary string (see keys.ts). Point lookups are O(log n); a range visits only
 * the keys inside it. Counts live keys and approximate memory as it changes.
 */
import { assert } from "../util/assert.ts";
import { BTree, compareStrings } from "./btree.ts";
import { entryBytes, type HistoryEntry, KEY_OVERHEAD_BYTES, KeyHistory } from "./key-history.ts";
import type { KeyInterval } from "./keys.ts";

export class KeyIndex {
  private readonly tree = new BTree<string, KeyHistory>(undefined, compareStrings);
  private bytes = 0;
  private live = 0;
  private entries = 0;

  /** Approximate bytes held by keys and history. */
  get sizeBytes(): number {
    return this.bytes;
  }

  /** Keys whose newest entry is a put (keys that exist at the newest revision). */
  get liveKeyCount(): number {
    return this.live;
  }

  /** History entries retained (puts and tombstones of every key); compaction lowers it. */
  get entryCount(): number {
    return this.entries;
  }

  /** Keys with any retained history (live or only tombstoned). */
  get historyKeyCount(): number {
    return this.tree.size;
  }

  /** The history of the key with binary string `k`, if any is retained. O(log n). */
  get(k: string): KeyHistory | undefined {
    return this.tree.get(k);
  }

  /**
   * The histories of keys in `iv`, ascending by key. Visits only keys inside the interval.
   * The index must not be changed while the iterator runs.
   */
  *histories(iv: KeyInterval): Generator<KeyHistory> {
    if (iv.end === undefined) {
      const h = this.tree.get(iv.start);
      if (h !== undefined) yield h;
      return;
    }
    const end = iv.end;
    if (end !== null && end <= iv.start) return;
    for (const [k, h] of this.tree.entries(iv.start)) {
      if (end !== null && k >= end) return;
      yield h;
    }
  }

  /** Every history, ascending by key. */
  all(): IterableIterator<KeyHistory> {
    return this.tree.values();
  }

  /**
   * Every history as of now, ascending by key, from an O(1) copy-on-write clone of the B-tree: keys
   * added or removed later do not show. The histories themselves are shared (later appends show;
   * callers skip them by revision, and must keep compaction from trimming them meanwhile).
   */
  frozenHistories(): IterableIterator<KeyHistory> {
    return this.tree.clone().values();
  }

  /**
   * Appends `e` to the history of key `k` (bytes `key`), creating the history when absent.
   * Keeps the live-key count and the size in step.
   */
  append(k: string, key: Uint8Array, e: HistoryEntry): void {
    let h = this.tree.get(k);
    if (h === undefined) {
      assert(!e.tombstone, "key index: tombstone of an unknown key");
      h = new KeyHistory(key);
      this.tree.set(k, h);
      this.bytes += KEY_OVERHEAD_BYTES + 2 * key.length;
    }
    const wasLive = h.latest !== undefined && !h.latest.tombstone;
    h.append(e);
    this.entries++;
    this.bytes += entryBytes(e);
    if (wasLive && e.tombstone) this.live--;
    if (!wasLive && !e.tombstone) this.live++;
  }

  /**
   * Adds a whole restored history (from a snapshot). Entries must already be valid.
   * @throws AssertionError when `k` is already present
   */
  insertRestored(k: string, h: KeyHistory): void {
    assert(h.entries.length > 0, "key index: empty restored history");
    assert(this.tree.set(k, h, false), "key index: duplicate restored key");
    this.bytes += KEY_OVERHEAD_BYTES + 2 * h.key.length;
    for (const e of h.entries) this.bytes += entryBytes(e);
    this.entries += h.entries.length;
    if (!h.latest!.tombstone) this.live++;
  }

  /**
   * Compaction at `revision` (etcd treeIndex.Compact): trims every history and removes keys left
   * with none. O(keys with history).
   */
  compact(revision: number): void {
    const emptied: string[] = [];
    for (const [k, h] of this.tree.entries()) {
      const before = h.entries.length;
      this.bytes -= h.compact(revision);
      this.entries -= before - h.entries.length;
      if (h.entries.length === 0) emptied.push(k);
    }
    for (const k of emptied) {
      const h = this.tree.get(k)!;
      this.tree.delete(k);
      this.bytes -= KEY_OVERHEAD_BYTES + 2 * h.key.length;
    }
    assert(this.bytes >= 0 && this.entries >= 0, "key index: negative size");
  }
}
