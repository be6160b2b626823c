import { describe, expect, it } from "vitest";
import type { KvStore } from "../../../src/mvcc/store.ts";
import type { Compare, CompareResult, CompareTarget, TxnResponse } from "../../../src/mvcc/types.ts";
import { b, del, errorCode, get, grantLease, keys, newStore, op, pairs, put, str, txn } from "./helpers.ts";

/** Runs a read-only txn with `compare`; returns whether its compares held. */
function holds(s: KvStore, ...compare: Compare[]): boolean {
  const r = txn(s, { compare, success: [op.range("k")], failure: [op.range("k")] });
  return r.succeeded;
}

function cmp(
  key: string,
  target: CompareTarget,
  result: CompareResult,
  operand: number | string,
  rangeEnd?: string,
): Compare {
  const c: Compare = { key: b(key), target, result };
  if (rangeEnd !== undefined) c.rangeEnd = b(rangeEnd);
  switch (target) {
    case "VALUE":
      c.value = b(operand as string);
      break;
    case "VERSION":
      c.version = operand as number;
      break;
    case "CREATE":
      c.createRevision = operand as number;
      break;
    case "MOD":
      c.modRevision = operand as number;
      break;
    case "LEASE":
      c.lease = operand as number;
      break;
  }
  return c;
}

describe("txn compares", () => {
  // k: created at 2, modified at 4, version 2, value "m", lease 7
  function store() {
    const s = newStore();
    put(s, "k", "a"); // 2
    put(s, "other", "x"); // 3
    grantLease(s, 7); // a grant does not move the revision
    put(s, "k", "m", { lease: 7 }); // 4
    return s;
  }

  const table: [CompareTarget, number | string, number | string, number | string][] = [
    // target, equal operand, smaller operand, greater operand
    ["VALUE", "m", "l", "n"],
    ["VERSION", 2, 1, 3],
    ["CREATE", 2, 1, 3],
    ["MOD", 4, 3, 5],
    ["LEASE", 7, 6, 8],
  ];

  for (const [target, eq, lo, hi] of table) {
    it(`${target}: EQUAL, NOT_EQUAL, GREATER, LESS`, () => {
      const s = store();
      expect(holds(s, cmp("k", target, "EQUAL", eq))).toBe(true);
      expect(holds(s, cmp("k", target, "EQUAL", lo))).toBe(false);
      expect(holds(s, cmp("k", target, "NOT_EQUAL", lo))).toBe(true);
      expect(holds(s, cmp("k", target, "NOT_EQUAL", eq))).toBe(false);
      expect(holds(s, cmp("k", target, "GREATER", lo))).toBe(true);
      expect(holds(s, cmp("k", target, "GREATER", eq))).toBe(false);
      expect(holds(s, cmp("k", target, "LESS", hi))).toBe(true);
      expect(holds(s, cmp("k", target, "LESS", eq))).toBe(false);
    });
  }

  it("VALUE compares bytes unsigned and by length", () => {
    const s = newStore();
    s.apply({ op: "put", req: { key: b("k"), value: new Uint8Array([0x80]) } });
    expect(holds(s, { key: b("k"), target: "VALUE", result: "GREATER", value: new Uint8Array([0x7f]) })).toBe(
      true,
    );
    expect(holds(s, { key: b("k"), target: "VALUE", result: "LESS", value: new Uint8Array([0x80, 0]) })).toBe(
      true,
    );
  });

  it("a missing key has version, create, mod and lease 0; VALUE on it is always false", () => {
    const s = store();
    expect(holds(s, cmp("nope", "VERSION", "EQUAL", 0))).toBe(true);
    expect(holds(s, cmp("nope", "CREATE", "EQUAL", 0))).toBe(true);
    expect(holds(s, cmp("nope", "MOD", "LESS", 1))).toBe(true);
    expect(holds(s, cmp("nope", "LEASE", "EQUAL", 0))).toBe(true);
    expect(holds(s, cmp("nope", "VALUE", "EQUAL", ""))).toBe(false);
    expect(holds(s, cmp("nope", "VALUE", "NOT_EQUAL", "x"))).toBe(false);
    del(s, "k");
    expect(holds(s, cmp("k", "VERSION", "EQUAL", 0))).toBe(true);
  });

  it("an absent operand is 0 / empty", () => {
    const s = store();
    expect(holds(s, { key: b("k"), target: "VERSION", result: "GREATER" })).toBe(true);
    expect(holds(s, { key: b("k"), target: "VALUE", result: "GREATER" })).toBe(true);
  });

  it("all compares must hold", () => {
    const s = store();
    expect(holds(s, cmp("k", "VERSION", "EQUAL", 2), cmp("k", "MOD", "EQUAL", 4))).toBe(true);
    expect(holds(s, cmp("k", "VERSION", "EQUAL", 2), cmp("k", "MOD", "EQUAL", 3))).toBe(false);
    expect(holds(s)).toBe(true);
  });

  it("a compare over a range holds only when every key in it satisfies it", () => {
    const s = newStore();
    put(s, "p/a", "1");
    put(s, "p/b", "1");
    put(s, "p/c", "2");
    put(s, "q", "9");
    expect(holds(s, cmp("p/", "VALUE", "EQUAL", "1", "p0"))).toBe(false);
    expect(holds(s, cmp("p/", "VALUE", "LESS", "3", "p0"))).toBe(true);
    expect(holds(s, cmp("p/a", "VALUE", "EQUAL", "1", "p/c"))).toBe(true);
    expect(holds(s, cmp("p/", "VERSION", "EQUAL", 1, "\0"))).toBe(true);
    expect(holds(s, cmp("p/", "VALUE", "LESS", "9", "\0"))).toBe(false); // q=9 is in [p/, end)
    // empty range: like a missing key
    expect(holds(s, cmp("x/", "CREATE", "EQUAL", 0, "x0"))).toBe(true);
    expect(holds(s, cmp("x/", "VALUE", "NOT_EQUAL", "a", "x0"))).toBe(false);
  });
});

