/**
 * Leases in the replicated state machine (KvStore; etcd lessor's replicated half): grant, revoke,
 * attach and detach of keys, lookups, errors with etcd's messages, snapshot round trips, and
 * deterministic apply.
 */
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeCommand, encodeCommand } from "../../../src/mvcc/command.ts";
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command, LeaseGrantResponse } from "../../../src/mvcc/types.ts";
import type { CairnError } from "../../../src/util/errors.ts";
import { MAX_LEASE_TTL_SECONDS } from "../../../src/util/limits.ts";
import {
  b,
  del,
  errorCode,
  get,
  grantLease,
  keys as keysOf,
  newStore,
  op,
  put,
  str,
  txn,
} from "./helpers.ts";
import { eventText } from "./watch-helpers.ts";

/** Every key that exists, in order. */
function keys(s: KvStore): string[] {
  return keysOf(get(s, "\0", "\0").kvs);
}

function revoke(s: KvStore, id: number) {
  return s.applyWithEvents({ op: "leaseRevoke", req: { id } });
}

function attached(s: KvStore, id: number): string[] {
  return (s.lease(id, true)?.keys ?? []).map(str);
}

function thrown(fn: () => unknown): CairnError {
  try {
    fn();
  } catch (err) {
    return err as CairnError;
  }
  throw new Error("expected an error");
}

describe("lease grant", () => {
  it("adds a lease without moving the revision and answers with id and TTL", () => {
    const s = newStore();
    const r = s.apply({ op: "leaseGrant", req: { id: 42, ttl: 10 } }) as LeaseGrantResponse;
    expect(r).toEqual({ header: { revision: 1 }, id: 42, ttl: 10 });
    expect(s.revision).toBe(1);
    expect(s.lease(42)).toEqual({ id: 42, ttl: 10, keys: [] });
    expect(s.leaseCount).toBe(1);
  });

  it("refuses an existing id with etcd's lease_exists, a TTL over the maximum, bad ids and TTLs", () => {
    const s = newStore();
    grantLease(s, 1, 5);
    const exists = thrown(() => grantLease(s, 1, 7));
    expect([exists.code, exists.message]).toEqual(["lease_exists", "etcdserver: lease already exists"]);
    expect(s.lease(1)?.ttl).toBe(5);
    const large = thrown(() => grantLease(s, 2, MAX_LEASE_TTL_SECONDS + 1));
    expect([large.code, large.message]).toEqual(["lease_ttl_too_large", "etcdserver: too large lease TTL"]);
    expect(errorCode(() => grantLease(s, 0, 5))).toBe("invalid_argument");
    expect(errorCode(() => grantLease(s, -3, 5))).toBe("invalid_argument");
    expect(errorCode(() => grantLease(s, 3, 0))).toBe("invalid_argument");
    expect(errorCode(() => grantLease(s, 3, 1.5))).toBe("invalid_argument");
    expect(s.leases()).toEqual([{ id: 1, ttl: 5 }]);
  });

  it("lists leases ascending by id whatever the grant order", () => {
    const s = newStore();
    for (const id of [30, 10, 20]) grantLease(s, id, id);
    expect(s.leases()).toEqual([
      { id: 10, ttl: 10 },
      { id: 20, ttl: 20 },
      { id: 30, ttl: 30 },
    ]);
  });
});

