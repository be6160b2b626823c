/**
 * The RaftStorage contract (src/storage/types.ts), as one suite every implementation runs
 * (memory, file, and later PostgreSQL). It uses only the interface, AssertionError and the
 * shared types, so a new implementation plugs in with a `make` function.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Entry, EntryType, type HardState, type Snapshot } from "../../src/raft/types.ts";
import type { ClusterMetadata, PersistedState, RaftStorage } from "../../src/storage/types.ts";
import { AssertionError } from "../../src/util/assert.ts";
import { SNAPSHOT_READ_CHUNK_BYTES } from "../../src/util/limits.ts";

/** One storage under test. */
export interface StorageHarness {
  /** A new, empty, open storage. */
  storage: RaftStorage;
  /**
   * A new open handle on the same persisted data, as after a process restart. The suite calls it
   * only after closing the current handle.
   */
  reopen: () => Promise<RaftStorage>;
  /** Releases everything (closes open handles, removes files). */
  cleanup: () => Promise<void>;
}

/** Entry (index, term) whose data encodes both, so mix-ups show. */
export function entry(index: number, term: number, data?: Uint8Array): Entry {
  return {
    index,
    term,
    type: EntryType.Normal,
    data: data ?? new TextEncoder().encode(`e${index}t${term}`),
  };
}