describe("txn branches and responses", () => {
  it("runs success ops when compares hold, failure ops otherwise", () => {
    const s = newStore();
    const create = () =>
      txn(s, {
        compare: [cmp("lock", "CREATE", "EQUAL", 0)],
        success: [op.put("lock", "me")],
        failure: [op.range("lock")],
      });
    const first = create();
    expect(first.succeeded).toBe(true);
    expect(first.header.revision).toBe(2);
    expect(first.responses).toEqual([{ responsePut: { header: { revision: 2 } } }]);
    const second = create();
    expect(second.succeeded).toBe(false);
    expect(second.header.revision).toBe(2);
    const resp = second.responses[0];
    expect(resp && "responseRange" in resp && pairs(resp.responseRange.kvs)).toEqual([["lock", "me"]]);
  });

  it("all writes of a txn share one revision; the store moves by exactly one", () => {
    const s = newStore();
    put(s, "x", "0"); // 2
    put(s, "y", "0"); // 3
    const r = txn(s, { success: [op.put("a", "1"), op.put("b", "1"), op.del("x"), op.put("y", "1")] });
    expect(r.header.revision).toBe(4);
    expect(s.revision).toBe(4);
    const all = get(s, "\0", "\0").kvs;
    expect(all.map((kv) => [str(kv.key), kv.modRevision])).toEqual([
      ["a", 4],
      ["b", 4],
      ["y", 4],
    ]);
    expect(get(s, "x", undefined, { revision: 3 }).count).toBe(1);
    expect(get(s, "x").count).toBe(0);
  });

  it("a read-only txn, or one whose deletes hit nothing, does not move the revision", () => {
    const s = newStore();
    put(s, "a", "1");
    expect(txn(s, { success: [op.range("a")] }).header.revision).toBe(2);
    expect(txn(s, { success: [op.del("zz")] }).header.revision).toBe(2);
    expect(txn(s, {}).header.revision).toBe(2);
    expect(s.revision).toBe(2);
  });

  it("ranges inside a txn see the txn's earlier writes but not its later ones", () => {
    const s = newStore();
    put(s, "a", "old"); // 2
    const r = txn(s, {
      success: [op.range("a"), op.put("a", "new"), op.range("a"), op.del("b"), op.range("\0", "\0")],
    });
    const [before, , after, delResp, all] = r.responses;
    expect(before && "responseRange" in before && pairs(before.responseRange.kvs)).toEqual([["a", "old"]]);
    expect(before && "responseRange" in before && before.responseRange.header.revision).toBe(2);
    expect(after && "responseRange" in after && pairs(after.responseRange.kvs)).toEqual([["a", "new"]]);
    expect(after && "responseRange" in after && after.responseRange.header.revision).toBe(3);
    expect(delResp).toEqual({ responseDeleteRange: { header: { revision: 3 }, deleted: 0, prevKvs: [] } });
    expect(all && "responseRange" in all && keys(all.responseRange.kvs)).toEqual(["a"]);
  });

  it("a delete inside a txn returns prevKvs, and a later range no longer sees the deleted key", () => {
    const s = newStore();
    put(s, "a", "1");
    put(s, "b", "1");
    const r = txn(s, { success: [op.del("a", undefined, { prevKv: true }), op.range("a", "c")] });
    const [d, rg] = r.responses;
    expect(d && "responseDeleteRange" in d && d.responseDeleteRange.deleted).toBe(1);
    expect(d && "responseDeleteRange" in d && pairs(d.responseDeleteRange.prevKvs)).toEqual([["a", "1"]]);
    expect(rg && "responseRange" in rg && keys(rg.responseRange.kvs)).toEqual(["b"]);
  });

  it("a range inside a txn can read an older revision", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    put(s, "a", "2"); // 3
    const r = txn(s, { success: [op.put("b", "x"), op.range("a", undefined, { revision: 2 })] });
    const rg = r.responses[1];
    expect(rg && "responseRange" in rg && pairs(rg.responseRange.kvs)).toEqual([["a", "1"]]);
  });

  it("put inside a txn returns prevKv and increments version", () => {
    const s = newStore();
    put(s, "a", "1");
    const r = txn(s, { success: [op.put("a", "2", { prevKv: true })] });
    expect(r.responses[0]).toEqual({
      responsePut: {
        header: { revision: 3 },
        prevKv: { key: b("a"), value: b("1"), createRevision: 2, modRevision: 2, version: 1, lease: 0 },
      },
    });
    expect(get(s, "a").kvs[0]?.version).toBe(2);
  });
});

