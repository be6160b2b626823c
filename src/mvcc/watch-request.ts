/**
 * What one watcher asks for (etcd WatchCreateRequest, api/etcdserverpb/rpc.proto) and which
 * events of a revision it therefore gets: keys in its interval, minus filtered types, with or
 * without prev_kv.
 */
import { invalidArgument } from "../util/errors.ts";
import { MAX_KEY_BYTES } from "../util/limits.ts";
import { intervalContains, type KeyInterval, keyInterval, keyString } from "./keys.ts";
import type { WatchEvent } from "./types.ts";

/** etcd WatchCreateRequest.FilterType: NOPUT drops put events, NODELETE drops delete events. */
export type WatchFilter = "NOPUT" | "NODELETE";

/**
 * A watch (etcd WatchCreateRequest). Key rules as a range: `rangeEnd` absent/empty = the key
 * alone; [0x00] = every key >= `key`; otherwise [key, rangeEnd) (a prefix: rangeEnd =
 * prefixEnd(key), see keys.ts).
 */
export interface WatchRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /**
   * First revision wanted. 0 or absent: from now (the member's next revision). Otherwise
   * history from it is replayed first; it must be above the compact revision.
   */
  startRevision?: number;
  /** Send each event's prevKv (the key before the change). */
  prevKv?: boolean;
  filters?: readonly WatchFilter[];
  /** Periodic progress notifications while no events are sent (etcd progress_notify). */
  progressNotify?: boolean;
}

/**
 * Checks a WatchRequest.
 * @throws CairnError "invalid_argument" on an empty key without range end, a key over
 *   MAX_KEY_BYTES, a start revision that is not a non-negative safe integer, or an unknown filter
 */
export function validateWatchRequest(req: WatchRequest): void {
  if (!(req.key instanceof Uint8Array)) throw invalidArgument("watch: key must be bytes");
  const hasEnd = req.rangeEnd !== undefined && req.rangeEnd.length > 0;
  if (req.key.length === 0 && !hasEnd) throw invalidArgument("watch: key is not provided");
  if (req.key.length > MAX_KEY_BYTES || (req.rangeEnd?.length ?? 0) > MAX_KEY_BYTES) {
    throw invalidArgument(`watch: key and range_end are at most ${MAX_KEY_BYTES} bytes`);
  }
  const start = req.startRevision ?? 0;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw invalidArgument("watch: start_revision must be a non-negative integer");
  }
  for (const f of req.filters ?? []) {
    if (f !== "NOPUT" && f !== "NODELETE") throw invalidArgument(`watch: unknown filter ${String(f)}`);
  }
}

/** The events one watcher wants, decided per event (see module comment). */
export class WatchSelector {
  /** The watched keys as a key interval (binary strings, keys.ts). */
  readonly interval: KeyInterval;
  /** True when the watch is on one key (looked up by key string in the hub). */
  readonly singleKey: boolean;
  private readonly puts: boolean;
  private readonly deletes: boolean;
  private readonly prevKv: boolean;

  /** @param req a request already checked by {@link validateWatchRequest} */
  constructor(req: WatchRequest) {
    this.interval = keyInterval(req.key, req.rangeEnd);
    this.singleKey = this.interval.end === undefined;
    this.puts = !req.filters?.includes("NOPUT");
    this.deletes = !req.filters?.includes("NODELETE");
    this.prevKv = req.prevKv === true;
  }

  /** The single watched key's binary string (only when `singleKey`). */
  get key(): string {
    return this.interval.start;
  }

  /** True when the key with binary string `k` is watched. */
  matchesKey(k: string): boolean {
    return intervalContains(this.interval, k);
  }

  /**
   * The events of one revision this watcher gets, in order: filtered by type and, when `keys` is
   * given (live events of any keys), by key; prevKv removed unless asked for.
   * @param keys binary strings of the events' keys (same order), or undefined when every event is
   *   already inside the interval (history replay)
   */
  select(events: readonly WatchEvent[], keys?: readonly string[]): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === "PUT" ? !this.puts : !this.deletes) continue;
      if (keys !== undefined && !this.matchesKey(keys[i] ?? keyString(e.kv.key))) continue;
      out.push(this.prevKv || e.prevKv === undefined ? e : { type: e.type, kv: e.kv });
    }
    return out;
  }
}
