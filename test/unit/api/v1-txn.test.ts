/** POST /v1/txn against a real single node. */
import { describe, expect, it } from "vitest";
import { json, post, put, revision, useApi } from "./helpers.ts";

const api = useApi();

describe("POST /v1/txn", () => {
  it("runs the success branch when every compare holds", async () => {
    const { app } = api;
    const rev = (await json(await put(app, "txn/a", "1"))).revision;
    const res = await post(app, "/v1/txn", {
      compare: [
        { key: "txn/a", target: "value", result: "=", value: "1" },
        { key: "txn/a", target: "mod_revision", result: "=", mod_revision: rev },
        { key: "txn/a", target: "version", result: ">", version: 0 },
        { key: "txn/a", target: "create_revision", result: "<", create_revision: rev + 1 },
        { key: "txn/a", target: "lease", result: "=", lease: 0 },
      ],
      success: [
        { put: { key: "txn/a", value: "2", prev_kv: true } },
        { put: { key: "txn/b", value: '{"x":1}', content_type: "application/json" } },
        { get: { key: "txn/a" } },
      ],
      failure: [{ put: { key: "txn/failed", value: "yes" } }],
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.succeeded).toBe(true);
    expect(body.revision).toBe(rev + 1);
    expect(body.responses).toHaveLength(3);
    expect(body.responses[0].put.prev_kv.value).toBe("1");
    expect(body.responses[1]).toEqual({ put: { revision: rev + 1 } });
    expect(body.responses[2].get.kvs[0].value).toBe("2");
    expect(body.responses[2].get.count).toBe(1);
    const b = await json(await app.request("/v1/kv/txn/b?meta=true"));
    expect(b.kv.content_type).toBe("application/json");
    expect((await app.request("/v1/kv/txn/failed")).status).toBe(404);
  });

  it("runs the failure branch when a compare fails", async () => {
    const { app } = api;
    await put(app, "txn/f", "current");
    const body = await json(
      await post(app, "/v1/txn", {
        compare: [{ key: "txn/f", target: "value", result: "=", value: "other" }],
        success: [{ delete: { key: "txn/f" } }],
        failure: [{ get: { key: "txn/f", keys_only: true } }, { delete: { key: "txn/none", prev_kv: true } }],
      }),
    );
    expect(body.succeeded).toBe(false);
    expect(body.responses[0].get.kvs).toEqual([expect.objectContaining({ key: "txn/f", version: 1 })]);
    expect(body.responses[0].get.kvs[0]).not.toHaveProperty("value");
    expect(body.responses[1]).toEqual({ delete: { deleted: 0, prev_kvs: [] } });
    expect((await app.request("/v1/kv/txn/f")).status).toBe(200);
  });

  it("compares and reads a prefix, and deletes a prefix", async () => {
    const { app } = api;
    await put(app, "txp/1", "a");
    await put(app, "txp/2", "b");
    const body = await json(
      await post(app, "/v1/txn", {
        compare: [{ key: "txp/", prefix: true, target: "version", result: "=", version: 1 }],
        success: [{ get: { key: "txp/", prefix: true, limit: 1 } }],
        failure: [],
      }),
    );
    expect(body.succeeded).toBe(true);
    expect(body.responses[0].get).toMatchObject({ more: true, count: 2 });
    expect(body.responses[0].get.kvs.map((kv: { key: string }) => kv.key)).toEqual(["txp/1"]);
    const del = await json(
      await post(app, "/v1/txn", { success: [{ delete: { key: "txp/", prefix: true, prev_kv: true } }] }),
    );
    expect(del.responses[0].delete.deleted).toBe(2);
    expect(del.responses[0].delete.prev_kvs).toHaveLength(2);
  });

  it("reads at a past revision inside a txn", async () => {
    const { app } = api;
    const r1 = (await json(await put(app, "txr/k", "old"))).revision;
    await put(app, "txr/k", "new");
    const body = await json(await post(app, "/v1/txn", { success: [{ get: { key: "txr/k", rev: r1 } }] }));
    expect(body.responses[0].get.kvs[0].value).toBe("old");
  });

  it("rejects a txn that puts one key twice, writing nothing", async () => {
    const { app } = api;
    const before = await revision(app);
    const res = await post(app, "/v1/txn", {
      success: [{ put: { key: "dup", value: "1" } }, { put: { key: "dup", value: "2" } }],
    });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain("duplicate key");
    expect(await revision(app)).toBe(before);
  });
});