describe("nested txns", () => {
  it("runs the nested branch chosen by its own compares", () => {
    const s = newStore();
    put(s, "flag", "on"); // 2
    const r = txn(s, {
      success: [
        op.put("outer", "1"),
        op.txn({
          compare: [cmp("flag", "VALUE", "EQUAL", "on")],
          success: [op.put("inner", "yes")],
          failure: [op.put("inner", "no")],
        }),
        op.txn({
          compare: [cmp("flag", "VALUE", "EQUAL", "off")],
          success: [op.put("inner2", "yes")],
          failure: [op.put("inner2", "no"), op.range("outer")],
        }),
      ],
    });
    expect(r.succeeded).toBe(true);
    expect(pairs(get(s, "\0", "\0").kvs)).toEqual([
      ["flag", "on"],
      ["inner", "yes"],
      ["inner2", "no"],
      ["outer", "1"],
    ]);
    expect(s.revision).toBe(3);
    const n1 = r.responses[1] as { responseTxn: TxnResponse };
    const n2 = r.responses[2] as { responseTxn: TxnResponse };
    expect(n1.responseTxn.succeeded).toBe(true);
    expect(n2.responseTxn.succeeded).toBe(false);
    expect(n2.responseTxn.header.revision).toBe(3);
    const innerRange = n2.responseTxn.responses[1];
    expect(innerRange && "responseRange" in innerRange && pairs(innerRange.responseRange.kvs)).toEqual([
      ["outer", "1"],
    ]);
  });

  it("nested compares see the state before the txn, not its earlier writes (etcd compareToPath)", () => {
    const s = newStore();
    const r = txn(s, {
      success: [
        op.put("a", "1"),
        op.txn({ compare: [cmp("a", "VERSION", "EQUAL", 0)], success: [op.put("b", "saw-nothing")] }),
      ],
    });
    const nested = r.responses[1] as { responseTxn: TxnResponse };
    expect(nested.responseTxn.succeeded).toBe(true);
    expect(str(get(s, "b").kvs[0]!.value)).toBe("saw-nothing");
  });

  it("nested txns in the failure branch run too", () => {
    const s = newStore();
    txn(s, {
      compare: [cmp("missing", "VERSION", "GREATER", 0)],
      failure: [op.txn({ success: [op.txn({ success: [op.put("deep", "1")] })] })],
    });
    expect(get(s, "deep").count).toBe(1);
  });
});

