/**
 * Automatic compaction (etcd --auto-compaction-mode / --auto-compaction-retention, etcd
 * server/etcdserver/api/v3compactor), as step machines driven by the node's clock: the node calls
 * `poll(nowMs, revision, isLeader)` on every tick and proposes a compaction to the revision it
 * returns, then reports the outcome with `finished`. Only the leader compacts (etcd pauses the
 * compactor on followers); followers keep sampling revisions so a new leader can compact at once.
 * A compaction that fails with "compacted" (someone compacted further already) counts as done.
 *
 * Pure: no timers and no clock reads, so tests drive time.
 */
import { AUTO_COMPACTION_MAX_INTERVAL_MS, AUTO_COMPACTION_REVISION_INTERVAL_MS } from "../util/limits.ts";

/**
 * Settings of automatic compaction.
 * - periodic: keep about `retentionMs` of history (etcd periodic.go).
 * - revision: keep the last `retention` revisions (etcd revision.go).
 */
export type AutoCompaction =
  | { mode: "periodic"; retentionMs: number }
  | { mode: "revision"; retention: number };

/** A compactor: what to compact and when. */
export interface Compactor {
  /**
   * Advances to `nowMs`.
   * @param revision the member's current store revision
   * @param isLeader whether this member leads (only the leader compacts)
   * @returns a revision to compact to now, or undefined
   */
  poll(nowMs: number, revision: number, isLeader: boolean): number | undefined;
  /** The compaction returned by the last poll ended: `ok` when it succeeded or was already done. */
  finished(nowMs: number, ok: boolean): void;
}

/**
 * etcd's periodic compactor (3.4 periodic.go). With period P (the retention): the compaction
 * interval is C = min(P, 1 h), revisions are sampled every C/10, and the newest P/(C/10) + 1
 * samples are kept, so the oldest is the revision of about P ago. The first compaction happens P
 * after start, later ones every C after the last success, each to the oldest sample. E.g. P = 1 h:
 * sample every 6 min, compact every hour to the revision of an hour ago; P = 10 min: sample every
 * minute, compact every 10 min; P = 24 h: compact every hour, keeping 24 h of history.
 */
export class PeriodicCompactor implements Compactor {
  private readonly compactIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly retentions: number;
  private readonly revs: number[];
  private lastSuccessMs: number;
  private baseIntervalMs: number;
  private nextWakeMs: number;
  private inFlight = false;

  /**
   * @param periodMs the retention P in ms (> 0)
   * @param startMs the clock when the member started
   * @param startRevision its revision then
   */
  constructor(
    private readonly periodMs: number,
    startMs: number,
    startRevision: number,
  ) {
    this.compactIntervalMs = Math.min(periodMs, AUTO_COMPACTION_MAX_INTERVAL_MS);
    this.retryIntervalMs = Math.max(1, Math.floor(this.compactIntervalMs / 10));
    this.retentions = Math.floor(periodMs / this.retryIntervalMs) + 1;
    this.revs = [startRevision];
    this.lastSuccessMs = startMs;
    this.baseIntervalMs = periodMs;
    this.nextWakeMs = startMs + this.retryIntervalMs;
  }

  poll(nowMs: number, revision: number, isLeader: boolean): number | undefined {
    if (this.inFlight || nowMs < this.nextWakeMs) return undefined;
    this.nextWakeMs = nowMs + this.retryIntervalMs;
    let target: number | undefined;
    if (isLeader && nowMs - this.lastSuccessMs >= this.baseIntervalMs) {
      // After the first wait of a whole period, compact every compaction interval.
      if (this.baseIntervalMs === this.periodMs) this.baseIntervalMs = this.compactIntervalMs;
      target = this.revs[0];
      this.inFlight = true;
    }
    this.revs.push(revision);
    if (this.revs.length > this.retentions) this.revs.shift(); // revs[0]: the revision of ~P ago
    return target;
  }

  finished(nowMs: number, ok: boolean): void {
    this.inFlight = false;
    if (ok) this.lastSuccessMs = nowMs;
  }
}

/**
 * etcd's revision compactor (revision.go): every 5 minutes, compact to (current revision -
 * retention) when that is positive and differs from the last compaction done.
 */
export class RevisionCompactor implements Compactor {
  private nextWakeMs: number;
  private lastTarget = 0;
  private pending = 0;

  /**
   * @param retention revisions to keep (> 0)
   * @param startMs the clock when the member started
   * @param intervalMs time between checks (etcd: 5 min)
   */
  constructor(
    private readonly retention: number,
    startMs: number,
    private readonly intervalMs = AUTO_COMPACTION_REVISION_INTERVAL_MS,
  ) {
    this.nextWakeMs = startMs + intervalMs;
  }

  poll(nowMs: number, revision: number, isLeader: boolean): number | undefined {
    if (this.pending !== 0 || nowMs < this.nextWakeMs) return undefined;
    this.nextWakeMs = nowMs + this.intervalMs;
    if (!isLeader) return undefined;
    const target = revision - this.retention;
    if (target <= 0 || target === this.lastTarget) return undefined;
    this.pending = target;
    return target;
  }

  finished(_nowMs: number, ok: boolean): void {
    if (ok) this.lastTarget = this.pending;
    this.pending = 0;
  }
}

/** The compactor of `config` (see {@link AutoCompaction}), starting at `startMs` with `startRevision`. */
export function createCompactor(config: AutoCompaction, startMs: number, startRevision: number): Compactor {
  return config.mode === "periodic"
    ? new PeriodicCompactor(config.retentionMs, startMs, startRevision)
    : new RevisionCompactor(config.retention, startMs);
}
