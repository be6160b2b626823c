/** TermRuns (src/storage/file/term-runs.ts) against a plain array of terms, on seeded random operations. */
import { describe, expect, it } from "vitest";
import { TermRuns } from "../../../src/storage/file/term-runs.ts";
import { seededRandom as prng } from "../../../src/util/random.ts";

describe("TermRuns", () => {
  it("keeps runs compact: one run per term change", () => {
    const r = new TermRuns();
    for (let i = 5; i <= 1000; i++) r.push(i, i < 500 ? 1 : 2);
    expect(r.runCount).toBe(2);
    expect([r.firstIndex, r.lastIndex, r.termAt(4), r.termAt(499), r.termAt(500), r.termAt(1001)]).toEqual([
      5,
      1000,
      undefined,
      1,
      2,
      undefined,
    ]);
  });

  it.each([1, 2, 3, 4, 5])("matches an array model (seed %i)", (seed) => {
    const rand = prng(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const runs = new TermRuns();
    let first = 0;
    let terms: number[] = []; // terms[k] is the term of index first + k
    let term = 1;
    for (let step = 0; step < 500; step++) {
      const last = terms.length === 0 ? 0 : first + terms.length - 1;
      const r = rand();
      if (r < 0.6) {
        if (rand() < 0.1) term++;
        const at = terms.length === 0 ? int(1, 50) : last + 1;
        runs.push(at, term);
        if (terms.length === 0) first = at;
        terms.push(term);
      } else if (r < 0.75) {
        const at = int(Math.max(1, first - 2), last + 2);
        runs.truncateFrom(at);
        terms = at <= first ? [] : terms.slice(0, Math.max(0, at - first));
      } else if (r < 0.9) {
        const at = int(Math.max(0, first - 2), last + 2);
        runs.dropThrough(at);
        if (at >= last) terms = [];
        else if (at >= first) {
          terms = terms.slice(at - first + 1);
          first = at + 1;
        }
      } else if (r < 0.95) {
        runs.clear();
        terms = [];
      }
      if (terms.length === 0) first = 0;
      expect(runs.lastIndex, `seed ${seed} step ${step}`).toBe(
        terms.length === 0 ? 0 : first + terms.length - 1,
      );
      expect(runs.firstIndex, `seed ${seed} step ${step}`).toBe(first);
      for (let i = first - 1; i <= first + terms.length; i++) {
        const want = i >= first && i < first + terms.length ? terms[i - first] : undefined;
        expect(runs.termAt(i), `seed ${seed} step ${step} index ${i}`).toBe(want);
      }
    }
  });
});