describe("txn duplicate keys (etcd: duplicate key given in txn request)", () => {
  const rejected = (s: KvStore, ops: Parameters<typeof txn>[1]) => {
    const before = s.snapshot();
    const code = errorCode(() => txn(s, ops));
    expect(s.snapshot()).toEqual(before);
    return code;
  };

  it("rejects the same key put twice", () => {
    const s = newStore();
    expect(rejected(s, { success: [op.put("a", "1"), op.put("a", "2")] })).toBe("invalid_argument");
    expect(rejected(s, { failure: [op.put("a", "1"), op.put("a", "2")] })).toBe("invalid_argument");
  });

  it("rejects a put of a key the txn also deletes, in any order, including ranges", () => {
    const s = newStore();
    expect(rejected(s, { success: [op.put("a", "1"), op.del("a")] })).toBe("invalid_argument");
    expect(rejected(s, { success: [op.del("a"), op.put("a", "1")] })).toBe("invalid_argument");
    expect(rejected(s, { success: [op.del("a", "c"), op.put("b", "1")] })).toBe("invalid_argument");
    expect(rejected(s, { success: [op.del("a", "\0"), op.put("zzz", "1")] })).toBe("invalid_argument");
  });

  it("rejects conflicts between a txn's ops and nested txns, and between sibling nested txns", () => {
    const s = newStore();
    expect(rejected(s, { success: [op.put("a", "1"), op.txn({ success: [op.put("a", "2")] })] })).toBe(
      "invalid_argument",
    );
    expect(rejected(s, { success: [op.del("a"), op.txn({ failure: [op.put("a", "2")] })] })).toBe(
      "invalid_argument",
    );
    expect(rejected(s, { success: [op.txn({ success: [op.del("a")] }), op.put("a", "1")] })).toBe(
      "invalid_argument",
    );
    expect(
      rejected(s, { success: [op.txn({ success: [op.put("a", "1")] }), op.txn({ success: [op.del("a")] })] }),
    ).toBe("invalid_argument");
    expect(
      rejected(s, { success: [op.txn({ success: [op.del("a")] }), op.txn({ success: [op.put("a", "1")] })] }),
    ).toBe("invalid_argument");
  });

  it("rejects even when the conflicting branch would not run", () => {
    const s = newStore();
    expect(
      rejected(s, {
        compare: [cmp("x", "VERSION", "EQUAL", 0)], // holds
        success: [
          op.put("a", "1"),
          op.txn({ compare: [cmp("x", "VERSION", "EQUAL", 5)], success: [op.put("a", "2")] }),
        ],
      }),
    ).toBe("invalid_argument");
  });

  it("allows the same key in success and failure, in the two branches of a nested txn, and overlapping deletes", () => {
    const s = newStore();
    put(s, "a", "0");
    txn(s, { success: [op.put("a", "1")], failure: [op.put("a", "2")] });
    txn(s, { success: [op.txn({ success: [op.put("a", "3")], failure: [op.put("a", "4")] })] });
    txn(s, { success: [op.txn({ success: [op.put("a", "5")], failure: [op.del("a")] })] });
    expect(str(get(s, "a").kvs[0]!.value)).toBe("5");
    const r = txn(s, { success: [op.del("a", "c"), op.del("a")] });
    expect(r.responses).toEqual([
      { responseDeleteRange: { header: { revision: 6 }, deleted: 1, prevKvs: [] } },
      { responseDeleteRange: { header: { revision: 6 }, deleted: 0, prevKvs: [] } },
    ]);
  });
});

describe("txn atomicity", () => {
  it("a put with ignoreValue on a missing key fails the whole txn, earlier ops included", () => {
    const s = newStore();
    put(s, "a", "0");
    const before = s.snapshot();
    expect(
      errorCode(() =>
        txn(s, { success: [op.put("b", "1"), op.del("a"), op.put("c", "", { ignoreValue: true })] }),
      ),
    ).toBe("key_not_found");
    expect(s.snapshot()).toEqual(before);
    expect(s.revision).toBe(2);
    expect(keys(get(s, "\0", "\0").kvs)).toEqual(["a"]);
  });

  it("a range at a future or compacted revision fails the whole txn", () => {
    const s = newStore();
    put(s, "a", "0"); // 2
    put(s, "a", "1"); // 3
    s.apply({ op: "compact", req: { revision: 3 } });
    const before = s.snapshot();
    expect(
      errorCode(() => txn(s, { success: [op.put("b", "1"), op.range("a", undefined, { revision: 4 })] })),
    ).toBe("future_revision");
    expect(
      errorCode(() => txn(s, { success: [op.put("b", "1"), op.range("a", undefined, { revision: 2 })] })),
    ).toBe("compacted");
    expect(s.snapshot()).toEqual(before);
  });

  it("a failing op in a nested txn fails everything; one in a branch not taken does not", () => {
    const s = newStore();
    const nestedFail = () =>
      txn(s, {
        success: [op.put("b", "1"), op.txn({ success: [op.put("c", "", { ignoreLease: true })] })],
      });
    expect(errorCode(nestedFail)).toBe("key_not_found");
    expect(s.revision).toBe(1);
    const r = txn(s, {
      success: [
        op.put("b", "1"),
        op.txn({
          compare: [cmp("zz", "VERSION", "GREATER", 0)],
          success: [op.put("c", "", { ignoreLease: true })],
        }),
      ],
    });
    expect(r.succeeded).toBe(true);
    expect(s.revision).toBe(2);
  });

  it("an invalid op anywhere fails before anything is written", () => {
    const s = newStore();
    expect(errorCode(() => txn(s, { success: [op.put("a", "1")], failure: [op.put("", "x")] }))).toBe(
      "invalid_argument",
    );
    expect(
      errorCode(() => txn(s, { compare: [cmp("", "VERSION", "EQUAL", 0)], success: [op.put("a", "1")] })),
    ).toBe("invalid_argument");
    expect(s.revision).toBe(1);
  });
});
