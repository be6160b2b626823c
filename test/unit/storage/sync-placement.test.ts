import { describe, expect, it } from "vitest";
import {
  INLINE_SYNC_MAX_BYTES,
  INLINE_SYNC_MAX_MEAN_MS,
  SyncPlacement,
} from "../../../src/storage/file/sync-placement.ts";

describe("SyncPlacement", () => {
  it("runs a small append's fdatasync inline and a bigger one's in the thread pool", () => {
    const p = new SyncPlacement();
    expect(p.inline(400)).toBe(true);
    expect(p.inline(INLINE_SYNC_MAX_BYTES)).toBe(true);
    expect(p.inline(INLINE_SYNC_MAX_BYTES + 1)).toBe(false);
  });

  it("stops inlining once recent fdatasyncs were slow, and starts again once they are fast", () => {
    const p = new SyncPlacement();
    for (let i = 0; i < 100; i++) p.observe(0.3);
    expect(p.meanMs).toBeCloseTo(0.3, 1);
    expect(p.inline(400)).toBe(true);
    let slowSeen = 0;
    while (p.inline(400)) {
      p.observe(10);
      slowSeen++;
    }
    expect(p.meanMs).toBeGreaterThan(INLINE_SYNC_MAX_MEAN_MS);
    expect(slowSeen).toBeGreaterThan(1); // one slow call alone does not switch it off
    for (let i = 0; i < 200 && !p.inline(400); i++) p.observe(0.3);
    expect(p.inline(400)).toBe(true);
  });
});
