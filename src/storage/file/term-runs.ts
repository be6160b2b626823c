/**
 * The terms of a contiguous range of log entries, run-length encoded (terms change rarely, so a
 * WAL of millions of entries needs a few runs). Lets the file storage check appends and snapshots
 * against the stored log without keeping or re-reading entries.
 */
import { assert } from "../../util/assert.ts";

/** Terms of the stored entries [firstIndex, lastIndex]; empty when lastIndex === 0. */
export class TermRuns {
  /** Start index of each run, ascending; starts[0] === firstIndex when non-empty. */
  #starts: number[] = [];
  #terms: number[] = [];
  #last = 0;

  /** Index of the first entry, 0 when empty. */
  get firstIndex(): number {
    return this.#starts[0] ?? 0;
  }

  /** Index of the last entry, 0 when empty. */
  get lastIndex(): number {
    return this.#last;
  }

  /** Removes every entry. */
  clear(): void {
    this.#starts = [];
    this.#terms = [];
    this.#last = 0;
  }

  /** Appends the entry (index, term); index must be lastIndex + 1, or anything when empty. @throws AssertionError */
  push(index: number, term: number): void {
    if (this.#last === 0) {
      this.#starts.push(index);
      this.#terms.push(term);
    } else {
      assert(index === this.#last + 1, "term runs: push %s after %s", index, this.#last);
      if (this.#terms.at(-1) !== term) {
        this.#starts.push(index);
        this.#terms.push(term);
      }
    }
    this.#last = index;
  }

  /** Removes entries with index >= `index` (a conflicting suffix, Raft §5.3). */
  truncateFrom(index: number): void {
    if (this.#last === 0 || index > this.#last) return;
    if (index <= this.firstIndex) {
      this.clear();
      return;
    }
    while (this.#starts.length > 0 && this.#starts.at(-1)! >= index) {
      this.#starts.pop();
      this.#terms.pop();
    }
    this.#last = index - 1;
  }

  /** Removes entries with index <= `index` (compaction). */
  dropThrough(index: number): void {
    if (this.#last === 0 || index < this.firstIndex) return;
    if (index >= this.#last) {
      this.clear();
      return;
    }
    const k = this.#runOf(index + 1);
    this.#starts = this.#starts.slice(k);
    this.#terms = this.#terms.slice(k);
    this.#starts[0] = index + 1;
  }

  /** Term of the entry at `index`, or undefined when it is not in the range. */
  termAt(index: number): number | undefined {
    if (this.#last === 0 || index < this.firstIndex || index > this.#last) return undefined;
    return this.#terms[this.#runOf(index)];
  }

  /** Number of runs (for tests of the encoding). */
  get runCount(): number {
    return this.#starts.length;
  }

  /** Position of the run holding `index` (which must be in range): binary search. */
  #runOf(index: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
