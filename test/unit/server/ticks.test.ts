/** A member's Raft timing (node.ts raftTiming): ticks of ≥ 10 ms, at most 10 per heartbeat. */
import { describe, expect, it } from "vitest";
import { raftTiming } from "../../../src/server/node.ts";

describe("raftTiming", () => {
  it("splits the default 100 ms heartbeat into 10 ticks of 10 ms; the 1000 ms election timeout is 100 ticks", () => {
    expect(raftTiming(100, 1000)).toStrictEqual({ tickMs: 10, heartbeatTick: 10, electionTick: 100 });
  });

  it("keeps every tick at least 10 ms long", () => {
    expect(raftTiming(50, 500)).toStrictEqual({ tickMs: 10, heartbeatTick: 5, electionTick: 50 });
    expect(raftTiming(25, 250)).toStrictEqual({ tickMs: 12.5, heartbeatTick: 2, electionTick: 20 });
    expect(raftTiming(19, 190)).toStrictEqual({ tickMs: 19, heartbeatTick: 1, electionTick: 10 });
  });

  it("ticks once per heartbeat when the heartbeat is 10 ms or less", () => {
    expect(raftTiming(10, 100)).toStrictEqual({ tickMs: 10, heartbeatTick: 1, electionTick: 10 });
    expect(raftTiming(1, 10)).toStrictEqual({ tickMs: 1, heartbeatTick: 1, electionTick: 10 });
  });

  it("never ticks more than 10 times per heartbeat", () => {
    expect(raftTiming(1000, 10_000)).toStrictEqual({ tickMs: 100, heartbeatTick: 10, electionTick: 100 });
  });

  it("rounds the election timeout to whole heartbeats, at least two", () => {
    expect(raftTiming(100, 1049).electionTick).toBe(100);
    expect(raftTiming(100, 1050).electionTick).toBe(110);
    expect(raftTiming(100, 100).electionTick).toBe(20);
  });

  it("keeps heartbeat and election timeout in ms: tickMs × ticks gives them back", () => {
    for (const [heartbeatMs, electionMs] of [
      [100, 1000],
      [50, 500],
      [25, 250],
      [300, 3000],
    ] as const) {
      const t = raftTiming(heartbeatMs, electionMs);
      expect(t.tickMs * t.heartbeatTick).toBe(heartbeatMs);
      expect(t.tickMs * t.electionTick).toBe(electionMs);
    }
  });
});
