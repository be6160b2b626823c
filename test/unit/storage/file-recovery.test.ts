/**
 * Recovery of the file storage from damaged files: a torn or corrupt WAL tail is truncated with
 * a warning (it was never acknowledged); damage before the tail refuses to start; a broken
 * snapshot falls back to an older one only when the WAL still has the entries after it.
 * Also segment rollover, compaction and suffix overwrite across segments, and the data dir lock.
 */
import { spawnSync } from "node:child_process";
import { readFile, rename, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HardState, Snapshot } from "../../../src/raft/types.ts";
import { DataDirLockedError } from "../../../src/storage/file/index.ts";
import { parseSegmentName } from "../../../src/storage/file/layout.ts";
import { StorageCorruptError } from "../../../src/storage/types.ts";
import { capturingLogger, entry, fileSize, flipByte, TempDataDir, warnings } from "./helpers.ts";

const hs = (term: number, commit: number): HardState => ({ term, vote: "", commit });

function snapshot(index: number, term: number, size = 64): Snapshot {
  return {
    metadata: { index, term, confState: { voters: ["aaaaaaaaaaaaaaaa"], learners: [] } },
    data: new Uint8Array(size).fill(index & 0xff),
  };
}

const indexes = (s: { entries: { index: number }[] }) => s.entries.map((e) => e.index);

let d: TempDataDir;
beforeEach(async () => {
  d = await TempDataDir.create();
});
afterEach(async () => {
  await d.cleanup();
});

/** Appends entries 1..5 (one per call) to a new storage; returns the segment and its size after each append. */
async function fiveAppends(): Promise<{ seg: string; sizes: number[] }> {
  const s = await d.open();
  const sizes: number[] = [];
  for (let i = 1; i <= 5; i++) {
    await s.append(i === 1 ? hs(1, 0) : null, [entry(i, 1)]);
    sizes.push(await fileSize((await d.segments())[0]!));
  }
  await s.close();
  const segs = await d.segments();
  expect(segs).toHaveLength(1);
  return { seg: segs[0]!, sizes };
}

describe("WAL tail damage is truncated with a warning", () => {
  const cases: [string, (seg: string, sizes: number[]) => Promise<void>][] = [
    ["torn payload (last 3 bytes cut)", (seg, sizes) => truncate(seg, sizes[4]! - 3)],
    ["torn header (5 bytes of the last record left)", (seg, sizes) => truncate(seg, sizes[3]! + 5)],
    ["last record's payload checksum fails", (seg) => flipByte(seg, -1)],
    ["last record's header checksum fails", (seg, sizes) => flipByte(seg, sizes[3]!)],
  ];
  it.each(cases)("%s", async (_, damage) => {
    const { seg, sizes } = await fiveAppends();
    await damage(seg, sizes);
    const { logger, lines } = capturingLogger();
    let s = await d.open({ logger });
    const w = warnings(lines);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ file: seg, offset: sizes[3] });
    expect(await fileSize(seg)).toBe(sizes[3]);
    expect(indexes(await s.load())).toEqual([1, 2, 3, 4]);

    const replacement = entry(5, 1, 40);
    await s.append(hs(1, 5), [replacement]);
    await s.close();
    s = await d.open();
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(loaded.entries[4]!.data)).toEqual(Array.from(replacement.data));
    expect(loaded.hardState).toEqual(hs(1, 5));
  });

  it("keeps the whole records of a torn multi-record batch and the older hard state", async () => {
    let s = await d.open();
    await s.append(hs(1, 0), [entry(1, 1), entry(2, 1)]);
    await s.close();
    const seg = (await d.segments())[0]!;
    const before = await fileSize(seg);
    s = await d.open();
    await s.append(hs(1, 4), [entry(3, 1), entry(4, 1), entry(5, 1)]);
    await s.close();
    // Cut inside entry 4's record: entry 3 is whole; entry 5 and the new hard state are gone.
    await truncate(seg, before + 46 + 10);
    const { logger, lines } = capturingLogger();
    s = await d.open({ logger });
    expect(warnings(lines)).toHaveLength(1);
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual([1, 2, 3]);
    expect(loaded.hardState).toEqual(hs(1, 0));
  });
});