describe("attaching keys", () => {
  it("a put with a lease that does not exist fails with lease_not_found and writes nothing", () => {
    const s = newStore();
    const err = thrown(() => put(s, "k", "v", { lease: 9 }));
    expect([err.code, err.message]).toEqual(["lease_not_found", "etcdserver: requested lease not found"]);
    expect(s.revision).toBe(1);
    expect(keys(s)).toEqual([]);
  });

  it("a txn whose taken branch puts to a missing lease fails as a whole; the other branch may", () => {
    const s = newStore();
    put(s, "a", "1"); // 2
    expect(
      errorCode(() =>
        txn(s, { success: [op.put("b", "2"), { requestPut: { key: b("c"), value: b("3"), lease: 5 } }] }),
      ),
    ).toBe("lease_not_found");
    expect(s.revision).toBe(2);
    // The put to the missing lease is on the branch not taken: the txn runs.
    const r = txn(s, {
      compare: [{ key: b("a"), target: "VALUE", result: "EQUAL", value: b("nope") }],
      success: [{ requestPut: { key: b("c"), value: b("3"), lease: 5 } }],
      failure: [op.put("d", "4")],
    });
    expect(r.succeeded).toBe(false);
    expect(keys(s)).toEqual(["a", "d"]);
  });

  it("a put attaches, a put with another lease moves the key, a put without one detaches it", () => {
    const s = newStore();
    grantLease(s, 1);
    grantLease(s, 2);
    put(s, "k", "v", { lease: 1 });
    put(s, "j", "v", { lease: 1 });
    expect(attached(s, 1)).toEqual(["j", "k"]);
    put(s, "k", "v2", { lease: 2 });
    expect([attached(s, 1), attached(s, 2)]).toEqual([["j"], ["k"]]);
    put(s, "k", "v3");
    expect(attached(s, 2)).toEqual([]);
    expect(get(s, "k").kvs[0]?.lease).toBe(0);
  });

  it("ignore_lease keeps the key on its lease; a delete detaches it", () => {
    const s = newStore();
    grantLease(s, 1);
    put(s, "k", "v", { lease: 1 });
    put(s, "k", "v2", { ignoreLease: true });
    expect(attached(s, 1)).toEqual(["k"]);
    expect(get(s, "k").kvs[0]?.lease).toBe(1);
    del(s, "k");
    expect(attached(s, 1)).toEqual([]);
    put(s, "k", "again");
    expect(attached(s, 1)).toEqual([]);
  });

  it("a txn's puts and deletes move attachments like single requests", () => {
    const s = newStore();
    grantLease(s, 1);
    put(s, "x", "0", { lease: 1 });
    txn(s, { success: [{ requestPut: { key: b("y"), value: b("1"), lease: 1 } }, op.del("x")] });
    expect(attached(s, 1)).toEqual(["y"]);
  });
});

describe("lease revoke", () => {
  it("deletes every attached key in one revision, in key order, with DELETE events", () => {
    const s = newStore();
    grantLease(s, 7);
    put(s, "b", "2", { lease: 7 }); // 2
    put(s, "a", "1", { lease: 7 }); // 3
    put(s, "c", "3"); // 4
    const { result, events } = revoke(s, 7);
    expect(result).toEqual({ header: { revision: 5 } });
    expect(events.map(eventText)).toEqual(["DELETE a@5 [prev 1@3]", "DELETE b@5 [prev 2@2]"]);
    expect(keys(s)).toEqual(["c"]);
    expect(s.lease(7)).toBeUndefined();
    // History keeps the values before the revoke.
    expect(get(s, "a", undefined, { revision: 4 }).kvs[0]?.lease).toBe(7);
  });

  it("a lease without keys is removed without a new revision; an unknown lease is lease_not_found", () => {
    const s = newStore();
    grantLease(s, 7);
    expect(revoke(s, 7)).toEqual({ result: { header: { revision: 1 } }, events: [] });
    const err = thrown(() => revoke(s, 7));
    expect([err.code, err.message]).toEqual(["lease_not_found", "etcdserver: requested lease not found"]);
  });

  it("after a revoke a put to the lease fails and a key moved away before is kept", () => {
    const s = newStore();
    grantLease(s, 1);
    grantLease(s, 2);
    put(s, "moved", "v", { lease: 1 });
    put(s, "moved", "v", { lease: 2 });
    put(s, "gone", "v", { lease: 1 });
    revoke(s, 1);
    expect(keys(s)).toEqual(["moved"]);
    expect(errorCode(() => put(s, "x", "v", { lease: 1 }))).toBe("lease_not_found");
  });

  it("compaction leaves leases and attachments alone", () => {
    const s = newStore();
    grantLease(s, 1);
    put(s, "k", "1", { lease: 1 });
    put(s, "k", "2", { lease: 1 });
    s.apply({ op: "compact", req: { revision: s.revision } });
    expect(attached(s, 1)).toEqual(["k"]);
    expect(revoke(s, 1).events.map(eventText)).toEqual(["DELETE k@4 [prev 2@3]"]);
  });
});

describe("history accounting", () => {
  it("historyEntries counts puts and tombstones and compaction lowers it with sizeBytes", () => {
    const s = newStore();
    for (let i = 0; i < 10; i++) put(s, "k", `v${i}`);
    del(s, "k");
    put(s, "j", "x");
    expect(s.historyEntries).toBe(12);
    const before = s.sizeBytes;
    s.apply({ op: "compact", req: { revision: s.revision } });
    expect(s.historyEntries).toBe(1);
    expect(s.sizeBytes).toBeLessThan(before);
  });
});

