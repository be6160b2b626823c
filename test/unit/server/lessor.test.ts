/**
 * The leader's lessor (src/server/lessor.ts) with a driven clock: etcd's promote/demote/renew
 * rules, expiry reporting with retry and rate limit, and etcd's minimum TTL rule.
 */
import { describe, expect, it } from "vitest";
import { Lessor, minLeaseTtlSeconds } from "../../../src/server/lessor.ts";

describe("Lessor", () => {
  it("is not primary until promoted and knows no expiry then", () => {
    const l = new Lessor(3_000);
    expect(l.isPrimary).toBe(false);
    l.granted(1, 10, 0);
    expect(l.remainingMs(1, 0)).toBeUndefined();
    expect(l.takeExpired(1e12, 100)).toEqual([]);
  });

  it("promote gives every lease now + extend + TTL (a new leader never expires one early)", () => {
    const l = new Lessor(3_000);
    l.promote(1_000, 500, [
      { id: 1, ttl: 2 },
      { id: 2, ttl: 10 },
    ]);
    expect(l.isPrimary).toBe(true);
    expect(l.remainingMs(1, 1_000)).toBe(2_500);
    expect(l.takeExpired(3_499, 10)).toEqual([]);
    expect(l.takeExpired(3_500, 10)).toEqual([1]);
    expect(l.remainingMs(2, 3_500)).toBe(8_000);
  });

  it("a grant on the primary expires at now + TTL; renew moves it to now + TTL again", () => {
    const l = new Lessor(3_000);
    l.promote(0, 1_000, []);
    l.granted(7, 5, 100);
    expect(l.isExpired(7, 5_099)).toBe(false);
    expect(l.isExpired(7, 5_100)).toBe(true);
    expect(l.renew(7, 5, 4_000)).toBe(5);
    expect(l.takeExpired(8_999, 10)).toEqual([]);
    expect(l.takeExpired(9_000, 10)).toEqual([7]);
  });

  it("reports an expired lease once, then again after the retry interval while it exists", () => {
    const l = new Lessor(3_000);
    l.promote(0, 0, [{ id: 1, ttl: 1 }]);
    expect(l.takeExpired(1_000, 10)).toEqual([1]);
    expect(l.takeExpired(3_999, 10)).toEqual([]);
    expect(l.isExpired(1, 3_999)).toBe(true);
    expect(l.takeExpired(4_000, 10)).toEqual([1]);
    l.revoked(1);
    expect(l.takeExpired(100_000, 10)).toEqual([]);
    expect(l.remainingMs(1, 0)).toBeUndefined();
  });

  it("reports soonest first, at most `max` per call, the rest in later calls", () => {
    const l = new Lessor(60_000);
    l.promote(
      0,
      0,
      [5, 3, 1, 4, 2].map((id) => ({ id, ttl: id })),
    );
    expect(l.takeExpired(10_000, 2)).toEqual([1, 2]);
    expect(l.takeExpired(10_000, 2)).toEqual([3, 4]);
    expect(l.takeExpired(10_000, 2)).toEqual([5]);
  });

  it("demote forgets every expiry (leases live until a leader is promoted)", () => {
    const l = new Lessor(3_000);
    l.promote(0, 0, [{ id: 1, ttl: 1 }]);
    l.demote();
    expect(l.isPrimary).toBe(false);
    expect(l.isExpired(1, 1e9)).toBe(false);
    expect(l.takeExpired(1e9, 10)).toEqual([]);
    l.promote(1e9, 100, [{ id: 1, ttl: 1 }]);
    expect(l.remainingMs(1, 1e9)).toBe(1_100);
  });

  it("many renewals do not grow memory without bound (stale checks are dropped)", () => {
    const l = new Lessor(3_000);
    l.promote(0, 0, [{ id: 1, ttl: 10 }]);
    for (let t = 0; t < 100_000; t++) l.renew(1, 10, t);
    expect(l.size).toBe(1);
    expect(l.takeExpired(100_000 + 9_998, 10)).toEqual([]);
    expect(l.takeExpired(100_000 + 9_999, 10)).toEqual([1]);
  });
});

describe("minLeaseTtlSeconds (etcd: ceil(((3 * electionTicks) / 2) * heartbeat))", () => {
  it.each([
    [100, 1000, 2], // etcd defaults: 15 ticks x 100 ms = 1.5 s → 2 s
    [10, 100, 1], // 15 x 10 ms = 0.15 s → 1 s
    [100, 500, 1], // 7 x 100 ms (integer division of 3*5/2) = 0.7 s → 1 s
    [250, 5000, 8], // 30 x 250 ms = 7.5 s → 8 s
    [100, 2000, 3], // 30 x 100 ms = 3 s
    [100, 1050, 2], // electionTicks = 10 (integer division), 15 x 100 ms → 2 s
  ])("heartbeat %i ms, election %i ms → %i s", (hb, el, want) => {
    expect(minLeaseTtlSeconds(hb, el)).toBe(want);
  });
});
