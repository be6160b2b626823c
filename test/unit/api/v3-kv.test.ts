/**
 * etcd's JSON gateway (/v3/kv/*) against a real single node: request and response JSON exactly
 * as etcd 3.4's grpc-gateway (base64 bytes, int64 as strings, default fields omitted).
 * The ids of the test node are etcd's defaults, so headers match a fresh `etcd` byte for byte.
 */
import { describe, expect, it } from "vitest";
import { b64, json, post, useApi } from "./helpers.ts";

const api = useApi();

const CLUSTER_ID = "14841639068965178418"; // 0xcdf818194e3a8c32
const MEMBER_ID = "10276657743932975437"; // 0x8e9e05c52164694d

function header(revision: number) {
  return {
    cluster_id: CLUSTER_ID,
    member_id: MEMBER_ID,
    revision: String(revision),
    raft_term: String(api.kv.header().raftTerm),
  };
}

async function v3(path: string, body: unknown) {
  const res = await post(api.app, `/v3/kv/${path}`, body);
  return { status: res.status, body: await json(res), raw: res };
}

async function currentRevision(): Promise<number> {
  const { body } = await v3("range", { key: b64("\0"), range_end: b64("\0"), count_only: true });
  return Number(body.header.revision);
}

describe("/v3/kv/put", () => {
  it("answers a put with only the header, and prev_kv when asked", async () => {
    const rev = await currentRevision();
    const first = await v3("put", { key: b64("v3/foo"), value: b64("bar") });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ header: header(rev + 1) });
    expect(Object.keys(first.body.header)).toEqual(["cluster_id", "member_id", "revision", "raft_term"]);

    const second = await v3("put", { key: b64("v3/foo"), value: b64("baz"), prev_kv: true });
    expect(second.body).toEqual({
      header: header(rev + 2),
      prev_kv: {
        key: b64("v3/foo"),
        create_revision: String(rev + 1),
        mod_revision: String(rev + 1),
        version: "1",
        value: b64("bar"),
      },
    });
  });

  it("omits an empty value from the KV, and keeps binary keys and values", async () => {
    await v3("put", { key: b64("v3/empty") });
    const { body } = await v3("range", { key: b64("v3/empty") });
    expect(body.kvs[0]).not.toHaveProperty("value");
    expect(body.kvs[0]).not.toHaveProperty("lease");

    const key = Buffer.from([0x76, 0x33, 0xff, 0x00]).toString("base64");
    const value = Buffer.from([0, 1, 2, 0xfe]).toString("base64");
    await v3("put", { key, value });
    const bin = await v3("range", { key });
    expect(bin.body.kvs[0].key).toBe(key);
    expect(bin.body.kvs[0].value).toBe(value);
  });

  it("accepts int64 fields as numbers or strings and ignores unknown fields (jsonpb)", async () => {
    const rev = await currentRevision();
    const { status } = await v3("put", { key: b64("v3/num"), value: b64("1"), lease: "0", future_field: 1 });
    expect(status).toBe(200);
    const got = await v3("range", { key: b64("v3/num"), revision: rev + 1 });
    expect(got.body.count).toBe("1");
  });
});

describe("/v3/kv/range", () => {
  it("reads one key with etcd's field order and string int64s", async () => {
    const put = await v3("put", { key: b64("v3r/a"), value: b64("1") });
    const rev = Number(put.body.header.revision);
    const { body, raw } = await v3("range", { key: b64("v3r/a") });
    expect(raw.status).toBe(200);
    expect(body).toEqual({
      header: header(rev),
      kvs: [
        {
          key: b64("v3r/a"),
          create_revision: String(rev),
          mod_revision: String(rev),
          version: "1",
          value: b64("1"),
        },
      ],
      count: "1",
    });
    expect(Object.keys(body)).toEqual(["header", "kvs", "count"]);
    expect(Object.keys(body.kvs[0])).toEqual(["key", "create_revision", "mod_revision", "version", "value"]);
  });

  it("omits kvs, more and count when nothing matches", async () => {
    const { body } = await v3("range", { key: b64("v3r/none") });
    expect(Object.keys(body)).toEqual(["header"]);
  });

  it("reads a prefix with range_end, limit, count_only, keys_only and sort", async () => {
    for (const k of ["b", "c", "d"]) await v3("put", { key: b64(`v3r/${k}`), value: b64(k) });
    const range = { key: b64("v3r/"), range_end: b64("v3r0") };
    const all = await v3("range", range);
    expect(all.body.kvs.map((kv: { key: string }) => Buffer.from(kv.key, "base64").toString())).toEqual([
      "v3r/a",
      "v3r/b",
      "v3r/c",
      "v3r/d",
    ]);
    expect(all.body.count).toBe("4");
    expect(all.body).not.toHaveProperty("more");

    const limited = await v3("range", { ...range, limit: 2 });
    expect(limited.body.kvs).toHaveLength(2);
    expect(limited.body.more).toBe(true);
    expect(limited.body.count).toBe("4");

    const counted = await v3("range", { ...range, count_only: true });
    expect(counted.body).not.toHaveProperty("kvs");
    expect(counted.body.count).toBe("4");

    const keys = await v3("range", { ...range, keys_only: true });
    for (const kv of keys.body.kvs) expect(kv).not.toHaveProperty("value");

    const desc = await v3("range", { ...range, sort_order: "DESCEND", sort_target: "KEY", limit: "1" });
    expect(Buffer.from(desc.body.kvs[0].key, "base64").toString()).toBe("v3r/d");
    const byNumber = await v3("range", { ...range, sort_order: 2, limit: 1 });
    expect(byNumber.body.kvs[0].key).toBe(desc.body.kvs[0].key);
  });

  it("honours serializable and the mod revision filters", async () => {
    const range = { key: b64("v3r/"), range_end: b64("v3r0") };
    const ser = await v3("range", { ...range, serializable: true, count_only: true });
    expect(ser.body.count).toBe("4");
    const a = await v3("range", { key: b64("v3r/a") });
    const aRev = Number(a.body.kvs[0].mod_revision);
    const filtered = await v3("range", { ...range, max_mod_revision: aRev });
    expect(filtered.body.kvs.map((kv: { key: string }) => kv.key)).toEqual([b64("v3r/a")]);
    expect(filtered.body.count).toBe("4");
  });
});

