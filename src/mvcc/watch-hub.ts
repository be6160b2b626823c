/**
 * The watch hub of one member (etcd server/storage/mvcc/watchable_store.go): every watcher,
 * fed with the events of each applied revision and with replayed history.
 *
 * - A watcher is synced (at the member's revision, gets live events from publish()) or unsynced
 *   (behind: reads retained history in steps of at most half its buffer, pulled as its consumer
 *   takes messages, then becomes synced). One position per watcher, advanced only by whole
 *   revisions, so messages are ordered by revision, never repeat a revision and never split one,
 *   and the switch from replay to live has no gap and no overlap. Everything runs synchronously
 *   on the apply path: no clock, no I/O, no await.
 * - Guarantees (each tested in test/unit/mvcc/watch-*.test.ts): order; no duplicates; no split
 *   revision; resumable from any revision above the compact revision; progress notifications
 *   (periodic, with time given to tick(), and on request); a start at or below the compact
 *   revision, or a catch-up overtaken by compaction, ends with "compacted" + compact revision;
 *   a synced watcher whose buffer would pass maxBufferBytes is cancelled with "resume from
 *   revision N" (writes never wait for watchers; memory per watcher is bounded).
 * - After a snapshot restore (restored()), watchers behind the new revision catch up from the
 *   restored history or get "compacted": none silently skips revisions.
 * - Synced watchers are indexed by key, prefix and range (watch-index.ts), grouped by selection:
 *   a revision costs a few lookups per event key plus the work for the watchers it concerns, and
 *   its events are selected once per group, the same array queued to each of the group's
 *   watchers (so the API can encode it once per group, see src/api/sse-watch.ts).
 */
import { assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";
import { DEFAULT_WATCH_PROGRESS_INTERVAL_MS, MAX_WATCH_BUFFER_BYTES, MAX_WATCHERS } from "../util/limits.ts";
import { type KeyInterval, keyString } from "./keys.ts";
import type { WatchEvent } from "./types.ts";
import type { HistoryBatch } from "./watch-history.ts";
import { selectionKey, type WatchGroup, WatchIndex } from "./watch-index.ts";
import { validateWatchRequest, type WatchRequest, WatchSelector } from "./watch-request.ts";
import { queuedRevision, Watcher, type WatcherHost, type WatchStream } from "./watcher.ts";

/** What the hub reads from the store (KvStore implements it). */
export interface WatchSource {
  /** Current revision. */
  readonly revision: number;
  /** Revision of the last compaction (0 if none). */
  readonly compactRevision: number;
  /** Retained events from `fromRevision` (> compactRevision) on, see KvStore.watchHistory. */
  watchHistory(iv: KeyInterval, fromRevision: number, budgetBytes: number): HistoryBatch;
}

/** Tunables of a hub; defaults from src/util/limits.ts. */
export interface WatchHubOptions {
  /** Bound of each watcher's buffer (MAX_WATCH_BUFFER_BYTES). */
  maxBufferBytes: number;
  /** Interval of periodic progress notifications, in the ms of tick() (DEFAULT_WATCH_PROGRESS_INTERVAL_MS). */
  progressIntervalMs: number;
  /** Most watchers (MAX_WATCHERS). */
  maxWatchers: number;
}

export class WatchHub implements WatcherHost {
  private readonly opts: WatchHubOptions;
  private revision: number;
  private nowMs: number | undefined;
  private nextId = 1;
  private readonly all = new Set<Watcher>();
  /** Synced watchers by key, prefix and range, grouped by selection. */
  private readonly synced = new WatchIndex();
  /** Watchers that asked for periodic progress notifications. */
  private readonly progressWatchers = new Set<Watcher>();

  constructor(
    private readonly source: WatchSource,
    opts: Partial<WatchHubOptions> = {},
  ) {
    this.opts = {
      maxBufferBytes: opts.maxBufferBytes ?? MAX_WATCH_BUFFER_BYTES,
      progressIntervalMs: opts.progressIntervalMs ?? DEFAULT_WATCH_PROGRESS_INTERVAL_MS,
      maxWatchers: opts.maxWatchers ?? MAX_WATCHERS,
    };
    this.revision = source.revision;
  }

  /** Watchers alive now. */
  get watcherCount(): number {
    return this.all.size;
  }

  /**
   * Opens a watch. History from the start revision is queued at once (up to half the buffer);
   * a start at or below the compact revision yields a stream whose only message is "compacted".
   * @throws CairnError "invalid_argument" (see validateWatchRequest), "too_many_requests" past maxWatchers
   */
  watch(req: WatchRequest): WatchStream {
    validateWatchRequest(req);
    if (this.all.size >= this.opts.maxWatchers) {
      throw new CairnError(
        "too_many_requests",
        `too many watchers on this member (${this.opts.maxWatchers})`,
      );
    }
    const start = req.startRevision ? req.startRevision : this.revision + 1;
    const selector = new WatchSelector(req);
    const w = new Watcher(
      this.nextId++,
      selector,
      req.progressNotify === true,
      start,
      this.revision,
      this,
      this.opts.maxBufferBytes,
    );
    w.selectionKey = selectionKey(req, selector.interval);
    w.lastSentMs = this.nowMs;
    this.all.add(w);
    if (w.progressNotify) this.progressWatchers.add(w);
    if (start <= this.revision) {
      w.state = "unsynced";
      this.fill(w);
    } else {
      this.addSynced(w);
    }
    return w;
  }

  /**
   * Feeds the events of one applied write: the store is now at `revision`, one above the last.
   * @param events the write's events, sorted by key (KvStore.applyWithEvents)
   * @throws AssertionError when revisions are skipped or repeated
   */
  publish(revision: number, events: readonly WatchEvent[]): void {
    assert(revision === this.revision + 1, "watch hub: revision %s after %s", revision, this.revision);
    assert(revision === this.source.revision, "watch hub: publish before the store applied");
    this.revision = revision;
    if (this.synced.size === 0 || events.length === 0) return;
    // Binary key strings, made only for keys a group may hold (the rest once a group matched).
    const keys: string[] = new Array(events.length);
    const groups: WatchGroup[] = [];
    for (let i = 0; i < events.length; i++) {
      const key = events[i]!.kv.key;
      if (!this.synced.mayHold(key)) continue; // a key nobody watches costs one lookup
      keys[i] = keyString(key);
      this.synced.collect(keys[i]!, revision, groups);
    }
    if (groups.length === 0) return;
    for (let i = 0; i < events.length; i++) keys[i] ??= keyString(events[i]!.kv.key);
    for (const g of groups) {
      // One selection per group; its watchers share the array (never modified after this).
      const selected = g.selector.select(events, keys);
      if (selected.length === 0) continue;
      const queued = queuedRevision(revision, selected);
      for (const w of g.watchers) {
        if (revision < w.nextRevision) continue; // starts in the future
        if (w.pushRevision(queued, true)) w.lastSentMs = this.nowMs;
        else this.cancelSlow(w); // leaves g.watchers: deleting during iteration is safe
      }
    }
  }

  /**
   * The store was replaced by a snapshot: synced watchers behind its revision catch up from its
   * history (or end "compacted"); none jumps over the revisions in between.
   */
  restored(): void {
    const before = this.revision;
    this.revision = this.source.revision;
    for (const w of [...this.all]) {
      if (w.state !== "synced") continue;
      w.nextRevision = Math.max(w.nextRevision, before + 1);
      if (w.nextRevision > this.revision) continue;
      this.removeSynced(w);
      w.state = "unsynced";
      this.fill(w);
    }
  }

  /**
   * Advances the hub's clock to `nowMs` and sends periodic progress notifications to synced
   * watchers that asked for them and got nothing for progressIntervalMs (etcd sends them only to
   * synced watchers, likewise).
   */
  tick(nowMs: number): void {
    this.nowMs = nowMs;
    for (const w of this.progressWatchers) {
      if (w.state !== "synced") continue;
      if (w.lastSentMs === undefined) w.lastSentMs = nowMs;
      else if (nowMs - w.lastSentMs >= this.opts.progressIntervalMs) {
        w.pushProgress(this.seenThrough(w), false);
        w.lastSentMs = nowMs;
      }
    }
  }

  /** Ends every watcher with "cancelled" (`reason`, then "; resume from revision N"), e.g. at shutdown. */
  closeAll(reason: string): void {
    for (const w of [...this.all]) {
      this.detach(w);
      w.end(
        {
          kind: "cancelled",
          resumeRevision: w.resumeRevision,
          reason: `${reason}; resume from revision ${w.resumeRevision}`,
        },
        true,
      );
    }
  }

  // ---- WatcherHost ----------------------------------------------------------------------------

  /** @internal a consumer took a message from an unsynced watcher */
  refill(w: Watcher): void {
    if (w.state === "unsynced" && !w.filling) this.fill(w);
  }

  /** @internal answers a progress request: everything through seenThrough(w) is queued before it */
  progressRequested(w: Watcher): void {
    w.pushProgress(this.seenThrough(w), true);
  }

  /** @internal the consumer closed the stream */
  closed(w: Watcher): void {
    this.detach(w);
  }

  // ---- internals ------------------------------------------------------------------------------

  /** The revision through which every event of `w` is queued (a synced watcher: the hub's revision). */
  private seenThrough(w: Watcher): number {
    const next = w.state === "synced" ? Math.max(w.nextRevision, this.revision + 1) : w.nextRevision;
    return next - 1;
  }

  /**
   * Reads history into an unsynced watcher until half its buffer is used or it is synced. At the
   * switch to live events at most half the buffer (plus one revision) is used, leaving room.
   */
  private fill(w: Watcher): void {
    const lowWaterBytes = this.opts.maxBufferBytes / 2;
    w.filling = true;
    try {
      while (w.state === "unsynced" && w.bufferedBytes < lowWaterBytes) {
        const compactRevision = this.source.compactRevision;
        if (w.nextRevision <= compactRevision) {
          this.detach(w);
          w.end({ kind: "compacted", compactRevision }, false);
          return;
        }
        if (w.nextRevision > this.revision) {
          this.addSynced(w);
          return;
        }
        const batch = this.source.watchHistory(
          w.selector.interval,
          w.nextRevision,
          lowWaterBytes - w.bufferedBytes,
        );
        assert(batch.nextRevision > w.nextRevision, "watch hub: history replay made no progress");
        w.nextRevision = batch.nextRevision;
        for (const g of batch.groups) {
          const selected = w.selector.select(g.events);
          if (selected.length > 0) w.pushEvents(g.revision, selected, false);
        }
      }
    } finally {
      w.filling = false;
    }
  }

  /** Cancels a synced watcher whose consumer fell behind by more than the buffer. */
  private cancelSlow(w: Watcher): void {
    this.detach(w);
    const resume = w.resumeRevision;
    w.end(
      {
        kind: "cancelled",
        resumeRevision: resume,
        reason:
          `watcher fell behind: more than ${this.opts.maxBufferBytes} bytes of events were waiting ` +
          `for the consumer; resume from revision ${resume}`,
      },
      true,
    );
  }

  private addSynced(w: Watcher): void {
    w.state = "synced";
    this.synced.add(w);
  }

  private removeSynced(w: Watcher): void {
    this.synced.remove(w);
  }

  /** Stops feeding `w` (it stays readable by its consumer). */
  private detach(w: Watcher): void {
    if (w.state === "synced") this.removeSynced(w);
    this.all.delete(w);
    this.progressWatchers.delete(w);
  }
}
