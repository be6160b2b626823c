/**
 * A watch over GET /v1/watch (Server-Sent Events) that survives reconnects, endpoint failover and
 * leader changes with no missed and no duplicated events:
 * - every SSE `id` is a revision through which everything was sent (the created event's id is the
 *   start revision - 1, each message's id its revision, each progress event's id the revision it
 *   vouches for); the watch remembers the highest (`revision`);
 * - a reconnect (to the same or the next endpoint) sends `Last-Event-ID: <revision>`, so the
 *   member replays history from revision + 1 (any member: every member applies the same log, and
 *   one that is behind waits for the revisions it has not applied yet);
 * - a message at or below `revision` is dropped (dedupe by revision), so nothing is delivered
 *   twice even if a member resends;
 * - `progress_notify=true` is always asked for, so a quiet watch's position keeps up with the
 *   store and a reconnect after a compaction does not fail needlessly;
 * - a connection is given up when no byte (event or heartbeat comment) arrives for
 *   `idleTimeoutMs`, or when the stream ends without a final event; the next attempt goes to the
 *   next endpoint after a back-off (reset once a stream opens);
 * - a `compacted` final event (or a 410 answer) ends the watch with a {@link CompactedError}
 *   carrying the compact revision: reload, then watch from the reload's revision + 1 (etcd's
 *   contract; watchConfig does it for you). A `cancelled` final event (slow reader, member
 *   stopping) is resumed like a lost connection.
 */

import { deferred, onAbortUntil } from "./deferred.ts";
import { CairnClientError, CompactedError } from "./errors.ts";
import { type SseEvent, SseParser } from "./sse.ts";
import { errorFromAnswer, type HttpRequest, sleep, type Transport } from "./transport.ts";
import { decodeKv, type KeyValue, num, obj } from "./types.ts";

/** etcd's watch filters: drop put events, drop delete events. */
export type WatchFilter = "noput" | "nodelete";

/** Options of {@link CairnClient.watch}. */
export interface WatchOptions {
  /** Watch every key starting with `key` (`key` "" = every key). */
  prefix?: boolean;
  /** Watch [key, rangeEnd) instead (not with prefix). */
  rangeEnd?: string;
  /**
   * First revision to deliver; history from it is replayed first (it must not be compacted).
   * Absent or 0: from the store's next revision when the watch is created (see `ready`).
   */
  startRevision?: number;
  /** Include each event's previous key-value (`prevKv`). */
  prevKv?: boolean;
  filters?: WatchFilter[];
  /** Cancels the watch when aborted. */
  signal?: AbortSignal;
}

/** One change of one key. */
export interface WatchEvent {
  type: "put" | "delete";
  /** Revision of the change (equal to kv.modRevision). */
  revision: number;
  /** The key after the change; for a delete only the key and modRevision are meaningful. */
  kv: KeyValue;
  /** The key before the change, when `prevKv` was asked for and the key existed. */
  prevKv?: KeyValue;
}

/** Final notice of a watch whose history was compacted. */
export interface WatchCompactedNotice {
  type: "compacted";
  /** History at or below this revision is gone; reload and watch from the reload's revision + 1. */
  compactRevision: number;
  error: CompactedError;
}

/** What a watch callback receives: events, and at most one final compacted notice. */
export type WatchNotice = WatchEvent | WatchCompactedNotice;

/** How a watch ended (the value of {@link Watch.done}). */
export type WatchEnd =
  | { reason: "cancelled" }
  | { reason: "compacted"; compactRevision: number; error: CompactedError }
  | { reason: "error"; error: unknown };

/** Receives each revision's events, in revision order, each revision once. */
export type WatchSink = (revision: number, events: WatchEvent[]) => void | Promise<void>;

/** Default {@link Watch} idle timeout: three of the server's default 5 s heartbeats. */
export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 15_000;

/** Events buffered for an async iterator before the stream is paused. */
const ITERATOR_HIGH_WATER = 1_024;

/** A user callback threw: the watch ends with its error. */
class SinkError {
  constructor(readonly error: unknown) {}
}

type Outcome = { kind: "end"; end: WatchEnd } | { kind: "retry"; progressed: boolean };

/**
 * A running watch. Either give a callback to {@link CairnClient.watch}, or iterate it
 * (`for await (const ev of watch)`), not both. The iterator throws {@link CompactedError} when the
 * history was compacted and the error of a watch that failed; it ends after cancel().
 */
