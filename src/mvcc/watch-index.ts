/**
 * The index of synced watchers by what they watch, so that publishing a revision touches only the
 * watchers of its keys (etcd server/storage/mvcc/watcher_group.go keeps single keys in a map and
 * ranges in an interval tree, likewise). A put that no watcher watches costs a few map lookups and
 * one binary search, whatever the number of watchers; a put whose first key byte starts no watched
 * key or prefix (and with no other range watched) costs one array lookup.
 *
 * Watchers with the same selection (key interval, filters, prev_kv) form one {@link WatchGroup}:
 * the events of a revision are selected once per group and the same array is queued to each of
 * its watchers, so an encoder can encode it once (see src/api/sse-watch.ts). Groups are indexed by
 * kind:
 * - a single key: a map from the key;
 * - a prefix ([p, prefixEnd(p)), p not empty): a map from the prefix, looked up with each event
 *   key's leading bytes of every prefix length in use (a handful in practice);
 * - any other range ([a, b), [a, +∞)): sorted by start with the running maximum of the ends, so a
 *   lookup walks back from the last start at or below the key only while an end can still be
 *   above it. Rebuilt lazily when the set of range groups changed.
 */
import { assert } from "../util/assert.ts";
import { intervalContains, type KeyInterval } from "./keys.ts";
import type { WatchRequest, WatchSelector } from "./watch-request.ts";
import type { Watcher } from "./watcher.ts";

/** Synced watchers that share one selection (same interval, filters and prev_kv). */
export class WatchGroup {
  /** The group's watchers (all synced). */
  readonly watchers = new Set<Watcher>();
  /** Last revision {@link WatchIndex.match} returned this group for (dedup within one revision). */
  mark = 0;

  /**
   * @param key the selection key ({@link selectionKey})
   * @param selector the selection (any member's; they are equal)
   * @param kind how the group is indexed
   */
  constructor(
    readonly key: string,
    readonly selector: WatchSelector,
    readonly kind: "key" | "prefix" | "range",
  ) {}

  /** The watched interval. */
  get interval(): KeyInterval {
    return this.selector.interval;
  }
}

/**
 * The key of a watch request's selection: equal for two requests exactly when they select the
 * same events with the same fields (interval, NOPUT/NODELETE filters, prev_kv).
 */
export function selectionKey(req: WatchRequest, interval: KeyInterval): string {
  const flags =
    (req.prevKv === true ? "p" : "-") +
    (req.filters?.includes("NOPUT") ? "P" : "-") +
    (req.filters?.includes("NODELETE") ? "D" : "-");
  const end = interval.end;
  const endPart = end === undefined ? "k" : end === null ? "n" : `r${end.length}:${end}`;
  return `${flags}${endPart}|${interval.start}`;
}

/**
 * The smallest binary string above every string that starts with `prefix` (keys.ts prefixEnd on
 * binary strings); undefined for an empty prefix or one of only 0xff bytes (no such string).
 */
export function prefixEndString(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const code = prefix.charCodeAt(i);
    if (code < 0xff) return prefix.slice(0, i) + String.fromCharCode(code + 1);
  }
  return undefined;
}

/** The synced watchers of one hub, indexed by their key intervals (see module comment). */
export class WatchIndex {
  private readonly groups = new Map<string, WatchGroup>();
  private readonly byKey = new Map<string, WatchGroup[]>();
  private readonly byPrefix = new Map<string, WatchGroup[]>();
  /** Prefix length → number of distinct prefixes of that length in byPrefix. */
  private readonly prefixLengths = new Map<number, number>();
  /** Distinct prefix lengths, ascending; null when prefixLengths changed since. */
  private lengths: number[] | null = [];
  /** Key and prefix groups by the first byte of their key. */
  private readonly firstBytes = new Uint32Array(256);
  private readonly ranges = new Set<WatchGroup>();
  /** Range groups by interval start; null when `ranges` changed since. */
  private rangeOrder: WatchGroup[] | null = [];
  /** maxEnd[i]: the highest end of rangeOrder[0..i] (null: one of them has no end). */
  private maxEnd: (string | null)[] = [];
  private watcherCount = 0;

  /** Synced watchers in the index. */
  get size(): number {
    return this.watcherCount;
  }

  /** Distinct selections in the index. */
  get groupCount(): number {
    return this.groups.size;
  }

  /**
   * Adds a watcher under its selection (`w.selectionKey`); it must not be in the index.
   * @throws AssertionError when it already is
   */
  add(w: Watcher): void {
    assert(w.group === undefined, "watch index: watcher added twice");
    let g = this.groups.get(w.selectionKey);
    if (g === undefined) {
      g = new WatchGroup(w.selectionKey, w.selector, kindOf(w.selector.interval));
      this.groups.set(g.key, g);
      this.insert(g);
    }
    g.watchers.add(w);
    w.group = g;
    this.watcherCount++;
  }

  /** Removes a watcher (no-op when it is not in the index). */
  remove(w: Watcher): void {
    const g = w.group;
    if (g === undefined) return;
    w.group = undefined;
    g.watchers.delete(w);
    this.watcherCount--;
    if (g.watchers.size === 0) {
      this.groups.delete(g.key);
      this.delete(g);
    }
  }

