/**
 * Bookkeeping of requests waiting on the apply loop: proposals waiting for their entry to be
 * applied (matched by sequence number), and reads waiting for the applied index to reach a value.
 * Every wait has a deadline so that nothing waits forever (REQUEST_TIMEOUT_MS).
 */
import { CairnError } from "../util/errors.ts";

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  /** performance.now() at which the wait times out, in ms. */
  deadlineMs: number;
  timeoutMessage: string;
}

/**
 * How often waits are checked for their deadline, in ms: a wait times out up to this much after its
 * deadline. One sweep timer instead of a timer per wait keeps a request from allocating a Timeout.
 */
export const WAIT_SWEEP_INTERVAL_MS = 100;

/**
 * Waiters keyed by an id (proposal sequence number). `wait` rejects with CairnError("timeout")
 * once `timeoutMs` ms have passed (checked every WAIT_SWEEP_INTERVAL_MS).
 */
export class WaitRegistry<T> {
  private readonly pending = new Map<number, Pending<T>>();
  /** Runs while any wait is pending (so, like a per-wait timer, it keeps the process alive). */
  private sweepTimer: NodeJS.Timeout | null = null;

  get size(): number {
    return this.pending.size;
  }

  /** Registers a waiter for `id` (ids are unique: a second wait on an id would replace the first). */
  wait(id: number, timeoutMs: number, timeoutMessage: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadlineMs: performance.now() + timeoutMs, timeoutMessage });
      this.sweepTimer ??= setInterval(() => this.sweep(), WAIT_SWEEP_INTERVAL_MS);
    });
  }

  /** Rejects every wait past its deadline; stops the sweep timer when none is left. */
  private sweep(): void {
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (p.deadlineMs > now) continue;
      this.pending.delete(id);
      p.reject(new CairnError("timeout", p.timeoutMessage));
    }
    if (this.pending.size === 0 && this.sweepTimer !== null) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  has(id: number): boolean {
    return this.pending.has(id);
  }

  /** Resolves the waiter of `id`, if any. */
  resolve(id: number, value: T): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.resolve(value);
  }

  /** Rejects the waiter of `id`, if any. */
  reject(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(err);
  }

  /** Rejects every waiter with `err` (leader lost, node stopping). */
  rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.reject(id, err);
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** True while the sweep timer runs (for tests). */
  get sweeping(): boolean {
    return this.sweepTimer !== null;
  }
}

/** Waiters for "applied index >= n", resolved in index order as the apply loop advances. */
export class AppliedIndexWaiters {
  private waiters: { index: number; resolve: () => void }[] = [];

  /** Calls `resolve` at once if `appliedIndex >= index`, else when `advance` reaches it. */
  waitFor(index: number, appliedIndex: number, resolve: () => void): void {
    if (appliedIndex >= index) resolve();
    else this.waiters.push({ index, resolve });
  }

  /** Called after entries are applied up to `appliedIndex`. */
  advance(appliedIndex: number): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.index <= appliedIndex) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
