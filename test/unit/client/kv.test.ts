/**
 * CairnClient KV calls and transactions against a real single node served on loopback: typed
 * results (revisions, versions, leases, values as text and bytes), conditional writes, prefix
 * reads, deletes, txn with the compare / op builders, status and members.
 */
import { describe, expect, it } from "vitest";
import { CairnClientError, CompactedError, compare, op } from "../../../src/client/index.ts";
import { useServedNode } from "./helpers.ts";

const served = useServedNode();

describe("CairnClient KV", () => {
  it("puts and gets with etcd's revision fields, text and bytes", async () => {
    const c = served.client();
    const first = await c.put("kv/a", "one");
    const second = await c.put("kv/a", "配置", { prevKv: true });
    expect(second.revision).toBe(first.revision + 1);
    expect(second.prevKv).toMatchObject({
      key: "kv/a",
      value: "one",
      version: 1,
      modRevision: first.revision,
    });
    const { revision, kv } = await c.get("kv/a");
    expect(revision).toBeGreaterThanOrEqual(second.revision);
    expect(kv).toMatchObject({
      key: "kv/a",
      value: "配置",
      createRevision: first.revision,
      modRevision: second.revision,
      version: 2,
      lease: 0,
    });
    expect(kv!.contentType).toBeUndefined(); // the client adds no Content-Type of its own
    expect(Array.from(kv!.valueBytes)).toEqual(Array.from(new TextEncoder().encode("配置")));

    const bytes = new Uint8Array([0, 255, 1, 128]);
    await c.put("kv/bin", bytes);
    const bin = (await c.get("kv/bin")).kv!;
    expect(Array.from(bin.valueBytes)).toEqual([0, 255, 1, 128]);

    const old = await c.get("kv/a", { revision: first.revision });
    expect(old.kv?.value).toBe("one");
    const serial = await c.get("kv/a", { serializable: true });
    expect(serial.kv?.value).toBe("配置");
  });

  it("answers a missing key with kv undefined and the revision", async () => {
    const c = served.client();
    const w = await c.put("kv/present", "x");
    const r = await c.get("kv/absent");
    expect(r.kv).toBeUndefined();
    expect(r.revision).toBeGreaterThanOrEqual(w.revision);
  });

  it("keys with slashes, spaces, percent signs and a leading slash round-trip", async () => {
    const c = served.client();
    for (const key of ["/coreos.com/network/config", "kv/with space", "kv/100%", "kv/a?b#c", "kv/ключ"]) {
      await c.put(key, key);
      expect((await c.get(key)).kv?.value).toBe(key);
    }
  });

  it("conditional writes: ifAbsent, ifMatchRevision; precondition_failed with details", async () => {
    const c = served.client();
    const created = await c.put("kv/cas", "v1", { ifAbsent: true });
    const err = await c.put("kv/cas", "v1b", { ifAbsent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CairnClientError);
    expect(err).toMatchObject({ code: "precondition_failed", status: 412 });
    expect((err as CairnClientError).details).toMatchObject({ exists: true, mod_revision: created.revision });
    const swapped = await c.put("kv/cas", "v2", { ifMatchRevision: created.revision });
    await expect(c.put("kv/cas", "v3", { ifMatchRevision: created.revision })).rejects.toMatchObject({
      code: "precondition_failed",
    });
    await expect(c.delete("kv/cas", { ifMatchRevision: created.revision })).rejects.toMatchObject({
      code: "precondition_failed",
    });
    const del = await c.delete("kv/cas", { ifMatchRevision: swapped.revision });
    expect(del.deleted).toBe(1);
  });

  it("content types are stored and checked (invalid_value with the position)", async () => {
    const c = served.client();
    await c.put("kv/json", '{"pool": 10}', { contentType: "application/json" });
    expect((await c.get("kv/json")).kv?.contentType).toBe("application/json");
    const err = await c
      .put("kv/json", '{"pool": 10 "x": 1}', { contentType: "application/json" })
      .catch((e) => e);
    expect(err).toMatchObject({ code: "invalid_value", status: 400 });
  });

  it("getPrefix: key order, limit, keysOnly, countOnly, sort", async () => {
    const c = served.client();
    await c.put("pfx/b", "2");
    await c.put("pfx/a", "1");
    await c.put("pfx/c", "3");
    await c.put("pfy/x", "outside");
    const all = await c.getPrefix("pfx/");
    expect(all.kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ["pfx/a", "1"],
      ["pfx/b", "2"],
      ["pfx/c", "3"],
    ]);
    expect(all.count).toBe(3);
    expect(all.more).toBe(false);
    const limited = await c.getPrefix("pfx/", { limit: 2, keysOnly: true });
    expect(limited.kvs.map((kv) => kv.key)).toEqual(["pfx/a", "pfx/b"]);
    expect(limited.kvs[0]!.value).toBe("");
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);
    const counted = await c.getPrefix("pfx/", { countOnly: true });
    expect(counted.count).toBe(3);
    expect(counted.kvs).toEqual([]);
    const byCreate = await c.getPrefix("pfx/", { sort: { target: "create", order: "descend" } });
    expect(byCreate.kvs.map((kv) => kv.key)).toEqual(["pfx/c", "pfx/a", "pfx/b"]);
  });

  it("delete: one key, a prefix, prevKvs, and nothing", async () => {
    const c = served.client();
    await c.put("del/a", "1");
    await c.put("del/b", "2");
    await c.put("del/c", "3");
    const one = await c.delete("del/a", { prevKv: true });
    expect(one.deleted).toBe(1);
    expect(one.prevKvs?.map((kv) => kv.value)).toEqual(["1"]);
    const none = await c.delete("del/a");
    expect(none.deleted).toBe(0);
    const rest = await c.deletePrefix("del/");
    expect(rest.deleted).toBe(2);
    expect((await c.getPrefix("del/")).kvs).toEqual([]);
  });

  it("txn: compare-and-swap both ways, ops results in order", async () => {
    const c = served.client();
    const p = await c.put("txn/k", "v1");
    const ok = await c.txn({
      compare: [compare.modRevision("txn/k", "=", p.revision), compare.value("txn/k", "=", "v1")],
      success: [op.put("txn/k", "v2", { prevKv: true }), op.get("txn/k"), op.put("txn/other", "o")],
      failure: [op.get("txn/k")],
    });
    expect(ok.succeeded).toBe(true);
    expect(ok.responses.map((r) => r.type)).toEqual(["put", "get", "put"]);
    const put0 = ok.responses[0]!;
    expect(put0.type === "put" && put0.prevKv?.value).toBe("v1");
    const get1 = ok.responses[1]!;
    expect(get1.type === "get" && get1.kvs[0]?.value).toBe("v2");
    expect(ok.revision).toBe(p.revision + 1);

    const failed = await c.txn({
      compare: [compare.modRevision("txn/k", "=", p.revision)],
      success: [op.delete("txn/k")],
      failure: [op.get("txn/", { prefix: true, keysOnly: true })],
    });
    expect(failed.succeeded).toBe(false);
    const got = failed.responses[0]!;
    expect(got.type === "get" && got.kvs.map((kv) => kv.key)).toEqual(["txn/k", "txn/other"]);

    const absent = await c.txn({
      compare: [compare.createRevision("txn/new", "=", 0), compare.version("txn/k", ">", 1)],
      success: [op.put("txn/new", "n"), op.delete("txn/other", { prevKv: true })],
    });
    expect(absent.succeeded).toBe(true);
    const d = absent.responses[1]!;
    expect(d.type === "delete" && d.deleted).toBe(1);
    expect(d.type === "delete" && d.prevKvs?.[0]?.value).toBe("o");

    const readOnly = await c.txn({ success: [op.get("txn/k")] }, { serializable: true });
    expect(readOnly.succeeded).toBe(true);
  });

  it("txn errors are typed: duplicate key, wrong compare operand", async () => {
    const c = served.client();
    await expect(c.txn({ success: [op.put("dup", "1"), op.put("dup", "2")] })).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(
      c.txn({ compare: [{ key: "k", target: "version", result: "=", value: "1" }], success: [] }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("reads below the compaction fail with CompactedError carrying the compact revision", async () => {
    const c = served.client();
    const a = await c.put("cmp/k", "1");
    const b = await c.put("cmp/k", "2");
    await c.compact(b.revision);
    const err = await c.get("cmp/k", { revision: a.revision }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactedError);
    expect((err as CompactedError).compactRevision).toBe(b.revision);
    await expect(c.compact(a.revision)).rejects.toMatchObject({ code: "compacted" });
  });

  it("status and members", async () => {
    const c = served.client();
    const s = await c.status();
    expect(s).toMatchObject({ endpoint: served.url, isLeader: true, leader: s.memberId });
    expect(s.revision).toBeGreaterThan(0);
    const direct = await c.status(served.url);
    expect(direct.memberId).toBe(s.memberId);
    const members = await c.members();
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({ id: s.memberId, isLearner: false });
  });

  it("rejects calls after close()", async () => {
    const c = served.client();
    c.close();
    await expect(c.get("kv/a")).rejects.toMatchObject({ code: "closed" });
  });
});
