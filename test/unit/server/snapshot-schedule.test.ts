/** snapshotDueIndex (src/server/snapshot-schedule.ts): voters take their periodic snapshots out of step. */
import { describe, expect, it } from "vitest";
import { snapshotDueIndex } from "../../../src/server/snapshot-schedule.ts";

const VOTERS = ["c3", "a1", "b2"];

describe("snapshotDueIndex", () => {
  it("shifts a fresh member's first snapshot by its rank among the sorted voter ids", () => {
    expect(snapshotDueIndex(0, 100_000, "a1", VOTERS)).toBe(100_000);
    expect(snapshotDueIndex(0, 100_000, "b2", VOTERS)).toBe(116_666);
    expect(snapshotDueIndex(0, 100_000, "c3", VOTERS)).toBe(133_333);
  });

  it("keeps later snapshots snapshotCount apart, so members stay out of step", () => {
    for (const id of VOTERS) {
      const first = snapshotDueIndex(0, 100_000, id, VOTERS);
      expect(snapshotDueIndex(first, 100_000, id, VOTERS)).toBe(first + 100_000);
    }
  });

  it("does not shift a single voter, a member that is no voter, or the lowest id", () => {
    expect(snapshotDueIndex(0, 10, "a1", ["a1"])).toBe(10);
    expect(snapshotDueIndex(0, 10, "zz", VOTERS)).toBe(10);
    expect(snapshotDueIndex(0, 10, "a1", ["b2", "a1"])).toBe(10);
  });

  it("spreads five voters over half a period", () => {
    const five = ["e", "d", "c", "b", "a"];
    expect(five.map((id) => snapshotDueIndex(0, 1000, id, five))).toEqual([1400, 1300, 1200, 1100, 1000]);
  });
});
