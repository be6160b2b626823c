/**
 * One watcher: the bounded buffer of messages between the watch hub (producer, synchronous,
 * never waits) and one consumer (an HTTP stream, pulling at its own pace). Messages are whole
 * revision groups, progress notifications and one final message (compacted or cancelled).
 * The hub decides what goes in; this class keeps order, counts bytes and hands messages out.
 */
import { assert } from "../util/assert.ts";
import { eventBytes } from "./events.ts";
import type { WatchEvent } from "./types.ts";
import type { WatchGroup } from "./watch-index.ts";
import type { WatchSelector } from "./watch-request.ts";

/**
 * What a watch consumer receives, in revision order:
 * - "events": every event of one revision the watcher wants (never split, never empty).
 * - "progress": a progress notification: every event up to `revision` has been delivered before
 *   it (`requested`: the answer to {@link WatchStream.requestProgress}, else periodic).
 * - "compacted": final; the revisions the watcher needs were compacted (etcd ErrCompacted with
 *   compact_revision): re-read the keys, then watch from the read's revision + 1.
 * - "cancelled": final; the watcher was ended (slow consumer, member stopping); resume with a new
 *   watch from `resumeRevision`: nothing before it is missing, nothing from it was delivered.
 */
export type WatchMessage =
  | { kind: "events"; revision: number; events: WatchEvent[] }
  | { kind: "progress"; revision: number; requested: boolean }
  | { kind: "compacted"; compactRevision: number }
  | { kind: "cancelled"; resumeRevision: number; reason: string };

/** The consumer's side of one watch (returned by WatchHub.watch / KvService.watch). */
export interface WatchStream {
  /** Member-wide id of this watcher. */
  readonly id: number;
  /** The first revision this watch covers (resolved: "from now" is the revision after `createdRevision`). */
  readonly startRevision: number;
  /** The member's revision when the watch was created (etcd: the header of the created response). */
  readonly createdRevision: number;
  /** True once no message will follow the ones still buffered. */
  readonly ended: boolean;
  /**
   * The next message, waiting for one if none is buffered.
   * @returns undefined once the stream is over (after the final message, or after close())
   */
  next(): Promise<WatchMessage | undefined>;
  /** The next buffered message without waiting, or undefined if none is buffered now. */
  poll(): WatchMessage | undefined;
  /** Asks for a progress notification (sent after what is already buffered). */
  requestProgress(): void;
  /**
   * Sets (or, with undefined, clears) a function called when a message is queued while no next()
   * waits: a consumer that drains with poll() learns that there is more without a promise per
   * message. It runs synchronously on the producer's stack (the hub's publish, on the apply path),
   * so it must only note the fact and schedule the work (e.g. setImmediate), never write or throw.
   */
  onQueued(listener: (() => void) | undefined): void;
  /** Ends the watch from the consumer's side (e.g. the client went away); frees the buffer. */
  close(): void;
}

/** What a watcher needs from its hub. */
export interface WatcherHost {
  /** Called after a message was taken while the watcher is catching up from history. */
  refill(w: Watcher): void;
  /** Called when the consumer asks for a progress notification. */
  progressRequested(w: Watcher): void;
  /** Called when the consumer closes the stream. */
  closed(w: Watcher): void;
}

/** Bytes counted for a message without events (progress, final). */
const MESSAGE_OVERHEAD_BYTES = 64;

/** Bytes a revision group of `events` counts against a watcher's buffer. */
export function revisionBytes(events: readonly WatchEvent[]): number {
  let size = MESSAGE_OVERHEAD_BYTES;
  for (const e of events) size += eventBytes(e);
  return size;
}

interface Queued {
  msg: WatchMessage;
  bytes: number;
}

/**
 * One revision group as queued, shareable by every watcher of a selection (the hub makes one per
 * selection and revision; it and its message are never modified once made).
 */
export interface QueuedRevision {
  readonly msg: Extract<WatchMessage, { kind: "events" }>;
  readonly bytes: number;
}

/** The {@link QueuedRevision} of `events` (non-empty) at `revision`. */
export function queuedRevision(revision: number, events: WatchEvent[]): QueuedRevision {
  assert(events.length > 0, "watcher: empty revision group");
  return { msg: { kind: "events", revision, events }, bytes: revisionBytes(events) };
}

