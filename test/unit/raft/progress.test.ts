/**
 * Progress, Inflights and quorum arithmetic (etcd-io/raft tracker and quorum packages; Raft paper
 * §5.2 majorities, §5.3 nextIndex/matchIndex).
 */
import { describe, expect, it } from "vitest";
import { Inflights } from "../../../src/raft/inflights.ts";
import { Progress } from "../../../src/raft/progress.ts";
import { committedIndex, quorumSize, voteResult } from "../../../src/raft/quorum.ts";
import { AssertionError } from "../../../src/util/assert.ts";

describe("Inflights", () => {
  it("is a bounded FIFO freed by acknowledgements", () => {
    const inf = new Inflights(3);
    inf.add(2);
    inf.add(5);
    inf.add(9);
    expect(inf.full()).toBe(true);
    expect(() => inf.add(10)).toThrow(AssertionError);
    inf.freeLE(5);
    expect(inf.count()).toBe(1);
    inf.add(12);
    inf.add(15); // wraps around the ring
    expect(inf.full()).toBe(true);
    inf.freeFirstOne();
    expect(inf.count()).toBe(2);
    inf.freeLE(100);
    expect(inf.count()).toBe(0);
  });

  it("indexes must increase", () => {
    const inf = new Inflights(4);
    inf.add(3);
    expect(() => inf.add(3)).toThrow(AssertionError);
  });
});

describe("Progress", () => {
  it("maybeUpdate moves match and next forward only", () => {
    const pr = new Progress(5, 4, false);
    expect(pr.maybeUpdate(3)).toBe(true);
    expect([pr.match, pr.next]).toEqual([3, 5]);
    expect(pr.maybeUpdate(2)).toBe(false);
    expect(pr.maybeUpdate(7)).toBe(true);
    expect([pr.match, pr.next]).toEqual([7, 8]);
  });

  it("maybeDecrTo in probe state: only the rejection of next-1 counts, next follows the hint", () => {
    const pr = new Progress(10, 4, false);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // stale: we probed 9
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    pr.maybeUpdate(2);
    expect(pr.maybeDecrTo(3, 0)).toBe(true);
    expect(pr.next).toBe(3); // never below match + 1
  });

  it("maybeDecrTo in replicate state: back to match + 1 unless the rejection is stale", () => {
    const pr = new Progress(10, 4, false);
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.sentEntries(8);
    expect(pr.next).toBe(9);
    expect(pr.maybeDecrTo(4, 0)).toBe(false);
    expect(pr.maybeDecrTo(7, 0)).toBe(true);
    expect(pr.next).toBe(6);
  });

  it("is paused per state: probe after one send, replicate when inflights are full, snapshot always", () => {
    const pr = new Progress(1, 2, false);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(3);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(3);
    pr.becomeReplicate();
    pr.sentEntries(5);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(6);
    expect(pr.isPaused()).toBe(true);
    pr.becomeSnapshot(20);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(21);
    pr.becomeProbe();
    expect(pr.next).toBe(21); // after the snapshot
  });
});

describe("quorum", () => {
  it("majorities", () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  it("committedIndex is the highest index on a majority of voters", () => {
    const table: [number[], number][] = [
      [[5], 5],
      [[5, 3], 3],
      [[5, 3, 1], 3],
      [[1, 5, 3, 2], 2],
      [[9, 8, 1, 1, 7], 7],
    ];
    for (const [matches, want] of table) {
      const voters = matches.map((_, i) => `v${i}`);
      expect(committedIndex(voters, (id) => matches[Number(id.slice(1))]!)).toBe(want);
    }
  });

  it("voteResult: won, lost, pending; non-voters ignored", () => {
    const voters = ["a", "b", "c"];
    expect(voteResult(voters, new Map([["a", true]]))).toBe("pending");
    expect(
      voteResult(
        voters,
        new Map([
          ["a", true],
          ["b", true],
        ]),
      ),
    ).toBe("won");
    expect(
      voteResult(
        voters,
        new Map([
          ["a", false],
          ["b", false],
        ]),
      ),
    ).toBe("lost");
    expect(
      voteResult(
        voters,
        new Map([
          ["a", true],
          ["x", true],
          ["y", true],
        ]),
      ),
    ).toBe("pending");
  });
});