export class Watch implements AsyncIterable<WatchEvent> {
  /** Resolves once the first stream is open (the start revision is fixed); rejects if the watch ends first. */
  readonly ready: Promise<void>;
  /** Resolves (never rejects) when the watch ends, with why. */
  readonly done: Promise<WatchEnd>;
  /** Streams opened so far (1 + reconnects). */
  connections = 0;
  private lastSeen: number | undefined;
  private cancelled = false;
  private conn: AbortController | undefined;
  private readonly stop = new AbortController();
  private readonly readyD = deferred<void>();
  private readonly doneD = deferred<WatchEnd>();
  private readonly path: string;
  private sink: WatchSink;
  private readonly hasSink: boolean;
  // async iterator state
  private iterating = false;
  private readonly queue: WatchEvent[] = [];
  private ended: WatchEnd | undefined;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  /**
   * @param sink called for every revision's events, or undefined to use the async iterator
   * @param onEnd called once with how the watch ended, before `done` resolves
   * @internal use CairnClient.watch
   */
  constructor(
    private readonly transport: Transport,
    key: string,
    opts: WatchOptions,
    sink: WatchSink | undefined,
    private readonly idleTimeoutMs: number,
    private readonly onEnd?: (end: WatchEnd) => void,
  ) {
    if (opts.prefix && opts.rangeEnd !== undefined) {
      throw new CairnClientError("invalid_argument", "watch: use prefix or rangeEnd, not both");
    }
    if (key === "" && !opts.prefix && opts.rangeEnd === undefined) {
      throw new CairnClientError("invalid_argument", "watch: key is required");
    }
    const q = new URLSearchParams({ key });
    if (opts.prefix) q.set("prefix", "true");
    if (opts.rangeEnd !== undefined) q.set("range_end", opts.rangeEnd);
    if (opts.startRevision) q.set("start_revision", String(opts.startRevision));
    if (opts.prevKv) q.set("prev_kv", "true");
    if (opts.filters?.length) q.set("filters", opts.filters.join(","));
    q.set("progress_notify", "true");
    this.path = `/v1/watch?${q.toString()}`;
    if (opts.startRevision) this.lastSeen = opts.startRevision - 1;
    this.hasSink = sink !== undefined;
    this.sink = sink ?? ((_rev, events) => this.enqueue(events));
    this.ready = this.readyD.promise;
    this.ready.catch(() => {});
    this.done = this.doneD.promise;
    if (onAbortUntil(opts.signal, this.done, () => this.cancel())) this.cancelled = true;
    void this.run();
  }

  /** The revision through which every event was delivered (0 before the watch is ready). */
  get revision(): number {
    return this.lastSeen ?? 0;
  }

