/**
 * Where a WAL append's fdatasync runs: on the member's own thread, or in libuv's thread pool.
 *
 * Node.js runs `fs.fdatasync` in the thread pool: a worker thread makes the system call, then
 * wakes the event loop to run the callback. On a busy machine each of those wake-ups can wait for
 * a CPU. Measured on the 2-core benchmark machine, three members and the load generator, puts
 * from one client: the fdatasync system calls themselves (`perf trace`) took 0.27 ms at the
 * median and 0.85–0.89 ms at p99 (etcd's, in the same run: 0.34 and 1.04–1.10 ms), but 2–3% of
 * the callbacks came more than 1 ms after the call; in a trace of the slowest puts, the members'
 * appends had mostly waited that long. Syncing inline moved put p99 at one client from 3.56 to
 * 3.13 ms and from 4.00 to 3.63 ms in two interleaved runs (etcd: 2.88 and 3.55 ms), with
 * throughput and p99 at 64 clients unchanged.
 *
 * So a small append (a lone put, ≤ INLINE_SYNC_MAX_BYTES) waits for fdatasync on the member's
 * own thread, after the I/O already queued in this turn of the event loop (the Raft messages to
 * the followers) has gone out. That blocks the event loop for the duration of the call, which
 * is why it is done only for small appends, which come when the member is lightly loaded (under
 * load, appends are batches of many entries and keep the thread pool), and only while the recent
 * fdatasyncs of this disk were fast (mean ≤ INLINE_SYNC_MAX_MEAN_MS): a slow disk never stalls
 * the loop for long.
 */

/** Largest append (bytes of WAL records) whose fdatasync may run inline: about two small puts. */
export const INLINE_SYNC_MAX_BYTES = 1024;

/** Inline fdatasync only while the running mean of recent ones is at most this, in ms. */
export const INLINE_SYNC_MAX_MEAN_MS = 1;

/** Weight of the newest duration in the running mean (an exponentially weighted moving average). */
const MEAN_WEIGHT = 0.05;

/** Chooses inline or thread-pool fdatasync for each append, from its size and the disk's recent speed. */
export class SyncPlacement {
  /** Running mean of fdatasync durations in ms (inline ones and, as the callback saw them, pooled ones). */
  #meanMs = 0;

  /** The running mean of recent fdatasync durations, in ms. */
  get meanMs(): number {
    return this.#meanMs;
  }

  /** Whether the fdatasync after an append of `bytes` bytes runs on the member's own thread. */
  inline(bytes: number): boolean {
    return bytes <= INLINE_SYNC_MAX_BYTES && this.#meanMs <= INLINE_SYNC_MAX_MEAN_MS;
  }

  /** Records how long one fdatasync took, in ms. */
  observe(durationMs: number): void {
    this.#meanMs += (durationMs - this.#meanMs) * MEAN_WEIGHT;
  }
}
