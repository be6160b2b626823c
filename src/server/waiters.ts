/**
 * Bookkeeping of requests waiting on the apply loop: proposals waiting for their entry to be
 * applied (matched by sequence number), and reads waiting for the applied index to reach a value.
 * Every wait has a deadline so that nothing waits forever (REQUEST_TIMEOUT_MS).
 */
import { CairnError } from "../util/errors.ts";

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Waiters keyed by an id (proposal sequence number). `wait` rejects with CairnError("timeout")
 * after `timeoutMs` ms.
 */
export class WaitRegistry<T> {
  private readonly pending = new Map<number, Pending<T>>();

  get size(): number {
    return this.pending.size;
  }

  /** Registers a waiter for `id`. @throws AssertionError-free: a second wait on the same id replaces nothing (ids are unique). */
  wait(id: number, timeoutMs: number, timeoutMessage: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CairnError("timeout", timeoutMessage));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  has(id: number): boolean {
    return this.pending.has(id);
  }

  /** Resolves the waiter of `id`, if any. */
  resolve(id: number, value: T): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(value);
  }

  /** Rejects the waiter of `id`, if any. */
  reject(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** Rejects every waiter with `err` (leader lost, node stopping). */
  rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.reject(id, err);
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
