/**
 * How FileStorage runs its calls: one at a time in call order (also when callers do not wait),
 * none after close(), none after a failed write; and WAL batches of every size (synchronous
 * writes, writes through the thread pool, unsynced records past their bound) land in order.
 */
import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { HardState } from "../../../src/raft/types.ts";
import { AssertionError } from "../../../src/util/assert.ts";
import { entry, TempDataDir } from "./helpers.ts";

const hs = (term: number, commit: number, vote = ""): HardState => ({ term, vote, commit });
const indexes = (s: { entries: { index: number }[] }) => s.entries.map((e) => e.index);

let d: TempDataDir;
beforeEach(async () => {
  d = await TempDataDir.create();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await d.cleanup();
});

describe("calls", () => {
  it("run in call order when the caller does not wait for each", async () => {
    const s = await d.open();
    const calls: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      calls.push(s.append(hs(1, i - 1), [entry(i, 1)], i % 3 !== 0));
      calls.push(s.append(hs(1, i), [], false));
    }
    const loaded = s.load();
    await Promise.all(calls);
    expect(indexes(await loaded)).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
    expect((await loaded).hardState).toEqual(hs(1, 20));
  });

  it("see the state of every earlier call, and a refused call does not stop later ones", async () => {
    const s = await d.open();
    const first = s.append(hs(2, 0, "a"), [entry(1, 2)]);
    // Checked against the first call's hard state, which is not written yet when this is called.
    const changedVote = s.append(hs(2, 0, "b"), []);
    const next = s.append(hs(2, 1, "a"), [entry(2, 2)]);
    await first;
    await expect(changedVote).rejects.toThrow(AssertionError);
    await next;
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2]);
    expect(loaded.hardState).toEqual(hs(2, 1, "a"));
  });

  it("refused without a handler is no unhandled rejection", async () => {
    const s = await d.open();
    void s.append(hs(1, 5), []); // commit beyond the log: AssertionError
    await s.append(hs(1, 0), [entry(1, 1)]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(indexes(await s.load())).toEqual([1]);
  });

  it("made before close() complete; close waits for them; calls after it reject", async () => {
    let s = await d.open();
    const pending = [s.append(hs(1, 0), [entry(1, 1)]), s.append(hs(1, 1), [], false)];
    const closed = s.close();
    await expect(s.append(null, [entry(2, 1)])).rejects.toThrow(AssertionError);
    await expect(s.load()).rejects.toThrow(/closed/);
    await Promise.all(pending);
    await closed;
    await s.close(); // idempotent
    s = await d.open();
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1]);
    expect(loaded.hardState).toEqual(hs(1, 1));
  });

  // A small append syncs on the member's thread (fdatasyncSync), a big one in the thread pool
  // (fdatasync): see sync-placement.ts. A failure is final on both paths.
  it.each([
    { path: "inline (small append)", size: 16, inline: true },
    { path: "thread pool (big append)", size: 4096, inline: false },
  ])("after a failed fdatasync ($path), every later call rejects", async ({ size, inline }) => {
    const s = await d.open();
    await s.append(hs(1, 0), [entry(1, 1)]);
    const failure = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    const pooled = vi
      .spyOn(fs, "fdatasync")
      .mockImplementation(((_fd: number, cb: (err: Error | null) => void) =>
        process.nextTick(cb, failure)) as typeof fs.fdatasync);
    const onThread = vi.spyOn(fs, "fdatasyncSync").mockImplementation(() => {
      throw failure;
    });
    const failed = s.append(hs(1, 1), [entry(2, 1, size)]);
    const queued = s.append(hs(1, 1), [], false);
    await expect(failed).rejects.toBe(failure);
    expect(onThread).toHaveBeenCalledTimes(inline ? 1 : 0);
    expect(pooled).toHaveBeenCalledTimes(inline ? 0 : 1);
    await expect(queued).rejects.toThrow(/failed earlier/);
    vi.restoreAllMocks();
    await expect(s.append(null, [entry(3, 1)])).rejects.toThrow(/failed earlier/);
    await expect(s.load()).rejects.toThrow(/failed earlier/);
    await expect(s.compact(0)).rejects.toThrow(/failed earlier/);
  });
});

describe("WAL batches", () => {
  it("of every size land in order: small, larger than a synchronous write, many unsynced records", async () => {
    let s = await d.open({ segmentBytes: 256 * 1024 });
    let index = 0;
    const sizes = [10, 70 * 1024, 300, 200 * 1024, 5];
    for (const size of sizes) {
      index++;
      await s.append(hs(1, index - 1), [entry(index, 1, size)]);
      for (let k = 0; k < 5; k++) await s.append(hs(1, index), [], false);
    }
    // Commit-only hard states past the unsynced bound (64 KiB) are written out on the way; those
    // still queued before a batch too big for the buffer go out first.
    for (let k = 0; k < 2000; k++) await s.append(hs(2, index, "v".repeat(40)), [], false);
    index++;
    await s.append(null, [entry(index, 2, 100 * 1024)]);
    await s.append(hs(2, index, "v".repeat(40)), [], false);
    await s.close();
    s = await d.open({ segmentBytes: 256 * 1024 });
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(loaded.entries.map((e) => e.data.length)).toEqual([...sizes, 100 * 1024]);
    for (const e of loaded.entries)
      expect(Buffer.from(e.data)).toEqual(Buffer.from(entry(e.index, 1, e.data.length).data));
    expect(loaded.hardState).toEqual(hs(2, index, "v".repeat(40)));
    expect(s.walSegmentCount).toBeGreaterThan(1);
  });
});
