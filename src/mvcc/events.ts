/**
 * Building watch events (etcd mvccpb.Event) from key history entries, shared by the write path
 * (write-context.ts, live events) and history replay (watch-history.ts), so both give the same
 * events for the same revision.
 */

import { type HistoryEntry, toKeyValue } from "./key-history.ts";
import { compareBytes } from "./keys.ts";
import type { WatchEvent } from "./types.ts";

/** Approximate bytes of bookkeeping per event (event object, two KeyValue objects, array slot). */
export const EVENT_OVERHEAD_BYTES = 160;

const EMPTY = new Uint8Array(0);

/**
 * The event of history entry `entry` of `key`.
 * @param prev the entry just before it in the key's history (undefined if none retained); a
 *   tombstone means the key did not exist, so no prevKv
 */
export function eventOf(key: Uint8Array, entry: HistoryEntry, prev: HistoryEntry | undefined): WatchEvent {
  const event: WatchEvent = entry.tombstone
    ? {
        type: "DELETE",
        kv: { key, createRevision: 0, modRevision: entry.modRevision, version: 0, value: EMPTY, lease: 0 },
      }
    : { type: "PUT", kv: toKeyValue(key, entry) };
  if (prev !== undefined && !prev.tombstone) event.prevKv = toKeyValue(key, prev);
  return event;
}

/** Approximate memory of one event in bytes, for the watch buffer bound (keys and values counted once each). */
export function eventBytes(e: WatchEvent): number {
  return EVENT_OVERHEAD_BYTES + e.kv.key.length + e.kv.value.length + (e.prevKv?.value.length ?? 0);
}

/** Sorts one revision's events by key (byte order), in place; see RevisionEvents. */
export function sortEventsByKey(events: WatchEvent[]): WatchEvent[] {
  if (events.length > 1) events.sort((a, b) => compareBytes(a.kv.key, b.kv.key));
  return events;
}
