/**
 * Requests waiting on a simulated member's apply loop (src/server/waiters.ts WaitRegistry on the
 * simulated clock): proposals keyed by their sequence number, each with a deadline after which it
 * fails with CairnError("timeout").
 */
import { CairnError } from "../../../src/util/errors.ts";
import type { Scheduler } from "./scheduler.ts";

/** What a waiting request is told. */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

/** Proposals waiting for their entry to be applied on this member. */
export class SimWaitRegistry<T> {
  private readonly pending = new Map<number, Waiter<T>>();

  constructor(
    private readonly sched: Scheduler,
    private readonly alive: () => boolean,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers `w` for `id`; it is rejected with "timeout" after `timeoutMs` unless settled before. */
  wait(id: number, w: Waiter<T>, timeoutMs: number, timeoutMessage: string): void {
    this.pending.set(id, w);
    this.sched.after(timeoutMs, () => {
      if (!this.alive() || this.pending.get(id) !== w) return;
      this.pending.delete(id);
      w.reject(new CairnError("timeout", timeoutMessage));
    });
  }

  resolve(id: number, value: T): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    w.resolve(value);
  }

  reject(id: number, err: Error): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    w.reject(err);
  }

  rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.reject(id, err);
  }

  /** Forgets every waiter without telling it (the process died). */
  clear(): void {
    this.pending.clear();
  }
}
