import { describe, expect, it } from "vitest";
import type { CairnError } from "../../../src/util/errors.ts";
import { del, errorCode, get, keys, newStore, pairs, put } from "./helpers.ts";

function compact(s: ReturnType<typeof newStore>, revision: number) {
  return s.apply({ op: "compact", req: { revision } });
}

describe("compaction", () => {
  it("returns the current revision and does not move it", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    put(s, "a", "2"); // 3
    expect(compact(s, 2)).toEqual({ header: { revision: 3 } });
    expect(s.revision).toBe(3);
    expect(s.compactRevision).toBe(2);
  });

  it("fails with future_revision above the current revision; compacting at the current one works", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    expect(errorCode(() => compact(s, 3))).toBe("future_revision");
    expect(s.compactRevision).toBe(0);
    compact(s, 2);
    expect(s.compactRevision).toBe(2);
  });

  it("fails with compacted at or below the compact revision", () => {
    const s = newStore();
    put(s, "a", "1");
    put(s, "a", "2");
    put(s, "a", "3"); // 4
    compact(s, 3);
    for (const rev of [3, 2]) {
      try {
        compact(s, rev);
        expect.unreachable();
      } catch (err) {
        expect((err as CairnError).code).toBe("compacted");
        expect((err as CairnError).details).toEqual({ compactRevision: 3 });
      }
    }
    expect(errorCode(() => compact(newStore(), 0))).toBe("compacted");
    expect(errorCode(() => compact(s, 1.5))).toBe("invalid_argument");
    expect(s.compactRevision).toBe(3);
  });

  it("reads at the compact revision and later are unchanged; below fail", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    put(s, "b", "1"); // 3
    put(s, "a", "2"); // 4
    del(s, "b"); // 5
    put(s, "c", "1"); // 6
    put(s, "a", "3"); // 7
    const readAll = (rev: number) => get(s, "\0", "\0", { revision: rev }).kvs;
    const expected = [4, 5, 6, 7].map(readAll);
    compact(s, 4);
    expect([4, 5, 6, 7].map(readAll)).toEqual(expected);
    expect(errorCode(() => readAll(3))).toBe("compacted");
    expect(pairs(readAll(4))).toEqual([
      ["a", "2"],
      ["b", "1"],
    ]);
  });

  it("keeps the newest version at the compact revision with its create revision and version", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    put(s, "a", "2"); // 3
    put(s, "a", "3"); // 4
    compact(s, 4);
    const [kv] = get(s, "a").kvs;
    expect([kv?.createRevision, kv?.modRevision, kv?.version]).toEqual([2, 4, 3]);
    put(s, "a", "4");
    expect(get(s, "a").kvs[0]?.version).toBe(4);
  });

  it("drops tombstones at or before the compact revision and the keys they ended", () => {
    const s = newStore();
    put(s, "gone", "x".repeat(500)); // 2
    del(s, "gone"); // 3
    put(s, "kept", "1"); // 4
    const before = s.sizeBytes;
    compact(s, 4);
    expect(s.sizeBytes).toBeLessThan(before - 500);
    expect(get(s, "\0", "\0", { revision: 4 }).count).toBe(1);
    // the key can be created again as a fresh key
    put(s, "gone", "again");
    const [kv] = get(s, "gone").kvs;
    expect([kv?.createRevision, kv?.version]).toEqual([5, 1]);
  });

  it("keeps a tombstone newer than the compact revision, so reads before it still work", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    put(s, "a", "2"); // 3
    del(s, "a"); // 4
    compact(s, 3);
    expect(pairs(get(s, "a", undefined, { revision: 3 }).kvs)).toEqual([["a", "2"]]);
    expect(get(s, "a", undefined, { revision: 4 }).count).toBe(0);
  });

  it("frees memory of old history", () => {
    const s = newStore();
    for (let i = 0; i < 50; i++) put(s, "k", `value-${i}-${"x".repeat(100)}`);
    const before = s.sizeBytes;
    compact(s, s.revision);
    expect(s.sizeBytes).toBeLessThan(before / 10);
    expect(s.keyCount).toBe(1);
    expect(keys(get(s, "k").kvs)).toEqual(["k"]);
  });

  it("compacting twice in a row at increasing revisions works", () => {
    const s = newStore();
    for (let i = 0; i < 5; i++) put(s, `k${i}`, "v");
    compact(s, 3);
    compact(s, 5);
    expect(s.compactRevision).toBe(5);
    expect(get(s, "\0", "\0", { revision: 5 }).count).toBe(4);
    expect(errorCode(() => get(s, "\0", "\0", { revision: 4 }))).toBe("compacted");
  });
});
