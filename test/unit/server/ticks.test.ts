/** Raft ticks per heartbeat interval (node.ts ticksPerHeartbeat): ticks of ≥ 10 ms, at most 10 per heartbeat. */
import { describe, expect, it } from "vitest";
import { ticksPerHeartbeat } from "../../../src/server/node.ts";

describe("ticksPerHeartbeat", () => {
  it("splits the default 100 ms heartbeat into 10 ticks of 10 ms", () => {
    expect(ticksPerHeartbeat(100)).toBe(10);
  });

  it("keeps every tick at least 10 ms long", () => {
    expect(ticksPerHeartbeat(50)).toBe(5);
    expect(ticksPerHeartbeat(25)).toBe(2);
    expect(ticksPerHeartbeat(19)).toBe(1);
  });

  it("ticks once per heartbeat when the heartbeat is 10 ms or less", () => {
    expect(ticksPerHeartbeat(10)).toBe(1);
    expect(ticksPerHeartbeat(1)).toBe(1);
  });

  it("never ticks more than 10 times per heartbeat", () => {
    expect(ticksPerHeartbeat(1000)).toBe(10);
  });
});