describe("snapshots and determinism", () => {
  function workload(): Command[] {
    return [
      { op: "leaseGrant", req: { id: 5, ttl: 30 } },
      { op: "leaseGrant", req: { id: 3, ttl: 10 } },
      { op: "put", req: { key: b("a"), value: b("1"), lease: 5 } },
      { op: "put", req: { key: b("b"), value: b("2"), lease: 3 } },
      { op: "put", req: { key: b("c"), value: b("3"), lease: 3 } },
      { op: "put", req: { key: b("b"), value: b("2"), lease: 5 } },
      { op: "deleteRange", req: { key: b("c") } },
      { op: "leaseGrant", req: { id: 9, ttl: 60 } },
      { op: "leaseRevoke", req: { id: 9 } },
    ];
  }

  function run(cmds: Command[], store = new KvStore()): KvStore {
    // Through the log's wire form, as a member applies entries.
    for (const c of cmds) store.apply(decodeCommand(encodeCommand(c)));
    return store;
  }

  it("the same commands give byte-identical snapshots, whatever else the map order saw", () => {
    expect(run(workload()).snapshot()).toEqual(run(workload()).snapshot());
    const reordered = workload();
    [reordered[0], reordered[1]] = [reordered[1]!, reordered[0]!];
    expect(run(reordered).snapshot()).toEqual(run(workload()).snapshot());
  });

  it("restore brings back leases, TTLs and attachments; the restored store revokes like the original", () => {
    const src = run(workload());
    const dst = new KvStore();
    dst.restore(src.snapshot());
    expect(dst.leases()).toEqual([
      { id: 3, ttl: 10 },
      { id: 5, ttl: 30 },
    ]);
    expect(attached(dst, 5)).toEqual(["a", "b"]);
    expect(attached(dst, 3)).toEqual([]);
    for (const s of [src, dst]) revoke(s, 5);
    expect(dst.snapshot()).toEqual(src.snapshot());
    expect(keys(dst)).toEqual([]);
  });

  it("reads a format-1 snapshot (no leases): keys keep their lease field and attach to nothing", () => {
    const packr = new Packr({ useRecords: false });
    const data = new Uint8Array(
      packr.pack(["cairn-mvcc", 1, 2, 0, [[b("a"), [[2, 2, 1, b("x"), 9, null]]]]]),
    );
    const s = new KvStore();
    s.restore(data);
    expect(s.leaseCount).toBe(0);
    expect(get(s, "a").kvs[0]?.lease).toBe(9);
    put(s, "a", "y"); // re-put without a lease: nothing to detach from, no failure
    expect(get(s, "a").kvs[0]?.lease).toBe(0);
  });

  it("rejects format-2 snapshots with bad lease lists or a key on a missing lease", () => {
    const packr = new Packr({ useRecords: false });
    const pack = (v: unknown) => new Uint8Array(packr.pack(v));
    const key = [b("a"), [[2, 2, 1, b("x"), 4, null]]];
    const bad = [
      pack(["cairn-mvcc", 2, 2, 0, [key], []]), // lease 4 missing
      pack([
        "cairn-mvcc",
        2,
        2,
        0,
        [],
        [
          [2, 5],
          [1, 5],
        ],
      ]), // out of order
      pack(["cairn-mvcc", 2, 2, 0, [], [[1, 0]]]), // ttl 0
      pack(["cairn-mvcc", 2, 2, 0, [], [[0, 5]]]), // id 0
      pack(["cairn-mvcc", 2, 2, 0, [], "x"]),
      pack(["cairn-mvcc", 2, 2, 0, []]), // format 2 without its lease list
    ];
    const s = run(workload());
    const before = s.snapshot();
    for (const data of bad) expect(errorCode(() => s.restore(data))).toBe("invalid_argument");
    expect(s.snapshot()).toEqual(before);
    s.restore(pack(["cairn-mvcc", 2, 2, 0, [key], [[4, 5]]]));
    expect(attached(s, 4)).toEqual(["a"]);
  });

  it("lease commands survive the log's wire form and malformed ones are refused", () => {
    const grant: Command = { op: "leaseGrant", req: { id: 12345678901, ttl: 60 } };
    expect(decodeCommand(encodeCommand(grant))).toEqual(grant);
    const revokeCmd: Command = { op: "leaseRevoke", req: { id: 7 } };
    expect(decodeCommand(encodeCommand(revokeCmd))).toEqual(revokeCmd);
    const packr = new Packr({ useRecords: false });
    expect(
      errorCode(() =>
        decodeCommand(new Uint8Array(packr.pack({ op: "leaseGrant", req: { id: 1, ttl: "60" } }))),
      ),
    ).toBe("invalid_argument");
    expect(errorCode(() => decodeCommand(new Uint8Array(packr.pack({ op: "leaseRevoke", req: {} }))))).toBe(
      "invalid_argument",
    );
  });
});