/** Entries from..to (inclusive) of one term. */
export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function snapshot(index: number, term: number, data = `state@${index}`): Snapshot {
  return {
    metadata: {
      index,
      term,
      confState: { voters: ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"], learners: ["cccccccccccccccc"] },
    },
    data: new TextEncoder().encode(data),
  };
}

/** Comparable form of entries: bytes as arrays (implementations may return Buffer or Uint8Array). */
function plain(es: readonly Entry[]): { index: number; term: number; type: number; data: number[] }[] {
  return es.map((e) => {
    expect(e.data).toBeInstanceOf(Uint8Array);
    return { index: e.index, term: e.term, type: e.type, data: Array.from(e.data) };
  });
}

function plainState(s: PersistedState) {
  return {
    hardState: s.hardState,
    snapshot: s.snapshot && { metadata: s.snapshot.metadata, data: Array.from(s.snapshot.data) },
    entries: plain(s.entries),
  };
}

/** The newest saved snapshot's data read back through readSnapshotData, and the largest chunk seen. */
async function savedData(s: RaftStorage): Promise<{ data: number[]; maxChunk: number } | null> {
  const r = s.readSnapshotData();
  if (r === null) return null;
  const parts: Uint8Array[] = [];
  let maxChunk = 0;
  for await (const c of r.chunks) {
    parts.push(new Uint8Array(c));
    maxChunk = Math.max(maxChunk, c.length);
  }
  const data = Array.from(Buffer.concat(parts));
  expect(data.length).toBe(r.dataBytes);
  return { data, maxChunk };
}

const hs = (term: number, vote: string, commit: number): HardState => ({ term, vote, commit });
const META: ClusterMetadata = { clusterId: "0123456789abcdef", memberId: "fedcba9876543210", name: "node-1" };

/**
 * Registers the contract tests for one implementation.
 * @param name shown in the describe block
 * @param make creates a fresh harness per test
 */
export function runStorageContract(name: string, make: () => Promise<StorageHarness>): void {
  describe(`RaftStorage contract: ${name}`, () => {
    let h: StorageHarness;
    let s: RaftStorage;
    beforeEach(async () => {
      h = await make();
      s = h.storage;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    async function reopen(): Promise<RaftStorage> {
      await s.close();
      s = await h.reopen();
      return s;
    }

    it("loads an empty state from a new storage", async () => {
      expect(await s.load()).toEqual({ hardState: null, snapshot: null, entries: [] });
      expect(await s.readMetadata()).toBeNull();
    });

    it("returns appended entries in order with their type and bytes", async () => {
      const es: Entry[] = [
        entry(1, 1, new Uint8Array(0)),
        { index: 2, term: 1, type: EntryType.ConfChange, data: new Uint8Array([0, 1, 2, 255]) },
        entry(
          3,
          2,
          Uint8Array.from({ length: 256 }, (_, i) => i),
        ),
      ];
      await s.append(null, es);
      await s.append(null, entries(4, 6, 2));
      expect(plain((await s.load()).entries)).toEqual(plain([...es, ...entries(4, 6, 2)]));
    });

    it("round-trips a batch of many entries", async () => {
      const es = entries(1, 1000, 3);
      await s.append(hs(3, "", 0), es);
      const loaded = await s.load();
      expect(loaded.entries).toHaveLength(1000);
      expect(plain(loaded.entries)).toEqual(plain(es));
    });

    it("stores the hard state: the latest wins, null keeps the previous one", async () => {
      await s.append(hs(1, "aaaaaaaaaaaaaaaa", 0), []);
      expect((await s.load()).hardState).toEqual(hs(1, "aaaaaaaaaaaaaaaa", 0));
      await s.append(hs(2, "", 0), entries(1, 2, 2));
      await s.append(null, entries(3, 3, 2));
      expect((await s.load()).hardState).toEqual(hs(2, "", 0));
      await s.append(hs(2, "bbbbbbbbbbbbbbbb", 3), []);
      expect((await s.load()).hardState).toEqual(hs(2, "bbbbbbbbbbbbbbbb", 3));
    });

    it("overwrites a conflicting suffix (Raft §5.3)", async () => {
      await s.append(hs(1, "", 0), entries(1, 5, 1));
      await s.append(hs(2, "", 0), entries(3, 4, 2));
      expect(plain((await s.load()).entries)).toEqual(plain([...entries(1, 2, 1), ...entries(3, 4, 2)]));
      await s.append(null, entries(5, 6, 2));
      await s.append(hs(3, "", 0), entries(6, 6, 3));
      expect(plain((await s.load()).entries)).toEqual(
        plain([...entries(1, 2, 1), ...entries(3, 5, 2), ...entries(6, 6, 3)]),
      );
    });

    it("replaces the whole log when an append starts at its first index", async () => {
      await s.append(hs(1, "", 0), entries(1, 3, 1));
      await s.append(hs(2, "", 0), entries(1, 1, 2));
      expect(plain((await s.load()).entries)).toEqual(plain(entries(1, 1, 2)));
    });

    it("rejects a non-contiguous append and keeps the stored log", async () => {
      await s.append(null, entries(1, 2, 1));
      await expect(s.append(null, entries(4, 4, 1))).rejects.toThrow(AssertionError);
      await expect(s.append(null, [entry(3, 1), entry(5, 1)])).rejects.toThrow(AssertionError);
      expect(plain((await s.load()).entries)).toEqual(plain(entries(1, 2, 1)));
      await s.append(null, entries(3, 3, 1));
      expect((await s.load()).entries.map((e) => e.index)).toEqual([1, 2, 3]);
    });

    it("rejects a first append that does not start at index 1", async () => {
      await expect(s.append(null, entries(2, 3, 1))).rejects.toThrow(AssertionError);
      expect((await s.load()).entries).toEqual([]);
    });

    it("rejects a hard state whose term goes back or whose vote changes within a term (Raft §5.2)", async () => {
      await s.append(hs(3, "aaaaaaaaaaaaaaaa", 0), []);
      await expect(s.append(hs(2, "", 0), [])).rejects.toThrow(AssertionError);
      await expect(s.append(hs(3, "bbbbbbbbbbbbbbbb", 0), [])).rejects.toThrow(AssertionError);
      expect((await s.load()).hardState).toEqual(hs(3, "aaaaaaaaaaaaaaaa", 0));
      await s.append(hs(4, "bbbbbbbbbbbbbbbb", 0), []);
      expect((await s.load()).hardState).toEqual(hs(4, "bbbbbbbbbbbbbbbb", 0));
    });

    it("rejects a commit index beyond the last index and entries of a term above the current one", async () => {
      await s.append(hs(1, "", 0), entries(1, 2, 1));
      await expect(s.append(hs(1, "", 3), [])).rejects.toThrow(AssertionError);
      await expect(s.append(null, entries(3, 3, 2))).rejects.toThrow(AssertionError);
      await s.append(hs(1, "", 3), entries(3, 3, 1));
      expect((await s.load()).hardState).toEqual(hs(1, "", 3));
    });

    it("saves and loads a snapshot with its metadata and bytes", async () => {
      await s.append(hs(2, "", 0), entries(1, 4, 2));
      await s.append(hs(2, "", 4), []);
      await s.saveSnapshot(snapshot(4, 2));
      const loaded = await s.load();
      expect(loaded.snapshot?.metadata).toEqual(snapshot(4, 2).metadata);
      expect(loaded.snapshot!.data.length).toBe(0);
      expect((await savedData(s))?.data).toEqual(Array.from(snapshot(4, 2).data));
      expect(s.readSnapshotData()?.metadata).toEqual(snapshot(4, 2).metadata);
      expect(loaded.entries).toEqual([]);
      await s.append(null, entries(5, 6, 2));
      expect((await s.load()).entries.map((e) => e.index)).toEqual([5, 6]);
    });

    it("keeps the entries after a snapshot that matches the log (local snapshot)", async () => {
      await s.append(hs(1, "", 8), entries(1, 10, 1));
      await s.saveSnapshot(snapshot(5, 1));
      const loaded = await s.load();
      expect(loaded.snapshot?.metadata.index).toBe(5);
      expect(plain(loaded.entries)).toEqual(plain(entries(6, 10, 1)));
    });

    it("discards a log that conflicts with a received snapshot (Raft §7)", async () => {
      await s.append(hs(1, "", 2), entries(1, 10, 1));
      await s.append(hs(2, "", 2), []);
      await s.saveSnapshot(snapshot(8, 2));
      expect((await s.load()).entries).toEqual([]);
      await s.append(hs(2, "", 8), entries(9, 9, 2));
      await reopen();
      const loaded = await s.load();
      expect(loaded.snapshot?.metadata).toMatchObject({ index: 8, term: 2 });
      expect(plain(loaded.entries)).toEqual(plain(entries(9, 9, 2)));
    });

    it("discards a log shorter than a received snapshot", async () => {
      await s.append(hs(1, "", 1), entries(1, 3, 1));
      await s.saveSnapshot(snapshot(10, 1));
      expect((await s.load()).entries).toEqual([]);
      await s.append(hs(1, "", 10), entries(11, 12, 1));
      await reopen();
      expect((await s.load()).entries.map((e) => e.index)).toEqual([11, 12]);
    });

    it("refuses a snapshot contradicting a committed entry, an older snapshot, and appends it covers", async () => {
      await s.append(hs(2, "", 6), [...entries(1, 5, 1), ...entries(6, 8, 2)]);
      await expect(s.saveSnapshot(snapshot(6, 1))).rejects.toThrow(AssertionError);
      await s.saveSnapshot(snapshot(6, 2));
      await expect(s.saveSnapshot(snapshot(5, 1))).rejects.toThrow(AssertionError);
      await expect(s.append(null, entries(6, 6, 2))).rejects.toThrow(AssertionError);
      expect((await s.load()).snapshot?.metadata.index).toBe(6);
    });

    it("returns commit >= the snapshot index when the hard state was not yet saved after it", async () => {
      await s.append(hs(1, "", 2), entries(1, 5, 1));
      await s.saveSnapshot(snapshot(5, 1));
      await reopen();
      expect((await s.load()).hardState).toEqual(hs(1, "", 5));
    });

    it("returns only the entries after the snapshot once compacted", async () => {
      await s.append(hs(1, "", 20), entries(1, 20, 1));
      await s.saveSnapshot(snapshot(10, 1));
      await s.compact(10);
      let loaded = await s.load();
      expect(loaded.snapshot?.metadata.index).toBe(10);
      expect(plain(loaded.entries)).toEqual(plain(entries(11, 20, 1)));
      await s.append(null, entries(21, 25, 1));
      await reopen();
      loaded = await s.load();
      expect(plain(loaded.entries)).toEqual(plain(entries(11, 25, 1)));
      await expect(s.compact(11)).rejects.toThrow(AssertionError);
    });

    it("writes, overwrites and reads the cluster metadata", async () => {
      await s.writeMetadata(META);
      expect(await s.readMetadata()).toEqual(META);
      const renamed = { ...META, name: "node-2" };
      await s.writeMetadata(renamed);
      expect(await s.readMetadata()).toEqual(renamed);
      await reopen();
      expect(await s.readMetadata()).toEqual(renamed);
    });

    it("gives the same state after a reopen, and keeps enforcing contiguity", async () => {
      await s.writeMetadata(META);
      await s.append(hs(1, "aaaaaaaaaaaaaaaa", 0), entries(1, 30, 1));
      await s.append(hs(2, "bbbbbbbbbbbbbbbb", 12), entries(13, 15, 2));
      await s.saveSnapshot(snapshot(12, 1));
      await s.compact(12);
      await s.append(hs(2, "bbbbbbbbbbbbbbbb", 15), entries(16, 16, 2));
      const before = plainState(await s.load());
      await reopen();
      expect(plainState(await s.load())).toEqual(before);
      expect(await s.readMetadata()).toEqual(META);
      await expect(s.append(null, entries(18, 18, 2))).rejects.toThrow(AssertionError);
      await expect(s.append(null, entries(12, 12, 2))).rejects.toThrow(AssertionError);
      await s.append(null, entries(17, 17, 2));
      await reopen();
      expect((await s.load()).entries.map((e) => e.index)).toEqual([13, 14, 15, 16, 17]);
    });

    it("copies buffers: callers may reuse theirs and mutate what load returns", async () => {
      const data = new Uint8Array([1, 2, 3]);
      await s.append(hs(1, "", 0), [entry(1, 1, data)]);
      data[0] = 99;
      await s.append(null, [entry(2, 1, data)]);
      const first = await s.load();
      expect(first.entries.map((e) => Array.from(e.data))).toEqual([
        [1, 2, 3],
        [99, 2, 3],
      ]);
      first.entries[0]!.data[0] = 42;
      expect(Array.from((await s.load()).entries[0]!.data)).toEqual([1, 2, 3]);

      const snapData = new Uint8Array([7, 7]);
      await s.append(hs(1, "", 2), []);
      await s.saveSnapshot({
        metadata: { index: 2, term: 1, confState: { voters: [], learners: [] } },
        data: snapData,
      });
      snapData[0] = 99;
      expect((await s.load()).snapshot?.metadata.index).toBe(2);
      expect((await savedData(s))?.data).toEqual([7, 7]);
    });

    it("has no snapshot data before a snapshot is saved", async () => {
      expect(s.readSnapshotData()).toBeNull();
    });

    it("stages a large snapshot chunk by chunk, saves it, and reads it back in bounded chunks", async () => {
      await s.append(hs(3, "", 5), entries(1, 5, 3));
      const chunkCount = 40;
      const chunkBytes = 100_000;
      function* chunks() {
        for (let i = 0; i < chunkCount; i++) yield new Uint8Array(chunkBytes).fill(i);
      }
      const meta = snapshot(5, 3).metadata;
      const staged = await s.stageSnapshot(meta, chunks());
      expect(staged.dataBytes).toBe(chunkCount * chunkBytes);
      expect(staged.metadata).toEqual(meta);
      // Staging changes nothing stored.
      expect((await s.load()).snapshot).toBeNull();
      expect(s.readSnapshotData()).toBeNull();
      await s.saveSnapshot(staged);
      expect((await s.load()).snapshot?.metadata).toEqual(meta);
      const read = await savedData(s);
      expect(read!.maxChunk).toBeLessThanOrEqual(SNAPSHOT_READ_CHUNK_BYTES);
      expect(read!.data.length).toBe(chunkCount * chunkBytes);
      for (let i = 0; i < chunkCount; i++) expect(read!.data[i * chunkBytes + 7]).toBe(i);
      const again = await reopen();
      expect((await again.load()).snapshot?.metadata).toEqual(meta);
      expect((await savedData(again))?.data).toEqual(read!.data);
    });

    it("stages while appends go on, and a discarded staged snapshot leaves no trace", async () => {
      await s.append(hs(1, "", 2), entries(1, 2, 1));
      const staging = s.stageSnapshot(snapshot(2, 1).metadata, [new Uint8Array([1]), new Uint8Array([2])]);
      await s.append(hs(1, "", 3), entries(3, 3, 1));
      const staged = await staging;
      await s.discardStaged(staged);
      await s.discardStaged(staged);
      expect((await s.load()).snapshot).toBeNull();
      await s.saveSnapshot(snapshot(3, 1, "kept"));
      expect(Buffer.from((await savedData(s))!.data).toString()).toBe("kept");
    });

    it("staging fails, and saves nothing, when reading the data fails", async () => {
      await s.append(hs(1, "", 2), entries(1, 2, 1));
      async function* broken() {
        yield new Uint8Array([1, 2]);
        throw new Error("peer went away");
      }
      await expect(s.stageSnapshot(snapshot(2, 1).metadata, broken())).rejects.toThrow("peer went away");
      expect((await s.load()).snapshot).toBeNull();
      expect(s.readSnapshotData()).toBeNull();
    });

    it("reports a size that grows with the stored data", async () => {
      const before = await s.sizeBytes();
      expect(before).toBeGreaterThanOrEqual(0);
      await s.append(null, [entry(1, 1, new Uint8Array(64 * 1024).fill(5))]);
      expect(await s.sizeBytes()).toBeGreaterThanOrEqual(before + 64 * 1024);
    });

    it("throws on every call after close", async () => {
      await s.append(hs(1, "", 0), entries(1, 1, 1));
      await s.close();
      await expect(s.load()).rejects.toThrow();
      await expect(s.append(null, entries(2, 2, 1))).rejects.toThrow();
      await expect(s.saveSnapshot(snapshot(1, 1))).rejects.toThrow();
      await expect(s.compact(0)).rejects.toThrow();
      await expect(s.readMetadata()).rejects.toThrow();
      await expect(s.writeMetadata(META)).rejects.toThrow();
      await expect(s.sizeBytes()).rejects.toThrow();
      s = await h.reopen();
      expect((await s.load()).entries.map((e) => e.index)).toEqual([1]);
    });
  });
}
