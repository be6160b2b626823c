import { describe, expect, it } from "vitest";
import { prefixEnd } from "../../../src/mvcc/keys.ts";
import type { KvStore } from "../../../src/mvcc/store.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { b, del, errorCode, get, keys, newStore, pairs, put } from "./helpers.ts";

function fiveKeys() {
  const s = newStore();
  put(s, "a", "1"); // 2
  put(s, "b", "2"); // 3
  put(s, "c", "3"); // 4
  put(s, "d", "4"); // 5
  put(s, "e", "5"); // 6
  return s;
}

describe("range: which keys", () => {
  it("a single key; a missing key gives nothing", () => {
    const s = fiveKeys();
    expect(pairs(get(s, "c").kvs)).toEqual([["c", "3"]]);
    expect(get(s, "c").count).toBe(1);
    expect(get(s, "cc")).toEqual({ header: { revision: 6 }, kvs: [], more: false, count: 0 });
  });

  it("[key, rangeEnd) excludes rangeEnd", () => {
    const s = fiveKeys();
    expect(keys(get(s, "b", "d").kvs)).toEqual(["b", "c"]);
    expect(keys(get(s, "b", "dd").kvs)).toEqual(["b", "c", "d"]);
  });

  it("rangeEnd <= key gives nothing", () => {
    const s = fiveKeys();
    expect(get(s, "d", "b").kvs).toEqual([]);
    expect(get(s, "d", "d").count).toBe(0);
  });

  it("rangeEnd [0x00] gives every key >= key; key [0x00] with it gives all keys", () => {
    const s = fiveKeys();
    expect(keys(get(s, "c", "\0").kvs)).toEqual(["c", "d", "e"]);
    expect(keys(get(s, "\0", "\0").kvs)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("prefix via prefixEnd, including 0xff-ending prefixes", () => {
    const s = newStore();
    for (const k of ["app/", "app/a", "app/b", "app0", "apq", "ap"]) put(s, k, "x");
    const r = s.range({ key: b("app/"), rangeEnd: prefixEnd(b("app/")) });
    expect(keys(r.kvs)).toEqual(["app/", "app/a", "app/b"]);
    const hi = new Uint8Array([0x70, 0xff]);
    s.apply({ op: "put", req: { key: hi, value: b("1") } });
    s.apply({ op: "put", req: { key: new Uint8Array([0x70, 0xff, 0x01]), value: b("2") } });
    s.apply({ op: "put", req: { key: new Uint8Array([0x71]), value: b("3") } });
    const r2 = s.range({ key: hi, rangeEnd: prefixEnd(hi) });
    expect(r2.kvs.map((kv) => [...kv.key])).toEqual([
      [0x70, 0xff],
      [0x70, 0xff, 0x01],
    ]);
  });

  it("orders keys by unsigned bytes, not by UTF-16 or signed bytes", () => {
    const s = newStore();
    const ks = [[0x80], [0x7f], [0xff], [0x00, 0x01], [0xc3, 0xa9], [0x01]].map((a) => new Uint8Array(a));
    for (const key of ks) s.apply({ op: "put", req: { key, value: b("v") } });
    const all = s.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    expect(all.kvs.map((kv) => [...kv.key])).toEqual([
      [0x00, 0x01],
      [0x01],
      [0x7f],
      [0x80],
      [0xc3, 0xa9],
      [0xff],
    ]);
  });

  it("skips deleted keys", () => {
    const s = fiveKeys();
    del(s, "b");
    expect(keys(get(s, "a", "\0").kvs)).toEqual(["a", "c", "d", "e"]);
    expect(get(s, "a", "\0").count).toBe(4);
  });

  it("rejects an empty key", () => {
    expect(errorCode(() => get(newStore(), ""))).toBe("invalid_argument");
  });
});

describe("range: limit, count, more", () => {
  it("limit cuts kvs, count is the whole range, more says there is more", () => {
    const s = fiveKeys();
    const r = get(s, "a", "\0", { limit: 2 });
    expect(keys(r.kvs)).toEqual(["a", "b"]);
    expect(r.count).toBe(5);
    expect(r.more).toBe(true);
  });

  it("limit equal to or above the range size: more is false", () => {
    const s = fiveKeys();
    expect(get(s, "a", "\0", { limit: 5 }).more).toBe(false);
    expect(get(s, "a", "\0", { limit: 6 }).kvs).toHaveLength(5);
  });

  it("limit 0 or negative means no limit", () => {
    const s = fiveKeys();
    expect(get(s, "a", "\0", { limit: 0 }).kvs).toHaveLength(5);
    expect(get(s, "a", "\0", { limit: -3 }).kvs).toHaveLength(5);
  });
});

describe("range: keysOnly, countOnly", () => {
  it("keysOnly returns empty values and keeps the metadata", () => {
    const s = fiveKeys();
    const r = get(s, "a", "c", { keysOnly: true });
    expect(r.kvs.map((kv) => [kv.value.length, kv.modRevision, kv.version])).toEqual([
      [0, 2, 1],
      [0, 3, 1],
    ]);
  });

  it("countOnly returns no kvs, the count, and more false", () => {
    const s = fiveKeys();
    expect(get(s, "a", "\0", { countOnly: true, limit: 2 })).toEqual({
      header: { revision: 6 },
      kvs: [],
      more: false,
      count: 5,
    });
  });
});

describe("range: sort (etcd semantics)", () => {
  function sortStore() {
    const s = newStore();
    put(s, "a", "z"); // 2
    put(s, "b", "y"); // 3
    put(s, "c", "x"); // 4
    put(s, "b", "w"); // 5: b version 2, mod 5
    put(s, "b", "v"); // 6: b version 3, mod 6
    put(s, "a", "u"); // 7: a version 2, mod 7
    return s;
  }
  const all = (
    s: KvStore,
    order: "NONE" | "ASCEND" | "DESCEND",
    target: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE",
    limit?: number,
  ) => keys(get(s, "\0", "\0", { sortOrder: order, sortTarget: target, ...(limit ? { limit } : {}) }).kvs);

  it("default and KEY/ASCEND: by key ascending; KEY/DESCEND reverses", () => {
    const s = sortStore();
    expect(keys(get(s, "\0", "\0").kvs)).toEqual(["a", "b", "c"]);
    expect(all(s, "ASCEND", "KEY")).toEqual(["a", "b", "c"]);
    expect(all(s, "DESCEND", "KEY")).toEqual(["c", "b", "a"]);
  });

  it("by VERSION, CREATE, MOD, VALUE in both orders", () => {
    const s = sortStore();
    // versions a=2, b=3, c=1
    expect(all(s, "ASCEND", "VERSION")).toEqual(["c", "a", "b"]);
    expect(all(s, "DESCEND", "VERSION")).toEqual(["b", "a", "c"]);
    // create a=2, b=3, c=4
    expect(all(s, "ASCEND", "CREATE")).toEqual(["a", "b", "c"]);
    expect(all(s, "DESCEND", "CREATE")).toEqual(["c", "b", "a"]);
    // mod a=7, b=6, c=4
    expect(all(s, "ASCEND", "MOD")).toEqual(["c", "b", "a"]);
    expect(all(s, "DESCEND", "MOD")).toEqual(["a", "b", "c"]);
    // values a=u, b=v, c=x
    expect(all(s, "ASCEND", "VALUE")).toEqual(["a", "b", "c"]);
    expect(all(s, "DESCEND", "VALUE")).toEqual(["c", "b", "a"]);
  });

  it("a target other than KEY with order NONE sorts ascending (etcd)", () => {
    const s = sortStore();
    expect(all(s, "NONE", "MOD")).toEqual(["c", "b", "a"]);
  });

  it("sorts the whole range before applying the limit", () => {
    const s = sortStore();
    const r = get(s, "\0", "\0", { sortOrder: "DESCEND", sortTarget: "MOD", limit: 1 });
    expect(keys(r.kvs)).toEqual(["a"]);
    expect(r.more).toBe(true);
    expect(r.count).toBe(3);
    expect(all(s, "DESCEND", "KEY", 2)).toEqual(["c", "b"]);
  });

  it("ties keep key order", () => {
    const s = newStore();
    for (const k of ["c", "a", "b"]) put(s, k, "same");
    expect(all(s, "DESCEND", "VALUE")).toEqual(["a", "b", "c"]);
    expect(all(s, "ASCEND", "VERSION")).toEqual(["a", "b", "c"]);
  });

  it("rejects unknown sort values", () => {
    const s = newStore();
    expect(errorCode(() => get(s, "a", undefined, { sortOrder: "UP" as never }))).toBe("invalid_argument");
    expect(errorCode(() => get(s, "a", undefined, { sortTarget: "SIZE" as never }))).toBe("invalid_argument");
  });
});

describe("range: revision", () => {
  it("reads the whole range as of an older revision", () => {
    const s = fiveKeys();
    put(s, "c", "33"); // 7
    del(s, "a"); // 8
    expect(pairs(get(s, "\0", "\0", { revision: 4 }).kvs)).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["c", "3"],
    ]);
    expect(pairs(get(s, "\0", "\0", { revision: 7 }).kvs)).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["c", "33"],
      ["d", "4"],
      ["e", "5"],
    ]);
    expect(get(s, "\0", "\0", { revision: 8 }).count).toBe(4);
  });

  it("0 or negative means current; above current fails with future_revision", () => {
    const s = fiveKeys();
    expect(get(s, "a", undefined, { revision: 0 }).count).toBe(1);
    expect(get(s, "a", undefined, { revision: -1 }).count).toBe(1);
    expect(get(s, "a", undefined, { revision: 6 }).count).toBe(1);
    expect(errorCode(() => get(s, "a", undefined, { revision: 7 }))).toBe("future_revision");
  });

  it("below the compacted revision fails with compacted and the compact revision", () => {
    const s = fiveKeys();
    s.apply({ op: "compact", req: { revision: 4 } });
    try {
      get(s, "a", undefined, { revision: 3 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CairnError);
      const e = err as CairnError;
      expect(e.code).toBe("compacted");
      expect(e.message).toBe("mvcc: required revision has been compacted");
      expect(e.details).toEqual({ compactRevision: 4 });
    }
    expect(get(s, "a", undefined, { revision: 4 }).count).toBe(1);
  });
});
