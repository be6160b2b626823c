/**
 * The simulated disk (disk.ts) keeps exactly what a crash may keep, and recovers through the real
 * WAL scan / replay / assembly code: durable records survive, a torn or corrupt tail is truncated,
 * commit-only hard states are lost, snapshots are atomic.
 */
import { describe, expect, it } from "vitest";
import { type Entry, EntryType, type HardState, type Snapshot } from "../../../src/raft/types.ts";
import { Rng } from "../rng.ts";
import { type DiskStep, SimDisk, type TearPolicy } from "./disk.ts";

const KEEP_NOTHING: TearPolicy = { keepAll: 0, cut: 0, corrupt: 0 };
const CUT: TearPolicy = { keepAll: 0, cut: 1, corrupt: 0 };
const CORRUPT: TearPolicy = { keepAll: 0, cut: 0, corrupt: 1 };

function entries(from: number, to: number, term: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    index: from + i,
    term,
    type: EntryType.Normal,
    data: new TextEncoder().encode(`entry-${from + i}`.repeat(3)),
  }));
}

function hs(term: number, commit: number, vote = ""): HardState {
  return { term, vote, commit };
}

/** Runs steps to completion (the write is durable). */
function finish(steps: DiskStep[]): void {
  for (const s of steps) {
    s.start();
    s.done();
  }
}

/** Issues steps without completing them (a crash comes first). */
function startOnly(steps: DiskStep[]): void {
  for (const s of steps) s.start();
}

function newDisk(segmentBytes = 1 << 20): { disk: SimDisk; clock: { nowMs: number } } {
  const clock = { nowMs: 0 };
  const disk = new SimDisk(clock, segmentBytes, 1_000);
  disk.open();
  return { disk, clock };
}

describe("simulated disk", () => {
  it("keeps synced writes and loses unsynced ones at a crash", () => {
    const { disk } = newDisk();
    finish(disk.append(hs(1, 0, "a"), entries(1, 5, 1), true));
    startOnly(disk.append(hs(1, 0, "a"), entries(6, 8, 1), true));
    disk.crash(new Rng(1), KEEP_NOTHING);
    const s = disk.open();
    expect(s.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(s.hardState).toEqual(hs(1, 0, "a"));
  });

  it("truncates a torn tail through the real recovery and keeps a prefix", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { disk } = newDisk();
      finish(disk.append(hs(1, 2), entries(1, 3, 1), true));
      startOnly(disk.append(null, entries(4, 9, 1), true));
      disk.crash(new Rng(seed), CUT);
      const s = disk.open();
      const got = s.entries.map((e) => e.index);
      expect(got.slice(0, 3)).toEqual([1, 2, 3]);
      expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
      expect(got.length).toBeLessThanOrEqual(9);
    }
  });

  it("drops a corrupt last record and keeps the records before it", () => {
    const { disk } = newDisk();
    finish(disk.append(hs(1, 1), entries(1, 2, 1), true));
    startOnly(disk.append(null, entries(3, 3, 1), true));
    disk.crash(new Rng(7), CORRUPT);
    const s = disk.open();
    expect(s.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(disk.stats.corruptTails).toBe(1);
    expect(disk.stats.truncatedRecoveries).toBe(1);
  });

  it("loses a commit-only hard state written without sync", () => {
    const { disk } = newDisk();
    finish(disk.append(hs(2, 1, "b"), entries(1, 4, 2), true));
    finish(disk.append(hs(2, 4, "b"), [], false));
    disk.crash(new Rng(1), KEEP_NOTHING);
    expect(disk.open().hardState).toEqual(hs(2, 1, "b"));
  });

  it("saves snapshots atomically", () => {
    const { disk } = newDisk();
    finish(disk.append(hs(1, 6), entries(1, 6, 1), true));
    const snap = (index: number): Snapshot => ({
      metadata: { index, term: 1, confState: { voters: ["a"], learners: [] } },
      data: new Uint8Array([index]),
    });
    finish(disk.saveSnapshot(snap(3)));
    startOnly(disk.saveSnapshot(snap(5)));
    disk.crash(new Rng(1), KEEP_NOTHING);
    const s = disk.open();
    expect(s.snapshot?.metadata.index).toBe(3);
    expect(s.entries.map((e) => e.index)).toEqual([4, 5, 6]);
  });

  it("syncs the hard state that starts a new segment, so a compaction cannot lose the term and vote", () => {
    const { disk } = newDisk(256);
    finish(disk.append(hs(3, 0, "a"), entries(1, 6, 3), true));
    finish(disk.append(hs(3, 6, "a"), [], false)); // commit-only, but it rolls over: synced
    finish(
      disk.saveSnapshot({
        metadata: { index: 6, term: 3, confState: { voters: ["a"], learners: [] } },
        data: new Uint8Array(),
      }),
    );
    disk.compact(6);
    disk.crash(new Rng(1), KEEP_NOTHING);
    expect(disk.open().hardState).toEqual(hs(3, 6, "a"));
  });

  it("can keep a new term's entries without the hard state written after them (a torn append)", () => {
    const { disk } = newDisk();
    finish(disk.append(hs(1, 2, "a"), entries(1, 2, 1), true));
    startOnly(disk.append(hs(2, 2), entries(3, 4, 2), true));
    disk.crash(new Rng(3), CORRUPT); // the hard state, last record of the write, is damaged
    const s = disk.open();
    // Recovery keeps the term-2 entries with the term-1 hard state: RaftCore must cope (it raises its term).
    expect({ term: s.hardState!.term, lastEntryTerm: s.entries.at(-1)!.term }).toEqual({
      term: 1,
      lastEntryTerm: 2,
    });
  });
});
