/**
 * A slab allocator for small byte arrays that are kept for about the same time and released in
 * about the order they were made, such as the data of Raft log entries a leader appends (kept
 * until the log is compacted past them).
 *
 * Why: every `new Uint8Array(n)` over 64 bytes is an ArrayBuffer of its own, and V8 sweeps the
 * young ones one by one in each scavenge pause (Node 20: the pause's
 * `scavenge.sweep_array_buffers` phase in `--trace-gc-nvp`). Carving many arrays out of one
 * slab makes one ArrayBuffer of many. The cost: a slab stays in memory while any array carved
 * from it is referenced, so arrays with mixed lifetimes must not share one (that is why this is
 * not Node's Buffer pool, which transient buffers share).
 */
import { assert } from "./assert.ts";

/** Slab size when none is given: 64 KiB. */
export const DEFAULT_SLAB_BYTES = 64 * 1024;

/**
 * Hands out zero-filled byte arrays carved from consecutive slabs of `slabBytes` (never reused: a
 * slab is dropped, not recycled, once it is full, and the GC frees it with its last view).
 */
export class ByteSlab {
  #slab: Uint8Array;
  #used = 0;

  /**
   * @param slabBytes size of each slab in bytes; requests over a quarter of it get an array of
   *   their own, so a slab is never mostly wasted on its tail
   */
  constructor(readonly slabBytes: number = DEFAULT_SLAB_BYTES) {
    assert(Number.isSafeInteger(slabBytes) && slabBytes >= 64, "slabBytes must be an integer >= 64");
    this.#slab = new Uint8Array(slabBytes);
  }

  /**
   * A zero-filled plain Uint8Array of `n` bytes: a view into the current slab (a new slab when
   * the current one has no room), or an array of its own when `n` is over a quarter of a slab.
   * Views are aligned to 8 bytes.
   * @throws AssertionError when `n` is not a non-negative integer
   */
  alloc(n: number): Uint8Array {
    assert(Number.isSafeInteger(n) && n >= 0, "alloc size must be a non-negative integer");
    if (n > this.slabBytes >>> 2) return new Uint8Array(n);
    if (this.#used + n > this.slabBytes) {
      this.#slab = new Uint8Array(this.slabBytes);
      this.#used = 0;
    }
    const out = this.#slab.subarray(this.#used, this.#used + n);
    this.#used = (this.#used + n + 7) & ~7;
    return out;
  }
}
