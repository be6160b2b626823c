/**
 * WAL segments are preallocated (etcd fileutil.Preallocate): the zeros after the last record are a
 * clean end, not damage; damage inside preallocated space is still found and truncated; records
 * written without sync are held in memory and reach the file with the next write or at close.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HardState } from "../../../src/raft/types.ts";
import { endOfData } from "../../../src/storage/file/wal-scan.ts";
import { capturingLogger, entry, fileSize, TempDataDir, warnings } from "./helpers.ts";

const hs = (term: number, commit: number): HardState => ({ term, vote: "", commit });
const indexes = (s: { entries: { index: number }[] }) => s.entries.map((e) => e.index);
const SEGMENT_BYTES = 64 * 1024;

let d: TempDataDir;
beforeEach(async () => {
  d = await TempDataDir.create();
});
afterEach(async () => {
  await d.cleanup();
});

describe("preallocated WAL segments", () => {
  it("extends a new segment to segmentBytes and reopens without a warning", async () => {
    let s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES });
    for (let i = 1; i <= 5; i++) await s.append(hs(1, i - 1), [entry(i, 1)]);
    const seg = (await d.segments())[0]!;
    expect(await fileSize(seg)).toBe(SEGMENT_BYTES);
    await s.close();
    const { logger, lines } = capturingLogger();
    s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES, logger });
    expect(warnings(lines)).toEqual([]);
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2, 3, 4, 5]);
    expect(loaded.hardState).toEqual(hs(1, 4));
    // Appends go right after the last record, not after the preallocated zeros.
    await s.append(hs(1, 5), [entry(6, 1)]);
    await s.close();
    s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES });
    expect(indexes(await s.load())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await fileSize(seg)).toBe(SEGMENT_BYTES);
  });

  it("rolls over to a new preallocated segment and reports only record bytes as its size", async () => {
    const s = await d.open({ preallocate: true, segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) await s.append(hs(1, i - 1), [entry(i, 1, 100)]);
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThan(1);
    expect(await fileSize(segs.at(-1)!)).toBeGreaterThanOrEqual(1024);
    const used = await s.sizeBytes();
    expect(used).toBeGreaterThan(40 * 100);
    expect(used).toBeLessThan(segs.length * 1024 + 40 * 140);
  });

  it("prepares the next segment in the background once the last one is half full, and rolls over into it", async () => {
    const s = await d.open({ preallocate: true, segmentBytes: 4096 });
    const spare = join(d.walDir, "spare.wal.tmp");
    const exists = () =>
      stat(spare).then(
        () => true,
        () => false,
      );
    await s.append(hs(1, 0), [entry(1, 1, 100)]);
    expect(await exists()).toBe(false);
    let i = 2;
    for (; i <= 15; i++) await s.append(hs(1, i - 1), [entry(i, 1, 100)]);
    // Past half of the segment: the spare is being written (preallocated zeros, then a sync).
    await new Promise((r) => setTimeout(r, 100));
    expect(await fileSize(spare)).toBe(4096);
    const spareInode = (await stat(spare)).ino;
    while ((await d.segments()).length < 2) {
      await s.append(hs(1, i - 1), [entry(i, 1, 100)]);
      i++;
    }
    // The rollover renamed the prepared file into the new segment rather than making another.
    expect((await stat((await d.segments())[1]!)).ino).toBe(spareInode);
    for (; i <= 60; i++) await s.append(hs(1, i - 1), [entry(i, 1, 100)]);
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThan(2);
    for (const seg of segs) expect(await fileSize(seg)).toBeGreaterThanOrEqual(4096);
    await s.close();
    // close() removes a spare; reopening finds every entry and no stray file.
    expect(await exists()).toBe(false);
    const { logger, lines } = capturingLogger();
    const again = await d.open({ preallocate: true, segmentBytes: 4096, logger });
    expect(indexes(await again.load())).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
    expect(warnings(lines)).toEqual([]);
  });

  it("removes a spare segment left by a crash when it opens", async () => {
    let s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES });
    await s.append(hs(1, 0), [entry(1, 1)]);
    await s.close();
    await writeFile(join(d.walDir, "spare.wal.tmp"), Buffer.alloc(1024));
    const { logger, lines } = capturingLogger();
    s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES, logger });
    expect(indexes(await s.load())).toEqual([1]);
    expect(warnings(lines)).toEqual([]);
    await expect(stat(join(d.walDir, "spare.wal.tmp"))).rejects.toThrow();
  });

  it("truncates a torn record inside preallocated space with one warning", async () => {
    let s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES });
    for (let i = 1; i <= 3; i++) await s.append(hs(1, i - 1), [entry(i, 1)]);
    await s.close();
    const seg = (await d.segments())[0]!;
    const buf = await readFile(seg);
    const end = endOfData(buf);
    // Tear the last record: its final payload byte never reached the disk (zero, as preallocated).
    buf[end - 1] = 0;
    buf[end - 2] = buf[end - 2]! ^ 0xff;
    await writeFile(seg, buf);
    const { logger, lines } = capturingLogger();
    s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES, logger });
    expect(warnings(lines)).toHaveLength(1);
    const loaded = await s.load();
    // The last append was entry 3 with hard state commit 2: the hard state record was torn.
    expect(indexes(loaded)).toEqual([1, 2, 3]);
    expect(loaded.hardState).toEqual(hs(1, 1));
    await s.append(hs(1, 3), [entry(4, 1)]);
    await s.close();
    s = await d.open({ preallocate: true, segmentBytes: SEGMENT_BYTES });
    expect(indexes(await s.load())).toEqual([1, 2, 3, 4]);
    expect(await fileSize(seg)).toBe(SEGMENT_BYTES);
  });
});

describe("records written without sync", () => {
  it("are held in memory until the next write, then land in order", async () => {
    let s = await d.open();
    await s.append(hs(1, 0), [entry(1, 1), entry(2, 1)]);
    const seg = (await d.segments())[0]!;
    const synced = await fileSize(seg);
    await s.append(hs(1, 1), [], false);
    await s.append(hs(1, 2), [], false);
    expect(await fileSize(seg)).toBe(synced);
    await s.append(null, [entry(3, 1)]);
    expect(await fileSize(seg)).toBeGreaterThan(synced);
    await s.close();
    s = await d.open();
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2, 3]);
    expect(loaded.hardState).toEqual(hs(1, 2));
  });

  it("reach the file at close", async () => {
    let s = await d.open();
    await s.append(hs(1, 0), [entry(1, 1)]);
    await s.append(hs(1, 1), [], false);
    await s.close();
    s = await d.open();
    expect((await s.load()).hardState).toEqual(hs(1, 1));
  });

  it("are seen by a later load() of the same storage", async () => {
    const s = await d.open();
    await s.append(hs(1, 0), [entry(1, 1)]);
    await s.append(null, [entry(2, 1)]);
    await s.load();
    await s.append(hs(1, 2), [], false);
    expect((await s.load()).hardState).toEqual(hs(1, 2));
  });
});

describe("endOfData", () => {
  it("finds the end of the last non-zero byte across zero chunks", () => {
    const buf = Buffer.alloc(200_000);
    expect(endOfData(buf)).toBe(0);
    buf[70_000] = 1;
    expect(endOfData(buf)).toBe(70_001);
    buf[199_999] = 7;
    expect(endOfData(buf)).toBe(200_000);
  });
});

describe("a rollover makes the new segment's hard state durable (found by the KV simulation)", () => {
  it("a commit-only hard state that rolls over is written to the new segment, not held in memory", async () => {
    const s = await d.open({ segmentBytes: 200 });
    let i = 1;
    while ((await d.segments()).length === 1) {
      await s.append(hs(1, i - 1), [entry(i, 1, 64)]);
      i++;
    }
    // Fill the new segment too, so the next append rolls over again.
    const before = (await d.segments()).length;
    for (let k = 0; k < 3; k++, i++) await s.append(null, [entry(i, 1, 64)]);
    await s.append(hs(2, i - 1), [], false);
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThan(before);
    // On disk already (a compaction may now delete the older segments that held the last hard state).
    expect(await fileSize(segs.at(-1)!)).toBeGreaterThan(0);
  });
});
