/**
 * Replay of retained history as watch events (etcd watchable_store syncWatchers reads the same
 * from its backend): the events of the keys in one interval at revisions [from, to], grouped by
 * revision, ascending. A k-way merge over the keys' histories (each already sorted by revision)
 * visits only keys inside the interval and stops at a byte budget, so a watcher far behind
 * catches up in bounded steps. Within a revision events come in key order, as live events do
 * (events.ts). The caller checks compaction first: replay is exact only for revisions above
 * the compact revision (below it, tombstones and prev_kv may be gone).
 */
import { assert } from "../util/assert.ts";
import { MinHeap } from "../util/min-heap.ts";
import { eventBytes, eventOf } from "./events.ts";
import type { KeyHistory } from "./key-history.ts";
import type { KeyIndex } from "./key-index.ts";
import type { KeyInterval } from "./keys.ts";
import type { RevisionEvents } from "./types.ts";

/** One step of replay. */
export interface HistoryBatch {
  /** Revision groups ascending by revision; groups never split and never empty. */
  groups: RevisionEvents[];
  /** The first revision not read yet: `toRevision + 1` when everything up to it was read. */
  nextRevision: number;
}

/** A position in one key's history; `order` is the key's rank in key order (ties of revision). */
interface Cursor {
  h: KeyHistory;
  i: number;
  order: number;
}

/** Replay order of the cursors: by (revision, key order). */
function before(a: Cursor, b: Cursor): boolean {
  const ra = a.h.entries[a.i]!.modRevision;
  const rb = b.h.entries[b.i]!.modRevision;
  return ra < rb || (ra === rb && a.order < b.order);
}

/**
 * Reads the events of keys in `iv` at revisions in [fromRevision, toRevision].
 * @param budgetBytes stop before the first revision group that starts once this many bytes
 *   (eventBytes estimate) were read; the first group is always read whole, so progress is made
 * @returns see {@link HistoryBatch}
 */
export function readHistory(
  index: KeyIndex,
  iv: KeyInterval,
  fromRevision: number,
  toRevision: number,
  budgetBytes: number,
): HistoryBatch {
  assert(fromRevision >= 1, "watch history: revisions start at 1");
  const heap = new MinHeap(before);
  let order = 0;
  for (const h of index.histories(iv)) {
    const i = h.indexAt(fromRevision - 1) + 1;
    if (i < h.entries.length && h.entries[i]!.modRevision <= toRevision) heap.push({ h, i, order });
    order++;
  }
  const groups: RevisionEvents[] = [];
  let bytes = 0;
  let current: RevisionEvents | undefined;
  while (heap.size > 0) {
    const c = heap.pop()!;
    const entry = c.h.entries[c.i]!;
    if (current === undefined || current.revision !== entry.modRevision) {
      if (current !== undefined && bytes >= budgetBytes) return { groups, nextRevision: entry.modRevision };
      current = { revision: entry.modRevision, events: [] };
      groups.push(current);
    }
    const event = eventOf(c.h.key, entry, c.h.entries[c.i - 1]);
    bytes += eventBytes(event);
    current.events.push(event);
    if (c.i + 1 < c.h.entries.length && c.h.entries[c.i + 1]!.modRevision <= toRevision) {
      heap.push({ h: c.h, i: c.i + 1, order: c.order });
    }
  }
  return { groups, nextRevision: toRevision + 1 };
}