describe("/v3/kv/deleterange", () => {
  it("deletes a range and returns prev_kvs", async () => {
    for (const k of ["x", "y"]) await v3("put", { key: b64(`v3d/${k}`), value: b64(k) });
    const { body } = await v3("deleterange", { key: b64("v3d/"), range_end: b64("v3d0"), prev_kv: true });
    expect(body.deleted).toBe("2");
    expect(body.prev_kvs.map((kv: { value: string }) => kv.value)).toEqual([b64("x"), b64("y")]);
    const none = await v3("deleterange", { key: b64("v3d/x") });
    expect(Object.keys(none.body)).toEqual(["header"]);
  });
});

describe("/v3/kv/txn", () => {
  it("compares on each target and answers with response_* ops", async () => {
    const put = await v3("put", { key: b64("v3t/k"), value: b64("v") });
    const rev = Number(put.body.header.revision);
    const compares = [
      { key: b64("v3t/k"), target: "VERSION", result: "EQUAL", version: "1" },
      { key: b64("v3t/k"), target: "CREATE", result: "EQUAL", create_revision: String(rev) },
      { key: b64("v3t/k"), target: "MOD", result: "LESS", mod_revision: String(rev + 1) },
      { key: b64("v3t/k"), target: "VALUE", result: "EQUAL", value: b64("v") },
      { key: b64("v3t/k"), target: "LEASE", result: "EQUAL", lease: "0" },
      { key: b64("v3t/k"), target: "VALUE", result: "NOT_EQUAL", value: b64("w") },
      { key: b64("v3t/k"), target: "MOD", result: "GREATER", mod_revision: "0" },
    ];
    for (const compare of compares) {
      const ok = await v3("txn", { compare: [compare], success: [{ request_range: { key: b64("v3t/k") } }] });
      expect(ok.body.succeeded, JSON.stringify(compare)).toBe(true);
    }
    const failing = [
      { key: b64("v3t/k"), target: "VERSION", result: "GREATER", version: "1" },
      { key: b64("v3t/k"), target: "CREATE", result: "NOT_EQUAL", create_revision: String(rev) },
      { key: b64("v3t/k"), target: "MOD", result: "LESS", mod_revision: String(rev) },
      { key: b64("v3t/k"), target: "VALUE", result: "EQUAL", value: b64("w") },
      { key: b64("v3t/k"), target: "LEASE", result: "GREATER", lease: "0" },
    ];
    for (const compare of failing) {
      const no = await v3("txn", { compare: [compare], success: [{ request_range: { key: b64("v3t/k") } }] });
      expect(no.body, JSON.stringify(compare)).not.toHaveProperty("succeeded");
      expect(no.body, JSON.stringify(compare)).not.toHaveProperty("responses");
    }
    const { body } = await v3("txn", {
      compare: compares,
      success: [
        { request_put: { key: b64("v3t/k"), value: b64("v2"), prev_kv: true } },
        { request_range: { key: b64("v3t/k") } },
      ],
      failure: [{ request_delete_range: { key: b64("v3t/k") } }],
    });
    expect(body).toEqual({
      header: header(rev + 1),
      succeeded: true,
      responses: [
        {
          response_put: {
            header: { revision: String(rev + 1) },
            prev_kv: {
              key: b64("v3t/k"),
              create_revision: String(rev),
              mod_revision: String(rev),
              version: "1",
              value: b64("v"),
            },
          },
        },
        {
          response_range: {
            header: { revision: String(rev + 1) },
            kvs: [
              {
                key: b64("v3t/k"),
                create_revision: String(rev),
                mod_revision: String(rev + 1),
                version: "2",
                value: b64("v2"),
              },
            ],
            count: "1",
          },
        },
      ],
    });
  });

  it("defaults a compare to VERSION EQUAL (protobuf zero values) and runs failure", async () => {
    await v3("put", { key: b64("v3t/d"), value: b64("x") });
    // version = 0 EQUAL fails for an existing key (its version is 1).
    const { body } = await v3("txn", {
      compare: [{ key: b64("v3t/d") }],
      success: [{ request_put: { key: b64("v3t/d"), value: b64("success") } }],
      failure: [{ request_delete_range: { key: b64("v3t/d"), prev_kv: true } }],
    });
    expect(body).not.toHaveProperty("succeeded");
    expect(body.responses[0].response_delete_range.deleted).toBe("1");
    expect(body.responses[0].response_delete_range.prev_kvs[0].value).toBe(b64("x"));
  });

  it("nests a txn", async () => {
    const { body } = await v3("txn", {
      success: [{ request_txn: { success: [{ request_put: { key: b64("v3t/nested"), value: b64("n") } }] } }],
    });
    expect(body.succeeded).toBe(true);
    expect(body.responses[0].response_txn.succeeded).toBe(true);
    expect(body.responses[0].response_txn.responses[0]).toHaveProperty("response_put");
  });
});