/** Hub-side state plus the consumer API. Created only by the hub. */
export class Watcher implements WatchStream {
  /** synced: gets live events from the hub; unsynced: catching up from history; ended: no more. */
  state: "synced" | "unsynced" | "ended" = "synced";
  /**
   * First revision not yet read for this watcher. While synced the hub's revision + 1 is the
   * real position; this stays the floor (a start revision in the future).
   */
  nextRevision: number;
  /** Hub time (ms) of the last events or progress queued, for periodic progress; undefined before the first tick. */
  lastSentMs: number | undefined;
  /** True while the hub is filling this watcher from history (refill calls are then ignored). */
  filling = false;
  /** The hub's key of this watcher's selection (watch-index.ts selectionKey); set by the hub. */
  selectionKey = "";
  /** The hub's index group while synced (watch-index.ts); undefined otherwise. */
  group: WatchGroup | undefined;
  private queue: (Queued | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  /** Every event up to this revision has been taken by the consumer. */
  private deliveredThrough: number;
  private waiter: ((m: WatchMessage | undefined) => void) | undefined;
  private listener: (() => void) | undefined;

  /**
   * @param maxBufferBytes bound of the buffer for live events (see pushEvents)
   */
  constructor(
    readonly id: number,
    readonly selector: WatchSelector,
    readonly progressNotify: boolean,
    readonly startRevision: number,
    readonly createdRevision: number,
    private readonly host: WatcherHost,
    private readonly maxBufferBytes: number,
  ) {
    this.nextRevision = startRevision;
    this.deliveredThrough = startRevision - 1;
  }

  get ended(): boolean {
    return this.state === "ended";
  }

  /** Approximate bytes of messages waiting for the consumer. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** The revision to resume from after the messages taken so far. */
  get resumeRevision(): number {
    return this.deliveredThrough + 1;
  }

  /**
   * Queues one revision group (non-empty, above everything queued before).
   * @param bounded true for live events: refused (false returned, nothing queued) when the buffer
   *   is not empty and the group would take it over maxBufferBytes. A group always fits into an
   *   empty buffer, so one huge revision cannot stall a watcher forever.
   * @returns false when refused
   */
  pushEvents(revision: number, events: WatchEvent[], bounded: boolean): boolean {
    return this.pushRevision(queuedRevision(revision, events), bounded);
  }

  /**
   * Queues a revision group made by {@link queuedRevision}, possibly queued to other watchers too
   * (the consumer gets the same message object; nobody modifies it). Rules of {@link pushEvents}.
   * @returns false when refused
   */
  pushRevision(r: QueuedRevision, bounded: boolean): boolean {
    assert(this.state !== "ended", "watcher: events after the end");
    if (bounded && this.bytes > 0 && this.bytes + r.bytes > this.maxBufferBytes) return false;
    this.enqueue(r);
    return true;
  }

  /** Queues a progress notification; merged into a progress notification at the tail of the buffer. */
  pushProgress(revision: number, requested: boolean): void {
    if (this.state === "ended") return;
    const tail = this.queue[this.queue.length - 1];
    if (this.queue.length > this.head && tail?.msg.kind === "progress" && tail.msg.requested === requested) {
      tail.msg.revision = Math.max(tail.msg.revision, revision);
      return;
    }
    this.enqueue({ msg: { kind: "progress", revision, requested }, bytes: MESSAGE_OVERHEAD_BYTES });
  }

  /**
   * Ends the watcher with a final message (the hub has already stopped feeding it).
   * @param dropBuffered free the buffered messages (they are not delivered)
   */
  end(final: WatchMessage, dropBuffered: boolean): void {
    assert(this.state !== "ended", "watcher: ended twice");
    this.state = "ended";
    if (dropBuffered) {
      this.queue = [];
      this.head = 0;
      this.bytes = 0;
    }
    this.enqueue({ msg: final, bytes: MESSAGE_OVERHEAD_BYTES });
  }

  poll(): WatchMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.bytes -= item.bytes;
    const m = item.msg;
    if ((m.kind === "events" || m.kind === "progress") && m.revision > this.deliveredThrough) {
      this.deliveredThrough = m.revision;
    }
    if (this.state === "unsynced") this.host.refill(this);
    return m;
  }

  next(): Promise<WatchMessage | undefined> {
    assert(this.waiter === undefined, "watcher: next() while another next() waits");
    const m = this.poll();
    if (m !== undefined || this.state === "ended") return Promise.resolve(m);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  requestProgress(): void {
    if (this.state !== "ended") this.host.progressRequested(this);
  }

  onQueued(listener: (() => void) | undefined): void {
    this.listener = listener;
  }

  close(): void {
    if (this.state !== "ended") {
      this.host.closed(this); // while the state still says where the hub keeps it
      this.state = "ended";
    }
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    this.listener = undefined;
    this.wake(undefined);
  }

  private enqueue(item: Queued): void {
    this.queue.push(item);
    this.bytes += item.bytes;
    // Take the waiter before poll(): poll may refill, which enqueues again.
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w(this.poll());
    } else {
      this.listener?.();
    }
  }

  private wake(m: WatchMessage | undefined): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(m);
  }
}
