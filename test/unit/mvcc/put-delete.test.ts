import { describe, expect, it } from "vitest";
import { b, del, errorCode, get, grantLease, newStore, put, str } from "./helpers.ts";

describe("revisions", () => {
  it("the empty store has revision 1 and no compaction", () => {
    const s = newStore();
    expect(s.revision).toBe(1);
    expect(s.compactRevision).toBe(0);
    expect(s.keyCount).toBe(0);
    expect(get(s, "a").header.revision).toBe(1);
  });

  it("every put moves the revision up by one, even with the same value", () => {
    const s = newStore();
    expect(put(s, "a", "1").header.revision).toBe(2);
    expect(put(s, "a", "1").header.revision).toBe(3);
    expect(put(s, "b", "1").header.revision).toBe(4);
    expect(s.revision).toBe(4);
  });

  it("a delete that deletes something moves the revision; one of nothing does not", () => {
    const s = newStore();
    put(s, "a", "1");
    const missing = del(s, "zzz");
    expect(missing).toEqual({ header: { revision: 2 }, deleted: 0, prevKvs: [] });
    expect(s.revision).toBe(2);
    const hit = del(s, "a");
    expect(hit.header.revision).toBe(3);
    expect(hit.deleted).toBe(1);
    expect(s.revision).toBe(3);
    // deleting an already deleted key deletes nothing
    expect(del(s, "a").deleted).toBe(0);
    expect(s.revision).toBe(3);
  });
});

describe("put", () => {
  it("sets createRevision, modRevision and version", () => {
    const s = newStore();
    put(s, "k", "v1"); // rev 2
    put(s, "other", "x"); // rev 3
    put(s, "k", "v2"); // rev 4
    const [kv] = get(s, "k").kvs;
    expect(kv).toEqual({
      key: b("k"),
      value: b("v2"),
      createRevision: 2,
      modRevision: 4,
      version: 2,
      lease: 0,
    });
  });

  it("after a delete, a put starts a new generation: version 1, new createRevision", () => {
    const s = newStore();
    put(s, "k", "v1"); // 2
    put(s, "k", "v2"); // 3
    del(s, "k"); // 4
    put(s, "k", "v3"); // 5
    const [kv] = get(s, "k").kvs;
    expect(kv?.createRevision).toBe(5);
    expect(kv?.modRevision).toBe(5);
    expect(kv?.version).toBe(1);
  });

  it("returns prevKv only when asked and only when the key existed", () => {
    const s = newStore();
    expect(put(s, "k", "v1", { prevKv: true }).prevKv).toBeUndefined();
    expect(put(s, "k", "v2").prevKv).toBeUndefined();
    const r = put(s, "k", "v3", { prevKv: true });
    expect(r.prevKv).toEqual({
      key: b("k"),
      value: b("v2"),
      createRevision: 2,
      modRevision: 3,
      version: 2,
      lease: 0,
    });
  });

  it("stores the lease id and the content type", () => {
    const s = newStore();
    grantLease(s, 42);
    put(s, "k", "{}", { lease: 42, contentType: "application/json" });
    const [kv] = get(s, "k").kvs;
    expect(kv?.lease).toBe(42);
    expect(kv?.contentType).toBe("application/json");
    put(s, "k", "plain");
    const [kv2] = get(s, "k").kvs;
    expect(kv2?.lease).toBe(0);
    expect(kv2?.contentType).toBeUndefined();
  });

  it("ignoreValue keeps value and content type, ignoreLease keeps the lease", () => {
    const s = newStore();
    grantLease(s, 7);
    grantLease(s, 9);
    put(s, "k", "{}", { lease: 7, contentType: "application/json" });
    put(s, "k", "", { ignoreValue: true, lease: 9 });
    let [kv] = get(s, "k").kvs;
    expect(str(kv!.value)).toBe("{}");
    expect(kv?.contentType).toBe("application/json");
    expect(kv?.lease).toBe(9);
    expect(kv?.version).toBe(2);
    put(s, "k", "new", { ignoreLease: true });
    [kv] = get(s, "k").kvs;
    expect(str(kv!.value)).toBe("new");
    expect(kv?.lease).toBe(9);
    expect(kv?.contentType).toBeUndefined();
  });

  it("ignoreValue or ignoreLease on a missing key fails with key_not_found and changes nothing", () => {
    const s = newStore();
    expect(errorCode(() => put(s, "k", "", { ignoreValue: true }))).toBe("key_not_found");
    expect(errorCode(() => put(s, "k", "v", { ignoreLease: true }))).toBe("key_not_found");
    put(s, "k", "v");
    del(s, "k");
    expect(errorCode(() => put(s, "k", "", { ignoreValue: true }))).toBe("key_not_found");
    expect(s.revision).toBe(3);
  });

  it("rejects a value with ignoreValue, a lease with ignoreLease, an empty key", () => {
    const s = newStore();
    put(s, "k", "v");
    expect(errorCode(() => put(s, "k", "x", { ignoreValue: true }))).toBe("invalid_argument");
    expect(errorCode(() => put(s, "k", "", { ignoreValue: true, contentType: "text/plain" }))).toBe(
      "invalid_argument",
    );
    expect(errorCode(() => put(s, "k", "x", { ignoreLease: true, lease: 3 }))).toBe("invalid_argument");
    expect(errorCode(() => put(s, "", "x"))).toBe("invalid_argument");
    expect(errorCode(() => put(s, "k", "x", { lease: -1 }))).toBe("invalid_argument");
    expect(errorCode(() => put(s, "k", "x", { lease: 1.5 }))).toBe("invalid_argument");
    expect(s.revision).toBe(2);
  });

  it("copies the value, so later changes of the caller's array do not reach the store", () => {
    const s = newStore();
    const value = b("abc");
    s.apply({ op: "put", req: { key: b("k"), value } });
    value[0] = 0x7a;
    expect(str(get(s, "k").kvs[0]!.value)).toBe("abc");
  });

  it("accepts arbitrary binary keys and values", () => {
    const s = newStore();
    const key = new Uint8Array([0, 0xff, 0x80]);
    const value = new Uint8Array([0xff, 0, 1]);
    s.apply({ op: "put", req: { key, value } });
    expect(s.range({ key }).kvs[0]?.value).toEqual(value);
  });
});