describe("/v3/kv/compaction", () => {
  it("compacts, then a read below the compacted revision fails like etcd", async () => {
    const first = await v3("put", { key: b64("v3c/k"), value: b64("1") });
    const r1 = Number(first.body.header.revision);
    const second = await v3("put", { key: b64("v3c/k"), value: b64("2") });
    const r2 = Number(second.body.header.revision);
    const compact = await v3("compaction", { revision: String(r2), physical: true });
    expect(compact.status).toBe(200);
    expect(compact.body).toEqual({ header: header(r2) });

    const old = await v3("range", { key: b64("v3c/k"), revision: String(r1) });
    expect(old.status).toBe(400);
    expect(old.body).toEqual({
      error: "etcdserver: mvcc: required revision has been compacted",
      code: 11,
      message: "etcdserver: mvcc: required revision has been compacted",
    });
    const atCompacted = await v3("range", { key: b64("v3c/k"), revision: r2 });
    expect(atCompacted.body.kvs[0].value).toBe(b64("2"));
  });
});

describe("/v3 errors", () => {
  it("answers etcd's messages for an empty key and a future revision", async () => {
    const empty = await v3("put", { value: b64("x") });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({
      error: "etcdserver: key is not provided",
      code: 3,
      message: "etcdserver: key is not provided",
    });
    const future = await v3("range", { key: b64("a"), revision: (await currentRevision()) + 10 });
    expect(future.body.code).toBe(11);
    expect(future.body.message).toBe("etcdserver: mvcc: required revision is a future revision");
  });

  it("answers invalid JSON, bad base64 and duplicate txn keys with code 3, writing nothing", async () => {
    const before = await currentRevision();
    const bad = await v3("put", '{"key": "YQ==", }');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(3);
    expect(bad.body.message).toContain("line 1, column 17");
    const b64bad = await v3("put", { key: "not base64!", value: b64("x") });
    expect(b64bad.body.code).toBe(3);
    expect(b64bad.body.message).toContain("key");
    const dup = await v3("txn", {
      success: [
        { request_put: { key: b64("d"), value: b64("1") } },
        { request_delete_range: { key: b64("c"), range_end: b64("e") } },
      ],
    });
    expect(dup.body.message).toBe("etcdserver: duplicate key given in txn request");
    expect(await currentRevision()).toBe(before);
  });
});

describe("/v3 empty body", () => {
  it("reads an empty body as the empty message, like grpc-gateway", async () => {
    const res = await api.app.request("/v3/kv/range", { method: "POST" });
    expect(res.status).toBe(400);
    expect((await json(res)).message).toBe("etcdserver: key is not provided");
  });
});

describe("/v3 txn limits", () => {
  it("rejects txns nested past the depth limit and more than 128 ops, writing nothing", async () => {
    const before = await currentRevision();
    // Built as text: JSON.stringify itself recurses.
    const inner = JSON.stringify({ success: [{ request_put: { key: b64("deep"), value: b64("x") } }] });
    const deep = await v3(
      "txn",
      `${'{"success":[{"request_txn":'.repeat(2000)}${inner}${"}]}".repeat(2000)}`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body.message).toContain("nested deeper");
    const many = await v3("txn", {
      success: Array.from({ length: 129 }, (_, i) => ({
        request_put: { key: b64(`many/${i}`), value: b64("x") },
      })),
    });
    expect(many.body.message).toBe("etcdserver: too many operations in txn request");
    expect(await currentRevision()).toBe(before);
  });
});
