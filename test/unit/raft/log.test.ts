/**
 * The in-memory Raft log (src/raft/log.ts): Log Matching (§5.3), election restriction (§5.4.1),
 * commitment (§5.4.2), compaction and restore (§7).
 */
import { describe, expect, it } from "vitest";
import { RaftLog } from "../../../src/raft/log.ts";
import type { Snapshot } from "../../../src/raft/types.ts";
import { AssertionError } from "../../../src/util/assert.ts";
import { entries } from "./network.ts";

function log(terms: number[], committed = 0): RaftLog {
  return new RaftLog(null, entries(terms), committed, 0);
}

function snap(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: { voters: ["a"], learners: [] } }, data: new Uint8Array() };
}

describe("RaftLog", () => {
  it("term() knows the dummy entry 0 and nothing outside the log", () => {
    const l = log([1, 2, 2]);
    expect([0, 1, 2, 3, 4].map((i) => l.term(i))).toEqual([0, 1, 2, 2, undefined]);
    expect(l.lastEntryId()).toEqual({ index: 3, term: 2 });
  });

  it("isUpToDate compares last term, then length (§5.4.1)", () => {
    const l = log([1, 2, 2]);
    const table: [number, number, boolean][] = [
      [3, 2, true],
      [4, 2, true],
      [2, 2, false],
      [1, 3, true],
      [10, 1, false],
    ];
    for (const [index, term, want] of table) expect(l.isUpToDate({ index, term })).toBe(want);
  });

  it("findConflict returns the first index that differs or is new, 0 if none", () => {
    const l = log([1, 2, 3]);
    expect(l.findConflict([])).toBe(0);
    expect(l.findConflict(entries([1, 2, 3]))).toBe(0);
    expect(l.findConflict(entries([2, 3], 2))).toBe(0);
    expect(l.findConflict(entries([2, 3, 4], 2))).toBe(4);
    expect(l.findConflict(entries([1, 4, 4]))).toBe(2);
    expect(l.findConflict(entries([4, 4], 3))).toBe(3);
  });

  it("findConflictByTerm returns the last index <= given index whose term <= given term", () => {
    // index: 1 2 3 4 5 6 7
    // term:  1 2 2 4 4 5 5
    const l = log([1, 2, 2, 4, 4, 5, 5]);
    const table: [number, number, number, number][] = [
      [7, 5, 7, 5],
      [7, 4, 5, 4],
      [7, 3, 3, 2],
      [7, 1, 1, 1],
      [7, 0, 0, 0],
      [3, 4, 3, 2],
    ];
    for (const [index, term, wantIndex, wantTerm] of table) {
      expect(l.findConflictByTerm(index, term)).toEqual({ index: wantIndex, term: wantTerm });
    }
  });

  it("findConflictByTerm treats compacted entries as a possible match (term 0)", () => {
    const l = new RaftLog(snap(5, 3), entries([4, 4], 6), 5, 5);
    expect(l.findConflictByTerm(7, 3)).toEqual({ index: 5, term: 3 });
    const l2 = new RaftLog(snap(5, 3), entries([4, 4], 6), 5, 5);
    expect(l2.findConflictByTerm(4, 2)).toEqual({ index: 4, term: 0 });
  });

  it("maybeAppend: consistency check, truncation of a conflicting suffix, commit min(leaderCommit, last new) (§5.3)", () => {
    const cases: {
      prev: [number, number];
      terms: number[];
      commit: number;
      want: number | undefined;
      log: number[];
      committed: number;
    }[] = [
      { prev: [3, 2], terms: [], commit: 3, want: undefined, log: [1, 2, 3], committed: 1 }, // prev term mismatch
      { prev: [4, 3], terms: [], commit: 3, want: undefined, log: [1, 2, 3], committed: 1 }, // prev missing
      { prev: [3, 4], terms: [4], commit: 4, want: undefined, log: [1, 2, 3], committed: 1 },
      { prev: [2, 2], terms: [], commit: 3, want: 2, log: [1, 2, 3], committed: 2 },
      { prev: [3, 3], terms: [], commit: 3, want: 3, log: [1, 2, 3], committed: 3 },
      { prev: [3, 3], terms: [4], commit: 9, want: 4, log: [1, 2, 3, 4], committed: 4 },
      { prev: [2, 2], terms: [3], commit: 3, want: 3, log: [1, 2, 3], committed: 3 }, // already there
      { prev: [2, 2], terms: [4, 4], commit: 2, want: 4, log: [1, 2, 4, 4], committed: 2 }, // conflict at 3
      { prev: [1, 1], terms: [4], commit: 1, want: 2, log: [1, 4], committed: 1 }, // truncates 2..3
    ];
    for (const c of cases) {
      const l = log([1, 2, 3], 1);
      const got = l.maybeAppend(
        { index: c.prev[0], term: c.prev[1] },
        entries(c.terms, c.prev[0] + 1),
        c.commit,
      );
      expect(got).toBe(c.want);
      expect(Array.from({ length: l.lastIndex() }, (_, i) => l.term(i + 1))).toEqual(c.log);
      expect(l.committed).toBe(c.committed);
    }
  });

  it("truncation makes the replaced entries unstable again", () => {
    const l = log([1, 2, 3]);
    expect(l.unstableEntries()).toEqual([]);
    l.maybeAppend({ index: 1, term: 1 }, entries([4], 2), 0);
    expect(l.stableIndex).toBe(1);
    expect(l.unstableEntries().map((e) => [e.index, e.term])).toEqual([[2, 4]]);
  });

  it("never truncates a committed entry (assertion)", () => {
    const l = log([1, 2, 3], 2);
    expect(() => l.append(entries([4], 2))).toThrow(AssertionError);
    expect(() => l.maybeAppend({ index: 1, term: 1 }, entries([4, 4], 2), 0)).toThrow(AssertionError);
    expect(l.term(2)).toBe(2);
  });

  it("append must be contiguous and terms non-decreasing (assertions)", () => {
    const l = log([1, 2]);
    expect(() => l.append(entries([2], 4))).toThrow(AssertionError);
    expect(() => l.append(entries([1], 3))).toThrow(AssertionError);
  });

  it("maybeCommit commits only entries of the given (current) term (§5.4.2)", () => {
    const l = log([1, 2, 3]);
    expect(l.maybeCommit(2, 3)).toBe(false);
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 3)).toBe(true);
    expect(l.committed).toBe(3);
    expect(l.maybeCommit(2, 2)).toBe(false); // never goes back
    expect(l.committed).toBe(3);
  });

  it("commitTo beyond the last index is an assertion", () => {
    expect(() => log([1]).commitTo(2)).toThrow(AssertionError);
  });

  it("slice respects maxBytes but always returns at least one entry", () => {
    const l = log([1, 1, 1, 1]);
    expect(l.slice(1, 5, 0).map((e) => e.index)).toEqual([1]);
    expect(l.slice(1, 5).map((e) => e.index)).toEqual([1, 2, 3, 4]);
    const one = l.slice(1, 2)[0]!;
    const size = one.data.byteLength + 24;
    expect(l.slice(1, 5, 2 * size).map((e) => e.index)).toEqual([1, 2]);
  });

  it("compact drops entries up to dropThrough and keeps the snapshot; older snapshots are ignored", () => {
    const l = log([1, 1, 2, 2, 2], 5);
    l.appliedTo(5);
    expect(l.compact(snap(4, 2), 2)).toBe(true);
    expect(l.firstIndex()).toBe(3);
    expect(l.term(2)).toBe(1);
    expect(l.term(1)).toBeUndefined();
    expect(l.snapshot?.metadata.index).toBe(4);
    expect(l.compact(snap(3, 2), 3)).toBe(false);
    expect(() => l.compact(snap(5, 9), 5)).toThrow(AssertionError); // wrong term
  });

  it("restore resets the log to the snapshot and makes it pending until stable", () => {
    const l = log([1, 1, 2], 1);
    l.restore(snap(10, 3));
    expect(l.firstIndex()).toBe(11);
    expect(l.lastEntryId()).toEqual({ index: 10, term: 3 });
    expect(l.committed).toBe(10);
    expect(l.pendingSnapshot?.metadata.index).toBe(10);
    expect(l.hasNextCommittedEntries()).toBe(false);
    l.stableSnapshotTo(10);
    l.appliedTo(10);
    expect(l.pendingSnapshot).toBeNull();
    expect(() => l.restore(snap(5, 3))).toThrow(AssertionError);
  });

  it("restart state is validated", () => {
    expect(() => new RaftLog(null, [...entries([1]), ...entries([1], 3)], 0, 0)).toThrow(AssertionError);
    expect(() => new RaftLog(null, entries([1]), 2, 0)).toThrow(AssertionError);
    expect(() => new RaftLog(null, entries([1]), 1, 2)).toThrow(AssertionError);
    // Entries covered by the snapshot are skipped.
    const l = new RaftLog(snap(2, 1), entries([1, 1, 1]), 2, 2);
    expect(l.firstIndex()).toBe(3);
    expect(l.lastIndex()).toBe(3);
  });
});