describe("deleteRange", () => {
  it("deletes a single key, a range, or everything from a key", () => {
    const s = newStore();
    for (const k of ["a", "b", "c", "d", "e"]) put(s, k, k);
    expect(del(s, "b", "d").deleted).toBe(2); // b, c
    expect(get(s, "a", "\0").count).toBe(3);
    expect(del(s, "d", "\0").deleted).toBe(2); // d, e
    expect(get(s, "a", "\0").kvs.map((kv) => str(kv.key))).toEqual(["a"]);
    expect(s.keyCount).toBe(1);
  });

  it("all writes of one delete share its revision", () => {
    const s = newStore();
    put(s, "a", "1");
    put(s, "b", "1");
    const r = del(s, "a", "c");
    expect(r.header.revision).toBe(4);
    expect(s.revision).toBe(4);
  });

  it("returns prevKvs in key order when asked", () => {
    const s = newStore();
    put(s, "b", "2");
    grantLease(s, 5);
    put(s, "a", "1", { lease: 5 });
    const r = del(s, "a", "z", { prevKv: true });
    expect(r.prevKvs).toEqual([
      { key: b("a"), value: b("1"), createRevision: 3, modRevision: 3, version: 1, lease: 5 },
      { key: b("b"), value: b("2"), createRevision: 2, modRevision: 2, version: 1, lease: 0 },
    ]);
    put(s, "c", "3");
    expect(del(s, "c").prevKvs).toEqual([]);
  });

  it("rejects an empty key", () => {
    expect(errorCode(() => del(newStore(), ""))).toBe("invalid_argument");
  });
});

describe("history and tombstones", () => {
  it("reads at older revisions see the values of that time, including before a delete", () => {
    const s = newStore();
    put(s, "k", "v1"); // 2
    put(s, "k", "v2"); // 3
    del(s, "k"); // 4
    put(s, "k", "v3"); // 5
    const at = (rev: number) => get(s, "k", undefined, { revision: rev }).kvs;
    expect(at(1)).toEqual([]);
    expect(at(2).map((kv) => [str(kv.value), kv.version, kv.createRevision])).toEqual([["v1", 1, 2]]);
    expect(at(3).map((kv) => [str(kv.value), kv.version, kv.createRevision])).toEqual([["v2", 2, 2]]);
    expect(at(4)).toEqual([]);
    expect(at(5).map((kv) => [str(kv.value), kv.version, kv.createRevision])).toEqual([["v3", 1, 5]]);
    // the header carries the current revision, as etcd's does
    expect(get(s, "k", undefined, { revision: 2 }).header.revision).toBe(5);
  });

  it("keyCount counts keys alive now, not tombstoned ones", () => {
    const s = newStore();
    put(s, "a", "1");
    put(s, "b", "1");
    put(s, "a", "2");
    expect(s.keyCount).toBe(2);
    del(s, "a");
    expect(s.keyCount).toBe(1);
    put(s, "a", "3");
    expect(s.keyCount).toBe(2);
  });

  it("sizeBytes grows with history", () => {
    const s = newStore();
    const empty = s.sizeBytes;
    put(s, "k", "x".repeat(1000));
    const one = s.sizeBytes;
    expect(one).toBeGreaterThan(empty + 1000);
    put(s, "k", "y".repeat(1000));
    expect(s.sizeBytes).toBeGreaterThan(one + 1000);
  });
});