  /** Stops the watch; `done` resolves with reason "cancelled". Idempotent. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.conn?.abort();
    this.stop.abort();
    this.wakeWriter?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.iterating || this.hasSink) {
      throw new CairnClientError(
        "invalid_argument",
        "a watch has one consumer: its callback or one iterator",
      );
    }
    this.iterating = true;
    return {
      next: async (): Promise<IteratorResult<WatchEvent>> => {
        for (;;) {
          const ev = this.queue.shift();
          if (ev !== undefined) {
            if (this.queue.length < ITERATOR_HIGH_WATER / 2) this.wakeWriter?.();
            return { value: ev, done: false };
          }
          const end = this.ended;
          if (end !== undefined) {
            if (end.reason === "compacted") throw end.error;
            if (end.reason === "error") throw end.error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            this.wakeReader = resolve;
          });
          this.wakeReader = undefined;
        }
      },
      return: async (): Promise<IteratorResult<WatchEvent>> => {
        this.cancel();
        return { value: undefined, done: true };
      },
    };
  }

  private async enqueue(events: WatchEvent[]): Promise<void> {
    this.queue.push(...events);
    this.wakeReader?.();
    while (this.queue.length >= ITERATOR_HIGH_WATER && !this.cancelled) {
      await new Promise<void>((resolve) => {
        this.wakeWriter = resolve;
      });
      this.wakeWriter = undefined;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let end: WatchEnd | undefined;
    while (end === undefined) {
      if (this.cancelled || this.transport.isClosed) {
        end = { reason: "cancelled" };
        break;
      }
      const endpoint = this.transport.currentEndpoint();
      const outcome = await this.connect(endpoint);
      if (outcome.kind === "end") {
        end = outcome.end;
        break;
      }
      if (this.cancelled || this.transport.isClosed) continue;
      if (outcome.progressed) failures = 0;
      this.transport.markFailed(endpoint);
      try {
        await sleep(
          this.transport.backoff.delayMs(failures++),
          AbortSignal.any([this.stop.signal, this.transport.closing.signal]),
        );
      } catch {
        // cancelled or closed: the loop ends above
      }
    }
    this.ended = end;
    this.readyD.reject(
      end.reason === "cancelled" ? new CairnClientError("closed", "the watch was cancelled") : end.error,
    );
    this.wakeReader?.();
    this.onEnd?.(end);
    this.doneD.resolve(end);
  }

  /** One stream: open it, read it until it fails or ends. */
  private async connect(endpoint: string): Promise<Outcome> {
    const ac = new AbortController();
    this.conn = ac;
    if (this.cancelled) ac.abort();
    const signal = AbortSignal.any([ac.signal, this.transport.closing.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(
      () => ac.abort(),
      this.transport.requestTimeoutMs,
    );
    const idle = {
      pause: () => {
        clearTimeout(timer);
        timer = undefined;
      },
      reset: () => {
        clearTimeout(timer);
        timer = setTimeout(() => ac.abort(), this.idleTimeoutMs);
      },
    };
    let progressed = false;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (this.lastSeen !== undefined) headers["last-event-id"] = String(this.lastSeen);
      const req: Omit<HttpRequest, "idempotent" | "what"> = { method: "GET", path: this.path, headers };
      const res = await this.transport.open(endpoint, req, signal);
      if (!res.ok) {
        const err = errorFromAnswer(res.status, new Uint8Array(await res.arrayBuffer()), endpoint);
        if (err instanceof CompactedError) {
          return this.compacted(err.compactRevision, err.message, endpoint);
        }
        if (err.retryable || err.code === "unavailable") return { kind: "retry", progressed };
        return { kind: "end", end: { reason: "error", error: err } };
      }
      if (!res.body) return { kind: "retry", progressed };
      this.connections++;
      reader = res.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      idle.reset();
      for (;;) {
        const r = await reader.read();
        if (r.done) return { kind: "retry", progressed };
        idle.pause();
        for (const ev of parser.push(decoder.decode(r.value, { stream: true }))) {
          if (this.cancelled) break; // nothing is delivered after cancel()
          const o = await this.handle(ev, endpoint);
          if (o === "progress") progressed = true;
          else if (o === "resume") return { kind: "retry", progressed: true };
          else if (o !== undefined) return o;
        }
        if (this.cancelled) return { kind: "end", end: { reason: "cancelled" } };
        idle.reset();
      }
    } catch (err) {
      if (err instanceof SinkError) return { kind: "end", end: { reason: "error", error: err.error } };
      if (this.cancelled || this.transport.isClosed) return { kind: "end", end: { reason: "cancelled" } };
      return { kind: "retry", progressed };
    } finally {
      clearTimeout(timer);
      if (reader) reader.cancel().catch(() => {});
      ac.abort();
    }
  }

  private compacted(compactRevision: number, message: string, endpoint: string): Outcome {
    const error = new CompactedError(compactRevision, message, {
      endpoint,
      details: { compact_revision: compactRevision, revision: this.lastSeen ?? 0 },
    });
    return { kind: "end", end: { reason: "compacted", compactRevision, error } };
  }

  /**
   * Handles one SSE event.
   * @returns "progress" when the position moved, "resume" for a cancelled stream, an Outcome
   *   for a final event, undefined otherwise
   * @throws SinkError when the consumer threw
   */
  private async handle(ev: SseEvent, endpoint: string): Promise<"progress" | "resume" | Outcome | undefined> {
    switch (ev.event) {
      case "created": {
        const id = ev.id === undefined ? Number.NaN : Number(ev.id);
        if (Number.isSafeInteger(id)) this.lastSeen = Math.max(this.lastSeen ?? 0, id);
        else if (this.lastSeen === undefined) {
          const data = obj(JSON.parse(ev.data), "created");
          this.lastSeen = num(data, "start_revision") - 1;
        }
        this.readyD.resolve();
        return "progress";
      }
      case "message": {
        const data = obj(JSON.parse(ev.data), "watch message");
        const revision = num(data, "revision");
        if (this.lastSeen !== undefined && revision <= this.lastSeen) return undefined; // seen already
        const raw = Array.isArray(data.events) ? data.events : [];
        const events = raw.map((e): WatchEvent => {
          const o = obj(e, "event");
          const out: WatchEvent = {
            type: o.type === "DELETE" ? "delete" : "put",
            revision,
            kv: decodeKv(o.kv),
          };
          if (o.prev_kv !== undefined) out.prevKv = decodeKv(o.prev_kv);
          return out;
        });
        try {
          await this.sink(revision, events);
        } catch (err) {
          throw new SinkError(err);
        }
        this.lastSeen = revision;
        return "progress";
      }
      case "progress": {
        const revision = ev.id === undefined ? Number.NaN : Number(ev.id);
        if (Number.isSafeInteger(revision) && revision > (this.lastSeen ?? 0)) this.lastSeen = revision;
        return "progress";
      }
      case "compacted": {
        const data = obj(JSON.parse(ev.data), "compacted");
        const message =
          typeof data.message === "string" ? data.message : "required revision has been compacted";
        return this.compacted(num(data, "compact_revision"), message, endpoint);
      }
      case "cancelled":
        return "resume";
      default:
        return undefined;
    }
  }
}

/**
 * Adapts a per-event callback to a {@link WatchSink}: each event in order, awaiting a returned
 * promise before the next (back-pressure: the stream is not read meanwhile).
 */
export function eventSink(onEvent: (ev: WatchNotice) => void | Promise<void>): WatchSink {
  return async (_revision, events) => {
    for (const ev of events) {
      const r = onEvent(ev);
      if (r && typeof (r as Promise<void>).then === "function") await r;
    }
  };
}