  /**
   * False when no group can hold `key` (its first byte starts no watched key or prefix and no
   * other range is watched): the caller need not even make its key string.
   */
  mayHold(key: Uint8Array): boolean {
    return this.ranges.size > 0 || (key.length > 0 && this.firstBytes[key[0]!]! > 0);
  }

  /**
   * Adds the groups whose interval holds `k` (a binary key string) to `out`, except those already
   * marked with `revision` (each group once per revision).
   */
  collect(k: string, revision: number, out: WatchGroup[]): void {
    if (this.byKey.size > 0) take(this.byKey.get(k), revision, out);
    if (this.byPrefix.size > 0) {
      for (const n of this.prefixLengthsAscending()) {
        if (n > k.length) break;
        take(this.byPrefix.get(n === k.length ? k : k.slice(0, n)), revision, out);
      }
    }
    if (this.ranges.size > 0) this.matchRanges(k, revision, out);
  }

  /**
   * The groups whose interval holds at least one of `keys` (binary strings of one revision's
   * event keys), each once.
   * @param revision the revision being published (marks the groups found, for dedup)
   */
  match(keys: readonly string[], revision: number): WatchGroup[] {
    const out: WatchGroup[] = [];
    for (const k of keys) this.collect(k, revision, out);
    return out;
  }

  private insert(g: WatchGroup): void {
    const iv = g.interval;
    if (g.kind !== "range") this.firstBytes[iv.start.charCodeAt(0)]!++;
    if (g.kind === "key") push(this.byKey, iv.start, g);
    else if (g.kind === "prefix") {
      if (push(this.byPrefix, iv.start, g)) {
        const n = iv.start.length;
        this.prefixLengths.set(n, (this.prefixLengths.get(n) ?? 0) + 1);
        this.lengths = null;
      }
    } else {
      this.ranges.add(g);
      this.rangeOrder = null;
    }
  }

  private delete(g: WatchGroup): void {
    const iv = g.interval;
    if (g.kind !== "range") this.firstBytes[iv.start.charCodeAt(0)]!--;
    if (g.kind === "key") pull(this.byKey, iv.start, g);
    else if (g.kind === "prefix") {
      if (pull(this.byPrefix, iv.start, g)) {
        const n = iv.start.length;
        const left = (this.prefixLengths.get(n) ?? 1) - 1;
        if (left === 0) this.prefixLengths.delete(n);
        else this.prefixLengths.set(n, left);
        this.lengths = null;
      }
    } else {
      this.ranges.delete(g);
      this.rangeOrder = null;
    }
  }

  private prefixLengthsAscending(): number[] {
    if (this.lengths === null) this.lengths = [...this.prefixLengths.keys()].sort((a, b) => a - b);
    return this.lengths;
  }

  /** Adds the range groups holding `k` to `out` (see module comment). */
  private matchRanges(k: string, revision: number, out: WatchGroup[]): void {
    if (this.rangeOrder === null) this.rebuildRanges();
    const order = this.rangeOrder!;
    // The last group whose start is at or below k.
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid]!.interval.start <= k) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const m = this.maxEnd[i]!;
      if (m !== null && m <= k) break; // no group at or before i ends above k
      const g = order[i]!;
      if (g.mark !== revision && intervalContains(g.interval, k)) {
        g.mark = revision;
        out.push(g);
      }
    }
  }

  private rebuildRanges(): void {
    const order = [...this.ranges].sort((a, b) =>
      a.interval.start < b.interval.start ? -1 : a.interval.start > b.interval.start ? 1 : 0,
    );
    const maxEnd: (string | null)[] = [];
    let m: string | null | undefined;
    for (const g of order) {
      const end = g.interval.end;
      assert(end !== undefined, "watch index: a single key among the ranges");
      m = m === null || end === null ? null : m === undefined || end > m ? end : m;
      maxEnd.push(m);
    }
    this.rangeOrder = order;
    this.maxEnd = maxEnd;
  }
}

/** Adds the groups of `gs` not yet marked with `revision` to `out`, marking them. */
function take(gs: readonly WatchGroup[] | undefined, revision: number, out: WatchGroup[]): void {
  if (gs === undefined) return;
  for (const g of gs) {
    if (g.mark === revision) continue;
    g.mark = revision;
    out.push(g);
  }
}

/** How a group with interval `iv` is indexed. */
function kindOf(iv: KeyInterval): WatchGroup["kind"] {
  if (iv.end === undefined) return "key";
  if (iv.end !== null && iv.start.length > 0 && prefixEndString(iv.start) === iv.end) return "prefix";
  return "range";
}

/** Appends `g` to map[k]; @returns true when k was not in the map before. */
function push(map: Map<string, WatchGroup[]>, k: string, g: WatchGroup): boolean {
  const list = map.get(k);
  if (list === undefined) {
    map.set(k, [g]);
    return true;
  }
  list.push(g);
  return false;
}

/** Removes `g` from map[k]; @returns true when k left the map. */
function pull(map: Map<string, WatchGroup[]>, k: string, g: WatchGroup): boolean {
  const list = map.get(k);
  if (list === undefined) return false;
  const i = list.indexOf(g);
  if (i >= 0) list.splice(i, 1);
  if (list.length > 0) return false;
  map.delete(k);
  return true;
}
