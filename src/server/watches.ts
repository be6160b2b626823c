/**
 * The watches of one member: its WatchHub (src/mvcc/watch-hub.ts, pure) plus the side effects
 * the hub must not have: the clock that drives periodic progress notifications (a timer, only
 * while watchers exist) and shutdown. CairnNode owns one and feeds it every applied write.
 */
import type { KvStore } from "../mvcc/store.ts";
import type { WatchEvent } from "../mvcc/types.ts";
import { WatchHub, type WatchHubOptions } from "../mvcc/watch-hub.ts";
import type { WatchRequest } from "../mvcc/watch-request.ts";
import type { WatchStream } from "../mvcc/watcher.ts";
import { CairnError } from "../util/errors.ts";

/** How often (ms) the hub's clock advances; the resolution of progress notification intervals. */
const WATCH_TICK_MS = 1_000;

export class NodeWatches {
  private readonly hub: WatchHub;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** @param store the member's state machine, read for history replay */
  constructor(store: KvStore, opts: Partial<WatchHubOptions> = {}) {
    this.hub = new WatchHub(store, opts);
  }

  /** Watchers alive now. */
  get watcherCount(): number {
    return this.hub.watcherCount;
  }

  /**
   * Opens a watch on this member's applied state (see KvService.watch).
   * @throws CairnError "stopped", "invalid_argument", "too_many_requests"
   */
  watch(req: WatchRequest): WatchStream {
    if (this.stopped) throw new CairnError("stopped", "the member is shutting down");
    const stream = this.hub.watch(req);
    this.startClock();
    return stream;
  }

  /** Feeds the events of one applied write (`revision`: the store's new revision). */
  publish(revision: number, events: readonly WatchEvent[]): void {
    if (events.length > 0) this.hub.publish(revision, events);
  }

  /** The store was replaced by a snapshot (see WatchHub.restored). */
  restored(): void {
    this.hub.restored();
  }

  /** Ends every watcher with "cancelled" and a resume revision, and stops the clock. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.hub.closeAll("the member is shutting down");
  }

  private startClock(): void {
    if (this.timer) return;
    this.hub.tick(Date.now());
    this.timer = setInterval(() => {
      this.hub.tick(Date.now());
      if (this.hub.watcherCount === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    }, WATCH_TICK_MS);
    this.timer.unref();
  }
}
