/**
 * The discrete-event scheduler of the KV simulation: one simulated clock (integer milliseconds,
 * `nowMs`) and a queue of callbacks ordered by (time, order of scheduling). Nothing else moves
 * time: no timers, no Date.now(). Two events at the same time run in the order they were
 * scheduled, so a run is a pure function of its seed.
 *
 * Cancellation is left to the callbacks (they check the incarnation of what they act on), which
 * keeps the queue a plain binary heap.
 */

interface Event {
  atMs: number;
  seq: number;
  fn: () => void;
}

/** More events than this at one simulated time means something reschedules itself without delay. */
const MAX_EVENTS_AT_ONE_TIME = 100_000;

function before(a: Event, b: Event): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** A seeded run's clock and event queue. */
export class Scheduler {
  /** Simulated time in ms. Never decreases. */
  nowMs = 0;
  /** Events run so far. */
  eventsRun = 0;
  /** Events run at the current time (a livelock guard). */
  private eventsNow = 0;
  private readonly heap: Event[] = [];
  private seq = 0;

  /**
   * Called after every event (the cluster pumps Ready loops and checks invariants there).
   * @see Scheduler.run
   */
  afterEach: () => void = () => {};

  /** Runs `fn` at `atMs` (not earlier than now). */
  at(atMs: number, fn: () => void): void {
    const ev: Event = { atMs: Math.max(atMs, this.nowMs), seq: this.seq++, fn };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(ev, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = ev;
  }

  /** Runs `fn` `delayMs` from now. */
  after(delayMs: number, fn: () => void): void {
    this.at(this.nowMs + delayMs, fn);
  }

  /** Runs `fn` at the current time, after the events already due now (like a microtask). */
  soon(fn: () => void): void {
    this.at(this.nowMs, fn);
  }

  /** Number of queued events. */
  get size(): number {
    return this.heap.length;
  }

  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /**
   * Runs events until the clock would pass `endMs` or `until()` holds (checked after each event).
   * The clock ends at `endMs` when it ran out. Returns whether `until` held.
   */
  run(endMs: number, until?: () => boolean): boolean {
    for (;;) {
      if (until?.()) return true;
      const top = this.heap[0];
      if (top === undefined || top.atMs > endMs) {
        this.nowMs = Math.max(this.nowMs, endMs);
        return until?.() ?? false;
      }
      this.pop();
      if (top.atMs === this.nowMs) {
        if (++this.eventsNow > MAX_EVENTS_AT_ONE_TIME)
          throw new Error(`livelock: more than ${MAX_EVENTS_AT_ONE_TIME} events at t=${this.nowMs}ms`);
      } else this.eventsNow = 0;
      this.nowMs = top.atMs;
      this.eventsRun++;
      top.fn();
      this.afterEach();
    }
  }
}