describe("WAL damage before the tail refuses to start", () => {
  it.each([
    ["a payload byte of record 2", (sizes: number[]) => sizes[0]! + 20],
    ["the length field of record 2", (sizes: number[]) => sizes[0]!],
    ["the payload checksum of record 1", () => 4],
  ])("flipping %s throws StorageCorruptError naming the file and offset", async (_, at) => {
    const { seg, sizes } = await fiveAppends();
    const offset = at(sizes);
    await flipByte(seg, offset);
    const recordStart = offset < sizes[0]! ? 0 : sizes[0]!;
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second attempt shows the failed open released the lock and changed nothing.
      const err = await d.open().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect((err as Error).message).toContain(seg);
      expect((err as Error).message).toContain(`offset ${recordStart}`);
    }
    expect(await fileSize(seg)).toBe(sizes[4]);
  });

  it("damage at the tail of a segment that is not the last one throws", async () => {
    const s = await d.open({ segmentBytes: 100 });
    for (let i = 1; i <= 8; i++) await s.append(i === 1 ? hs(1, 0) : null, [entry(i, 1)]);
    await s.close();
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThanOrEqual(3);
    await truncate(segs[0]!, (await fileSize(segs[0]!)) - 3);
    const err = await d.open({ segmentBytes: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect((err as Error).message).toContain(segs[0]!);
    expect((err as Error).message).toContain("not the last");
  });

  it("a missing segment in the middle throws", async () => {
    const s = await d.open({ segmentBytes: 100 });
    for (let i = 1; i <= 8; i++) await s.append(i === 1 ? hs(1, 0) : null, [entry(i, 1)]);
    await s.close();
    const segs = await d.segments();
    await unlink(segs[1]!);
    await expect(d.open({ segmentBytes: 100 })).rejects.toThrow(/missing/);
  });

  it("snapshot files without a WAL throw (the hard state is lost)", async () => {
    const s = await d.open();
    await s.append(hs(1, 3), [entry(1, 1), entry(2, 1), entry(3, 1)]);
    await s.saveSnapshot(snapshot(3, 1));
    await s.close();
    for (const seg of await d.segments()) await unlink(seg);
    await expect(d.open()).rejects.toThrow(StorageCorruptError);
  });
});

describe("segments", () => {
  it("rolls over, compacts whole old segments, and keeps the hard state written before them", async () => {
    let s = await d.open({ segmentBytes: 300 });
    // The only hard state record goes to the first segment; rolled segments must carry it on.
    await s.append({ term: 1, vote: "aaaaaaaaaaaaaaaa", commit: 0 }, [entry(1, 1, 40)]);
    await s.append({ term: 1, vote: "aaaaaaaaaaaaaaaa", commit: 2 }, [entry(2, 1, 40)]);
    for (let i = 3; i <= 40; i++) await s.append(null, [entry(i, 1, 40)]);
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThanOrEqual(5);
    expect(s.walSegmentCount).toBe(segs.length);
    const firstIndexes = segs.map((p) => parseSegmentName(basename(p))!.firstIndex);
    expect(firstIndexes[0]).toBe(1);
    expect([...firstIndexes].sort((a, b) => a - b)).toEqual(firstIndexes);

    await s.close();
    s = await d.open({ segmentBytes: 300 });
    expect(indexes(await s.load())).toEqual(Array.from({ length: 40 }, (_, k) => k + 1));

    // Compact one below the last entry of segment 2: segments 0 and 1 go, segment 2 must stay.
    const at = firstIndexes[3]! - 2;
    await s.saveSnapshot(snapshot(at, 1));
    const sizeBefore = await s.sizeBytes();
    await s.compact(at);
    const kept = await d.segments();
    expect(kept).toEqual(segs.slice(2));
    expect(await s.sizeBytes()).toBeLessThan(sizeBefore);

    await s.close();
    s = await d.open({ segmentBytes: 300 });
    const loaded = await s.load();
    expect(indexes(loaded)).toEqual(Array.from({ length: 40 - at }, (_, k) => k + at + 1));
    expect(loaded.hardState).toEqual({ term: 1, vote: "aaaaaaaaaaaaaaaa", commit: at });
    expect(loaded.snapshot?.metadata.index).toBe(at);
  });

  it("throws when a lost segment leaves the commit index beyond the log", async () => {
    const s = await d.open({ segmentBytes: 100 });
    await s.append(hs(1, 0), [entry(1, 1)]);
    for (let i = 2; i <= 6; i++) await s.append(null, [entry(i, 1)]);
    await s.append(hs(1, 6), []);
    await s.close();
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThanOrEqual(3);
    // Lose the segment before the last one and renumber the last, so only the commit check can notice.
    const last = segs.at(-1)!;
    const prev = segs.at(-2)!;
    await unlink(prev);
    await rename(last, prev);
    const err = await d.open({ segmentBytes: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect((err as Error).message).toMatch(/commit index 6 is beyond the last stored index/);
  });

  it("overwrites a suffix that spans a segment boundary", async () => {
    let s = await d.open({ segmentBytes: 300 });
    await s.append(hs(1, 0), [entry(1, 1, 40)]);
    for (let i = 2; i <= 20; i++) await s.append(null, [entry(i, 1, 40)]);
    const segs = await d.segments();
    expect(segs.length).toBeGreaterThanOrEqual(3);
    const boundary = parseSegmentName(basename(segs.at(-1)!))!.firstIndex;
    const x = boundary - 2; // in the previous segment; the overwrite removes entries of both segments
    await s.append(hs(2, x - 1), [entry(x, 2, 40), entry(x + 1, 2, 40)]);
    await s.close();

    s = await d.open({ segmentBytes: 300 });
    let loaded = await s.load();
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      ...Array.from({ length: x - 1 }, (_, k) => [k + 1, 1]),
      [x, 2],
      [x + 1, 2],
    ]);
    for (let i = x + 2; i <= x + 5; i++) await s.append(null, [entry(i, 2, 40)]);
    await s.append(hs(2, x + 5), []);
    await s.saveSnapshot(snapshot(x + 3, 2));
    await s.compact(x + 3);
    await s.close();

    s = await d.open({ segmentBytes: 300 });
    loaded = await s.load();
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([
      [x + 4, 2],
      [x + 5, 2],
    ]);
    expect(Array.from(loaded.entries[0]!.data)).toEqual(Array.from(entry(x + 4, 2, 40).data));
  });
});

describe("snapshot files", () => {
  /** Entries 1..30, snapshots at 10 and 20; optionally compacted to 20 with small segments. */
  async function twoSnapshots(compactTo20: boolean): Promise<{ newest: string; older: string }> {
    const s = await d.open({ segmentBytes: 200 });
    await s.append(hs(1, 0), [entry(1, 1)]);
    for (let i = 2; i <= 30; i++) await s.append(null, [entry(i, 1)]);
    await s.append(hs(1, 30), []);
    await s.saveSnapshot(snapshot(10, 1));
    await s.saveSnapshot(snapshot(20, 1));
    if (compactTo20) await s.compact(20);
    await s.close();
    const files = await d.snapFiles();
    expect(files).toHaveLength(2);
    return { older: join(d.snapDir, files[0]!), newest: join(d.snapDir, files[1]!) };
  }

  const damages: [string, (path: string) => Promise<void>][] = [
    ["a data byte flipped", (p) => flipByte(p, -1)],
    ["the magic flipped", (p) => flipByte(p, 0)],
    ["torn to half its size", async (p) => truncate(p, Math.floor((await fileSize(p)) / 2))],
  ];

  it.each(damages)(
    "falls back to the older snapshot when the WAL has the entries after it (%s)",
    async (_, damage) => {
      const { newest, older } = await twoSnapshots(false);
      await damage(newest);
      const { logger, lines } = capturingLogger();
      let s = await d.open({ logger, segmentBytes: 200 });
      const w = warnings(lines);
      expect(w).toHaveLength(1);
      expect(w[0]).toMatchObject({ file: newest, using: older });
      const loaded = await s.load();
      expect(loaded.snapshot?.metadata.index).toBe(10);
      const parts: Uint8Array[] = [];
      for await (const c of s.readSnapshotData()!.chunks) parts.push(c);
      expect(Array.from(Buffer.concat(parts))).toEqual(Array.from(snapshot(10, 1).data));
      expect(indexes(loaded)).toEqual(Array.from({ length: 20 }, (_, k) => k + 11));
      expect(await d.snapFiles()).toEqual([basename(older), `${basename(newest)}.broken`]);

      await s.close();
      const again = capturingLogger();
      s = await d.open({ logger: again.logger, segmentBytes: 200 });
      expect(warnings(again.lines)).toEqual([]);
      expect((await s.load()).snapshot?.metadata.index).toBe(10);
    },
  );

  it("reading the snapshot data fails with StorageCorruptError when the file changed after it verified", async () => {
    const { newest } = await twoSnapshots(false);
    const s = await d.open({ segmentBytes: 200 });
    await flipByte(newest, -1);
    const read = async () => {
      for await (const _ of s.readSnapshotData()!.chunks);
    };
    await expect(read()).rejects.toThrow(StorageCorruptError);
    await s.close();
  });

  it("uses no snapshot when all are broken and the WAL starts at index 1", async () => {
    const { newest, older } = await twoSnapshots(false);
    await flipByte(newest, -1);
    await flipByte(older, -1);
    const { logger, lines } = capturingLogger();
    const s = await d.open({ logger, segmentBytes: 200 });
    expect(warnings(lines)).toHaveLength(2);
    const loaded = await s.load();
    expect(loaded.snapshot).toBeNull();
    expect(indexes(loaded)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
  });

  it("throws StorageCorruptError when the WAL no longer has the entries after the older snapshot", async () => {
    const { newest } = await twoSnapshots(true);
    await flipByte(newest, -1);
    const err = await d.open({ segmentBytes: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptError);
    expect((err as Error).message).toMatch(/missing/);
    expect((err as Error).message).toContain(newest);
    // Nothing was renamed or deleted: the operator decides.
    expect(await d.snapFiles()).toContain(basename(newest));
  });

  it("keeps the newest three snapshot files and removes leftover temp files", async () => {
    let s = await d.open();
    await s.append(
      hs(1, 10),
      Array.from({ length: 10 }, (_, k) => entry(k + 1, 1)),
    );
    for (let i = 1; i <= 6; i++) await s.saveSnapshot(snapshot(i, 1));
    expect(await d.snapFiles()).toEqual([
      "0000000000000001-0000000000000004.snap",
      "0000000000000001-0000000000000005.snap",
      "0000000000000001-0000000000000006.snap",
    ]);
    await s.close();
    await writeFile(join(d.snapDir, "0000000000000001-0000000000000007.snap.tmp"), "partial");
    s = await d.open();
    expect(await d.snapFiles()).not.toContain("0000000000000001-0000000000000007.snap.tmp");
    expect((await s.load()).snapshot?.metadata.index).toBe(6);
  });
});

describe("metadata file", () => {
  it("is JSON replaced atomically, and a malformed one throws StorageCorruptError", async () => {
    const s = await d.open();
    const meta = { clusterId: "0123456789abcdef", memberId: "fedcba9876543210", name: "n1" };
    await s.writeMetadata(meta);
    const path = join(d.dir, "member", "meta.json");
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual(meta);
    await writeFile(path, '{"clusterId": "0123"');
    await expect(s.readMetadata()).rejects.toThrow(StorageCorruptError);
    await writeFile(path, '{"clusterId": 5, "memberId": "x", "name": "y"}');
    await expect(s.readMetadata()).rejects.toThrow(StorageCorruptError);
  });
});

describe("data dir lock", () => {
  const lockPath = () => join(d.dir, "member", "LOCK");

  it("refuses a second open while the first is open, and allows it after close", async () => {
    const first = await d.open();
    expect((await readFile(lockPath(), "utf8")).trim()).toBe(String(process.pid));
    const err = await d.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toMatch(new RegExp(`used by another process \\(pid ${process.pid}\\)`));
    await first.close();
    await expect(readFile(lockPath())).rejects.toThrow(/ENOENT/);
    const second = await d.open();
    await second.append(hs(1, 0), []);
  });

  it("replaces a stale lock whose process is gone", async () => {
    const s = await d.open();
    await s.close();
    const child = spawnSync(process.execPath, ["-e", ""]);
    expect(child.pid).toBeGreaterThan(0);
    await writeFile(lockPath(), `${child.pid}\n`);
    await d.open();
    expect((await readFile(lockPath(), "utf8")).trim()).toBe(String(process.pid));
  });

  it("refuses a lock file without a pid", async () => {
    const s = await d.open();
    await s.close();
    await writeFile(lockPath(), "");
    await expect(d.open()).rejects.toThrow(DataDirLockedError);
    await rm(lockPath());
    await d.open();
  });
});
