import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command } from "../../../src/mvcc/types.ts";
import { b, del, errorCode, get, newStore, op, put, txn } from "./helpers.ts";

function workload(): Command[] {
  return [
    { op: "leaseGrant", req: { id: 3, ttl: 60 } },
    { op: "put", req: { key: b("a"), value: b("1"), lease: 3, contentType: "text/plain" } },
    { op: "put", req: { key: b("b"), value: b("2") } },
    { op: "put", req: { key: b("a"), value: b("3") } },
    { op: "deleteRange", req: { key: b("b") } },
    { op: "put", req: { key: new Uint8Array([0xff, 0]), value: new Uint8Array([0, 1, 2]) } },
    { op: "compact", req: { revision: 3 } },
    {
      op: "txn",
      req: { compare: [], success: [{ requestPut: { key: b("c"), value: b("4") } }], failure: [] },
    },
    { op: "put", req: { key: b("c"), value: b("5") } },
  ];
}

function run(cmds: Command[]): KvStore {
  const s = new KvStore();
  for (const c of cmds) s.apply(c);
  return s;
}

describe("snapshot / restore", () => {
  it("two stores applying the same commands produce byte-identical snapshots", () => {
    expect(run(workload()).snapshot()).toEqual(run(workload()).snapshot());
  });

  it("different states give different snapshots", () => {
    const cmds = workload();
    expect(run(cmds).snapshot()).not.toEqual(run(cmds.slice(0, -1)).snapshot());
  });

  it("restore reproduces revisions, history, compaction, counters", () => {
    const src = run(workload());
    const dst = new KvStore();
    put(dst, "junk", "to be replaced");
    dst.restore(src.snapshot());
    expect(dst.revision).toBe(src.revision);
    expect(dst.compactRevision).toBe(src.compactRevision);
    expect(dst.keyCount).toBe(src.keyCount);
    expect(dst.sizeBytes).toBe(src.sizeBytes);
    for (let rev = src.compactRevision; rev <= src.revision; rev++) {
      expect(get(dst, "\0", "\0", { revision: rev })).toEqual(get(src, "\0", "\0", { revision: rev }));
    }
    expect(get(dst, "junk").count).toBe(0);
    expect(errorCode(() => get(dst, "a", undefined, { revision: src.compactRevision - 1 }))).toBe(
      "compacted",
    );
    expect(dst.snapshot()).toEqual(src.snapshot());
  });

  it("a restored store goes on exactly like the original", () => {
    const src = run(workload());
    const dst = new KvStore();
    dst.restore(src.snapshot());
    for (const s of [src, dst]) {
      put(s, "a", "next");
      del(s, "c");
      txn(s, { success: [op.put("d", "1"), op.del("a")] });
      s.apply({ op: "compact", req: { revision: s.revision - 1 } });
    }
    expect(dst.snapshot()).toEqual(src.snapshot());
    expect(get(dst, "\0", "\0")).toEqual(get(src, "\0", "\0"));
  });

  it("restoring the empty store's snapshot empties a store", () => {
    const s = run(workload());
    s.restore(newStore().snapshot());
    expect(s.revision).toBe(1);
    expect(s.compactRevision).toBe(0);
    expect(s.keyCount).toBe(0);
    expect(s.sizeBytes).toBe(newStore().sizeBytes);
  });

  it("the restored store does not share arrays with the snapshot bytes", () => {
    const src = run(workload());
    const data = src.snapshot();
    const dst = new KvStore();
    dst.restore(data);
    data.fill(0);
    expect(get(dst, "\0", "\0")).toEqual(get(src, "\0", "\0"));
  });

  it("rejects malformed snapshots with invalid_argument and keeps the state", () => {
    const s = run(workload());
    const before = s.snapshot();
    const packr = new Packr({ useRecords: false });
    const pack = (v: unknown) => new Uint8Array(packr.pack(v));
    const bad: Uint8Array[] = [
      new Uint8Array([]),
      new Uint8Array([0xc1]),
      before.subarray(0, before.length - 3),
      pack({ hello: 1 }),
      pack(["other", 1, 1, 0, []]),
      pack(["cairn-mvcc", 99, 1, 0, []]),
      pack(["cairn-mvcc", 1, 5, 6, []]), // compact > revision
      pack(["cairn-mvcc", 1, 5, 0, [[b("a"), [[6, 6, 1, b("x"), 0, null]]]]]), // entry newer than store
      pack(["cairn-mvcc", 1, 5, 0, [[b("a"), [[3]]]]]), // tombstone first
      pack([
        "cairn-mvcc",
        1,
        5,
        0,
        [
          [
            b("a"),
            [
              [3, 3, 1, b("x"), 0, null],
              [2, 2, 1, b("y"), 0, null],
            ],
          ],
        ],
      ]),
      pack([
        "cairn-mvcc",
        1,
        5,
        0,
        [
          [b("b"), [[3, 3, 1, b("x"), 0, null]]],
          [b("a"), [[2, 2, 1, b("y"), 0, null]]],
        ],
      ]), // keys out of order
      pack(["cairn-mvcc", 1, 5, 0, [[b("a"), []]]]),
      pack(["cairn-mvcc", 1, 5, 0, [[b("a"), [[3, 3, 1, "not bytes", 0, null]]]]]),
      pack(["cairn-mvcc", 1, 5, 0, [[b("a"), [[3, 4, 1, b("x"), 0, null]]]]]), // create after mod
    ];
    for (const data of bad) {
      expect(
        errorCode(() => s.restore(data)),
        String(data),
      ).toBe("invalid_argument");
    }
    expect(s.snapshot()).toEqual(before);
  });

  it("accepts a hand-built valid snapshot (format is stable)", () => {
    const packr = new Packr({ useRecords: false });
    const data = new Uint8Array(
      packr.pack([
        "cairn-mvcc",
        1,
        4,
        0,
        [[b("a"), [[2, 2, 1, b("x"), 9, "text/plain"], [3], [4, 4, 1, b("y"), 0, null]]]],
      ]),
    );
    const s = new KvStore();
    s.restore(data);
    expect(s.revision).toBe(4);
    expect(get(s, "a", undefined, { revision: 2 }).kvs).toEqual([
      {
        key: b("a"),
        value: b("x"),
        createRevision: 2,
        modRevision: 2,
        version: 1,
        lease: 9,
        contentType: "text/plain",
      },
    ]);
    expect(get(s, "a", undefined, { revision: 3 }).count).toBe(0);
    expect(get(s, "a").kvs[0]?.createRevision).toBe(4);
  });
});
