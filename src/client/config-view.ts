/**
 * watchConfig: a local materialized view of a prefix for hot reload (the config-center use of
 * etcd: read once, then follow the changes). The view is the map key → value (UTF-8 text) of
 * every key under the prefix:
 * 1. read the prefix (linearizable) at revision R;
 * 2. watch the prefix from R + 1 (resumed across reconnects by the watch itself);
 * 3. when the watch ends with "compacted" (it fell behind the compaction, e.g. after a long
 *    partition), read the prefix again and report only the keys that differ, then continue from
 *    the new read's revision + 1.
 * The listener runs after the first read (every key counts as changed), after each revision that
 * changed a key, and after a reload that changed something; it is awaited when it returns a
 * promise, and the view does not move meanwhile.
 */
import type { CairnClient } from "./client.ts";
import { deferred, onAbortUntil } from "./deferred.ts";
import { isClientError } from "./errors.ts";
import { sleep } from "./transport.ts";
import type { RangeResult } from "./types.ts";
import type { Watch } from "./watch.ts";

/** Why the listener is called. */
export interface ConfigChangeInfo {
  /** Store revision the view reflects now. */
  revision: number;
  /** "initial": the first read; "watch": one watched revision; "reload": a re-read after compaction. */
  cause: "initial" | "watch" | "reload";
}

/**
 * Called with the whole view (live: it changes after the call returns; copy it to keep a
 * snapshot), the keys that changed (added, changed or removed), and why.
 */
export type ConfigListener = (
  view: ReadonlyMap<string, string>,
  changed: string[],
  info: ConfigChangeInfo,
) => void | Promise<void>;

/** Options of watchConfig. */
export interface ConfigViewOptions {
  /** Stops the view when aborted. */
  signal?: AbortSignal;
  /** Errors thrown by the listener (the view goes on). Default: ignored. */
  onError?: (err: unknown) => void;
}

/** A live view of a prefix. */
export class ConfigView {
  /** Store revision the view reflects (0 before the first read). */
  revision = 0;
  /** Reloads forced by compaction so far. */
  reloads = 0;
  /** Resolves after the first read and its listener call; rejects if the view ends first. */
  readonly ready: Promise<void>;
  /** Resolves when the view stopped (close, signal, client closed, or a non-retryable error). */
  readonly done: Promise<{ error?: unknown }>;
  private readonly map = new Map<string, string>();
  private readonly stop = new AbortController();
  private watch: Watch | undefined;
  private readonly readyD = deferred<void>();
  private readonly doneD = deferred<{ error?: unknown }>();
  private readonly untrack: () => void;

  /** @internal use CairnClient.watchConfig */
  constructor(
    private readonly client: CairnClient,
    readonly prefix: string,
    private readonly onChange: ConfigListener,
    private readonly opts: ConfigViewOptions,
  ) {
    this.ready = this.readyD.promise;
    this.ready.catch(() => {});
    this.done = this.doneD.promise;
    this.untrack = client.track(() => this.close());
    if (onAbortUntil(opts.signal, this.done, () => this.close())) this.stop.abort();
    void this.run();
  }

  /** The view: key → value of every key under the prefix. */
  get view(): ReadonlyMap<string, string> {
    return this.map;
  }

  /** Stops following changes. Idempotent. */
  close(): void {
    this.stop.abort();
    this.watch?.cancel();
  }

  private async notify(changed: string[], info: ConfigChangeInfo): Promise<void> {
    try {
      await this.onChange(this.map, changed, info);
    } catch (err) {
      try {
        this.opts.onError?.(err);
      } catch {
        // nothing more to do
      }
    }
  }

  private finish(r: { error?: unknown }): void {
    this.untrack();
    this.readyD.reject(r.error ?? new Error("the config view was closed before its first read"));
    this.doneD.resolve(r);
  }

  private async run(): Promise<void> {
    let failures = 0;
    let first = true;
    while (!this.stop.signal.aborted) {
      let r: RangeResult;
      try {
        r = await this.client.getPrefix(this.prefix);
      } catch (err) {
        if (this.stop.signal.aborted || isClientError(err, "closed")) break;
        if (isClientError(err) && (err.retryable || err.code === "unavailable")) {
          await sleep(this.client.transport.backoff.delayMs(failures++), this.stop.signal).catch(() => {});
          continue;
        }
        this.finish({ error: err });
        return;
      }
      failures = 0;
      if (r.more) {
        this.finish({
          error: new Error(`watchConfig: prefix ${this.prefix} holds more keys than one read returns`),
        });
        return;
      }
      const next = new Map(r.kvs.map((kv) => [kv.key, kv.value]));
      const changed = first ? [...next.keys()] : diff(this.map, next);
      this.map.clear();
      for (const [k, v] of next) this.map.set(k, v);
      this.revision = r.revision;
      if (first || changed.length > 0) {
        await this.notify(changed, { revision: r.revision, cause: first ? "initial" : "reload" });
      }
      if (first) this.readyD.resolve();
      first = false;
      if (this.stop.signal.aborted) break;
      const w = this.client.openWatch(
        this.prefix,
        { prefix: true, startRevision: r.revision + 1, signal: this.stop.signal },
        async (revision, events) => {
          const keys = new Set<string>();
          for (const e of events) {
            if (e.type === "put") this.map.set(e.kv.key, e.kv.value);
            else this.map.delete(e.kv.key);
            keys.add(e.kv.key);
          }
          this.revision = revision;
          await this.notify([...keys], { revision, cause: "watch" });
        },
      );
      this.watch = w;
      const end = await w.done;
      if (end.reason === "compacted") {
        this.reloads++;
        continue;
      }
      if (end.reason === "error") {
        this.finish({ error: end.error });
        return;
      }
      break;
    }
    this.finish({});
  }
}

/** Keys added, removed or changed from `before` to `after`, in key order. */
function diff(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out = new Set<string>();
  for (const [k, v] of after) if (before.get(k) !== v) out.add(k);
  for (const k of before.keys()) if (!after.has(k)) out.add(k);
  return [...out].sort();
}
