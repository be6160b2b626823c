/**
 * Leases on a real node with a driven clock (issue 4 §3): expiry deletes the keys after the TTL
 * and never before, through Raft and with DELETE watch events; keep-alive renews; time-to-live;
 * the minimum TTL; revoke; status fields.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WatchMessage } from "../../../src/mvcc/watcher.ts";
import type { CairnError } from "../../../src/util/errors.ts";
import { type DrivenNode, startDrivenNode } from "./driven-node.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

let n: DrivenNode;
beforeEach(async () => {
  n = await startDrivenNode();
});
afterEach(async () => {
  await n.stop();
});

async function exists(key: string): Promise<boolean> {
  return (await n.node.range({ key: enc.encode(key) }, "serializable")).count === 1;
}

async function rejects(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    return err as CairnError;
  }
  throw new Error("expected a rejection");
}

describe("lease expiry on the leader", () => {
  it("deletes the attached keys after the TTL and never before", async () => {
    const { id } = await n.node.leaseGrant({ ttl: 3 });
    await n.node.put({ key: enc.encode("a"), value: enc.encode("1"), lease: id });
    await n.node.put({ key: enc.encode("b"), value: enc.encode("2"), lease: id });
    await n.node.put({ key: enc.encode("c"), value: enc.encode("3") });
    const granted = n.now();
    await n.advance(2_999);
    expect(n.now() - granted).toBe(2_999);
    expect([await exists("a"), await exists("b")]).toEqual([true, true]);
    expect((await n.node.leaseLeases()).leases.map((l) => l.id)).toEqual([id]);
    await n.advance(1);
    expect([await exists("a"), await exists("b"), await exists("c")]).toEqual([false, false, true]);
    expect((await n.node.leaseLeases()).leases).toEqual([]);
    expect((await rejects(n.node.leaseTimeToLive(id, false))).code).toBe("lease_not_found");
  });

  it("an expiry produces DELETE events for every key, in one revision", async () => {
    const { id } = await n.node.leaseGrant({ ttl: 1 });
    await n.node.put({ key: enc.encode("svc/a"), value: enc.encode("1"), lease: id });
    const put = await n.node.put({ key: enc.encode("svc/b"), value: enc.encode("2"), lease: id });
    const watch = n.node.watch({
      key: enc.encode("svc/"),
      rangeEnd: enc.encode("svc0"),
      startRevision: put.header.revision + 1,
    });
    await n.advance(1_000);
    const m = (await watch.next()) as Extract<WatchMessage, { kind: "events" }>;
    watch.close();
    expect(m.kind).toBe("events");
    expect(m.revision).toBe(put.header.revision + 1);
    expect(m.events.map((e) => `${e.type} ${dec.decode(e.kv.key)}@${e.kv.modRevision}`)).toEqual([
      `DELETE svc/a@${m.revision}`,
      `DELETE svc/b@${m.revision}`,
    ]);
  });

  it("keep-alive renews to the full TTL, so a kept lease outlives its TTL many times", async () => {
    const { id, ttl } = await n.node.leaseGrant({ ttl: 2 });
    await n.node.put({ key: enc.encode("k"), value: enc.encode("v"), lease: id });
    for (let i = 0; i < 5; i++) {
      await n.advance(1_500);
      expect(await exists("k")).toBe(true);
      expect(await n.node.leaseKeepAlive(id)).toMatchObject({ id, ttl });
    }
    expect(n.now()).toBeGreaterThan(7_000 + 1_000_000);
    await n.advance(1_999);
    expect(await exists("k")).toBe(true);
    await n.advance(1);
    expect(await exists("k")).toBe(false);
  });

  it("a keep-alive of an expired lease waits for its revoke and answers lease_not_found", async () => {
    const { id } = await n.node.leaseGrant({ ttl: 1 });
    await n.node.put({ key: enc.encode("k"), value: enc.encode("v"), lease: id });
    await n.advance(1_000);
    const err = await rejects(n.node.leaseKeepAlive(id));
    expect([err.code, err.message]).toEqual(["lease_not_found", "etcdserver: requested lease not found"]);
    expect(await exists("k")).toBe(false);
  });
});

describe("lease requests", () => {
  it("raises a TTL below the minimum (etcd minLeaseTTL: here 1 s) and picks an id when none is given", async () => {
    expect(n.node.minLeaseTtlSeconds).toBe(1);
    const a = await n.node.leaseGrant({ ttl: -5 });
    expect(a.ttl).toBe(1);
    expect(Number.isSafeInteger(a.id) && a.id > 0).toBe(true);
    const b = await n.node.leaseGrant({ ttl: 0, id: 77 });
    expect(b).toMatchObject({ id: 77, ttl: 1 });
    expect((await rejects(n.node.leaseGrant({ ttl: 5, id: 77 }))).code).toBe("lease_exists");
    expect((await rejects(n.node.leaseGrant({ ttl: 9_000_000_001 }))).code).toBe("lease_ttl_too_large");
    expect((await rejects(n.node.leaseGrant({ ttl: 5, id: -1 }))).code).toBe("invalid_argument");
  });

  it("time-to-live gives the remaining seconds (truncated), the granted TTL and the keys", async () => {
    const { id } = await n.node.leaseGrant({ ttl: 10 });
    await n.node.put({ key: enc.encode("z"), value: enc.encode("1"), lease: id });
    await n.node.put({ key: enc.encode("y"), value: enc.encode("2"), lease: id });
    await n.advance(2_500);
    const r = await n.node.leaseTimeToLive(id, true);
    expect({ ...r, keys: r.keys?.map((k) => dec.decode(k)) }).toEqual({
      header: { revision: 3 },
      id,
      ttl: 7,
      grantedTtl: 10,
      keys: ["y", "z"],
    });
    expect((await n.node.leaseTimeToLive(id, false)).keys).toBeUndefined();
  });

  it("revoke deletes the keys at once; a put to the revoked lease fails", async () => {
    const { id } = await n.node.leaseGrant({ ttl: 100 });
    await n.node.put({ key: enc.encode("k"), value: enc.encode("v"), lease: id });
    const r = await n.node.leaseRevoke(id);
    expect(r.header.revision).toBe(3);
    expect(await exists("k")).toBe(false);
    const err = await rejects(n.node.put({ key: enc.encode("k"), value: enc.encode("v"), lease: id }));
    expect(err.code).toBe("lease_not_found");
    expect((await rejects(n.node.leaseRevoke(id))).code).toBe("lease_not_found");
  });

  it("status reports history held, keys and leases; compaction lowers the history", async () => {
    await n.node.leaseGrant({ ttl: 100, id: 5 });
    for (let i = 0; i < 20; i++) await n.node.put({ key: enc.encode("hot"), value: enc.encode(`v${i}`) });
    await n.node.put({ key: enc.encode("leased"), value: enc.encode("x"), lease: 5 });
    const before = await n.node.status();
    expect(before).toMatchObject({ historyEntries: 21, keyCount: 2, leaseCount: 1, compactRevision: 0 });
    await n.node.compact({ revision: before.revision });
    const after = await n.node.status();
    expect(after).toMatchObject({
      historyEntries: 2,
      keyCount: 2,
      leaseCount: 1,
      compactRevision: before.revision,
    });
    expect(after.historyBytes).toBeLessThan(before.historyBytes);
  });
});
