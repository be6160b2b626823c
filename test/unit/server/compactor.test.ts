/**
 * The automatic compactors (src/server/compactor.ts) with a driven clock, checked against etcd's
 * v3compactor behaviour: periodic (sample every interval/10, compact to the revision of one
 * retention ago) and revision (every 5 minutes, compact to current - retention).
 */
import { describe, expect, it } from "vitest";
import { createCompactor, PeriodicCompactor, RevisionCompactor } from "../../../src/server/compactor.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Drives `c` minute by minute with revision = minute number + 1; returns [minute, target] of compactions. */
function drive(
  c: { poll: PeriodicCompactor["poll"]; finished: PeriodicCompactor["finished"] },
  minutes: number,
  stepMs = MIN,
) {
  const out: [number, number][] = [];
  for (let t = stepMs; t <= minutes * MIN; t += stepMs) {
    const rev = Math.floor(t / MIN) + 1;
    const target = c.poll(t, rev, true);
    if (target !== undefined) {
      out.push([t / MIN, target]);
      c.finished(t, true);
    }
  }
  return out;
}

describe("periodic compaction", () => {
  it("10m retention: first compaction after 10 minutes, then every 10 minutes, keeping 10 minutes", () => {
    const c = new PeriodicCompactor(10 * MIN, 0, 1);
    // Samples every minute, 11 kept; at minute 10 the oldest is minute 0 (revision 1), later
    // the one of 11 minutes ago (etcd's loop samples after each wake-up).
    expect(drive(c, 35)).toEqual([
      [10, 1],
      [20, 10],
      [30, 20],
    ]);
  });

  it("2h retention: waits 2 hours, then compacts every hour to the revision of 2 hours ago", () => {
    const c = new PeriodicCompactor(2 * HOUR, 0, 1);
    // Samples every 6 minutes; 21 samples cover 2 hours.
    expect(drive(c, 4 * 60 + 1, 6 * MIN)).toEqual([
      [120, 1],
      [180, 55],
      [240, 115],
    ]);
  });

  it("only the leader compacts, but followers keep sampling so a new leader compacts at once", () => {
    const c = new PeriodicCompactor(10 * MIN, 0, 1);
    for (let m = 1; m <= 30; m++) expect(c.poll(m * MIN, m + 1, false)).toBeUndefined();
    // Leader from minute 31: the oldest of the 11 samples is the one of minute 20.
    expect(c.poll(31 * MIN, 32, true)).toBe(21);
  });

  it("a failed compaction is retried at the next sample; a success waits a whole interval", () => {
    const c = new PeriodicCompactor(10 * MIN, 0, 1);
    for (let m = 1; m < 10; m++) c.poll(m * MIN, m + 1, true);
    expect(c.poll(10 * MIN, 11, true)).toBe(1);
    expect(c.poll(11 * MIN, 12, true)).toBeUndefined(); // in flight
    c.finished(11 * MIN, false);
    expect(c.poll(12 * MIN, 13, true)).toBe(1);
    c.finished(12 * MIN, true);
    for (let m = 13; m < 22; m++) expect(c.poll(m * MIN, m + 1, true)).toBeUndefined();
    expect(c.poll(22 * MIN, 23, true)).toBe(11); // the sample of minute 10 (none was taken while in flight)
  });

  it("polls between wake-ups do nothing", () => {
    const c = new PeriodicCompactor(10 * MIN, 0, 1);
    for (let t = 0; t < 10 * MIN; t += 1_000) expect(c.poll(t, 5, true)).toBeUndefined();
  });
});

describe("revision compaction", () => {
  it("every 5 minutes compacts to current - retention, skipping when that did not move or is <= 0", () => {
    const c = new RevisionCompactor(100, 0);
    expect(c.poll(4 * MIN, 500, true)).toBeUndefined();
    expect(c.poll(5 * MIN, 50, true)).toBeUndefined(); // 50 - 100 <= 0
    expect(c.poll(10 * MIN, 1_000, true)).toBe(900);
    c.finished(10 * MIN, true);
    expect(c.poll(15 * MIN, 1_000, true)).toBeUndefined(); // no change
    expect(c.poll(20 * MIN, 1_250, true)).toBe(1_150);
    c.finished(20 * MIN, false);
    expect(c.poll(25 * MIN, 1_250, true)).toBe(1_150); // retried after a failure
  });

  it("does nothing on a follower", () => {
    const c = createCompactor({ mode: "revision", retention: 10 }, 0, 1);
    expect(c.poll(5 * MIN, 1_000, false)).toBeUndefined();
    expect(c.poll(10 * MIN, 1_000, true)).toBe(990);
  });
});
