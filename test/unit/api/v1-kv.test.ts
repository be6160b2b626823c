/** GET/PUT/DELETE /v1/kv/{key} against a real single node (the API contract, "Native /v1"). */
import { describe, expect, it } from "vitest";
import { json, put, revision, useApi } from "./helpers.ts";

const api = useApi();

describe("PUT and GET /v1/kv/{key}", () => {
  it("round-trips a value with its Content-Type and revision headers", async () => {
    const { app } = api;
    const before = await revision(app);
    const res = await put(app, "rt/config", '{"port": 8080}', { "content-type": "application/json" });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ revision: before + 1 });

    const got = await app.request("/v1/kv/rt/config");
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/json");
    expect(await got.text()).toBe('{"port": 8080}');
    expect(got.headers.get("etag")).toBe(`"${before + 1}"`);
    expect(got.headers.get("x-cairn-revision")).toBe(String(before + 1));
    expect(got.headers.get("x-cairn-create-revision")).toBe(String(before + 1));
    expect(got.headers.get("x-cairn-mod-revision")).toBe(String(before + 1));
    expect(got.headers.get("x-cairn-version")).toBe("1");
    expect(got.headers.get("x-cairn-lease")).toBe("0");

    await put(app, "rt/config", '{"port": 9090}', { "content-type": "application/json" });
    const again = await app.request("/v1/kv/rt/config");
    expect(again.headers.get("x-cairn-version")).toBe("2");
    expect(again.headers.get("x-cairn-create-revision")).toBe(String(before + 1));
    expect(again.headers.get("x-cairn-mod-revision")).toBe(String(before + 2));
  });

  it("serves a value stored without Content-Type as application/octet-stream, bytes unchanged", async () => {
    const { app } = api;
    const bytes = Uint8Array.of(0, 0xff, 0xfe, 10, 0x80);
    const res = await app.request("/v1/kv/rt/binary", { method: "PUT", body: bytes });
    expect(res.status).toBe(200);
    const got = await app.request("/v1/kv/rt/binary");
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
    const meta = await json(await app.request("/v1/kv/rt/binary?meta=true"));
    expect(meta.kv.value_encoding).toBe("base64");
    expect(meta.kv.value).toBe(Buffer.from(bytes).toString("base64"));
    expect(meta.kv.content_type).toBeUndefined();
  });

  it("addresses key /a/b by /v1/kv//a/b, distinct from a/b", async () => {
    const { app } = api;
    expect((await put(app, "/slash/a/b", "with slash")).status).toBe(200);
    expect((await put(app, "slash/a/b", "without slash")).status).toBe(200);
    expect(await (await app.request("/v1/kv//slash/a/b")).text()).toBe("with slash");
    expect(await (await app.request("/v1/kv/slash/a/b")).text()).toBe("without slash");
    const meta = await json(await app.request("/v1/kv//slash/a/b?meta=true"));
    expect(meta.kv.key).toBe("/slash/a/b");
  });

  it("takes UTF-8 keys percent-encoded in the path, and %2F as part of a key", async () => {
    const { app } = api;
    const key = "配置/数据库";
    const path = key.split("/").map(encodeURIComponent).join("/");
    expect((await put(app, path, "主库", { "content-type": "text/plain; charset=utf-8" })).status).toBe(200);
    const got = await app.request(`/v1/kv/${path}`);
    expect(await got.text()).toBe("主库");
    expect(got.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const meta = await json(await app.request(`/v1/kv/${path}?meta=true`));
    expect(meta.kv.key).toBe(key);
    expect(meta.kv.value).toBe("主库");

    await put(app, "enc%2Fkey", "one key");
    const list = await json(await app.request("/v1/kv/enc?prefix=true"));
    expect(list.kvs.map((kv: { key: string }) => kv.key)).toEqual(["enc/key"]);
  });

  it("answers meta=true with the KV as JSON", async () => {
    const { app } = api;
    const res = await put(app, "meta/k", "v1", { "content-type": "text/plain" });
    const { revision: rev } = await json(res);
    const meta = await json(await app.request("/v1/kv/meta/k?meta=true"));
    expect(meta).toEqual({
      revision: rev,
      kv: {
        key: "meta/k",
        value: "v1",
        content_type: "text/plain",
        create_revision: rev,
        mod_revision: rev,
        version: 1,
        lease: 0,
      },
    });
  });

  it("returns prev_kv on PUT when asked", async () => {
    const { app } = api;
    await put(app, "prev/k", "old");
    const body = await json(await put(app, "prev/k?prev_kv=true", "new"));
    expect(body.prev_kv.value).toBe("old");
    expect(body.prev_kv.key).toBe("prev/k");
    const first = await json(await put(app, "prev/fresh?prev_kv=true", "x"));
    expect(first.prev_kv).toBeUndefined();
  });

  it("404s a missing key with code key_not_found", async () => {
    const res = await api.app.request("/v1/kv/no/such/key");
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.error.code).toBe("key_not_found");
    expect(body.error.message).toContain("no/such/key");
  });

  it("answers HEAD with the headers of GET and no body, and 304 for a matching If-None-Match", async () => {
    const { app } = api;
    const { revision: rev } = await json(await put(app, "head/k", "body"));
    const head = await app.request("/v1/kv/head/k", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("etag")).toBe(`"${rev}"`);
    expect(await head.text()).toBe("");
    const cached = await app.request("/v1/kv/head/k", { headers: { "if-none-match": `"${rev}"` } });
    expect(cached.status).toBe(304);
    const stale = await app.request("/v1/kv/head/k", { headers: { "if-none-match": `"${rev - 1}"` } });
    expect(stale.status).toBe(200);
  });

  it("serves serializable reads from local state", async () => {
    const { app } = api;
    await put(app, "ser/k", "local");
    const res = await app.request("/v1/kv/ser/k?consistency=serializable");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("local");
    const bad = await app.request("/v1/kv/ser/k?consistency=eventual");
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("invalid_argument");
  });
});

describe("GET /v1/kv/{prefix}?prefix=true", () => {
  it("lists a prefix with count, limit and more", async () => {
    const { app } = api;
    for (const k of ["c", "a", "b", "d"]) await put(app, `list/${k}`, `value-${k}`);
    await put(app, "listx", "outside the prefix");
    const all = await json(await app.request("/v1/kv/list/?prefix=true"));
    expect(all.kvs.map((kv: { key: string }) => kv.key)).toEqual(["list/a", "list/b", "list/c", "list/d"]);
    expect(all.count).toBe(4);
    expect(all.more).toBe(false);
    expect(all.kvs[0].value).toBe("value-a");

    const page = await json(await app.request("/v1/kv/list/?prefix=true&limit=2"));
    expect(page.kvs.map((kv: { key: string }) => kv.key)).toEqual(["list/a", "list/b"]);
    expect(page.more).toBe(true);
    expect(page.count).toBe(4);
  });

  it("supports keys_only, count_only, sort and range_end", async () => {
    const { app } = api;
    for (const k of ["x", "y", "z"]) await put(app, `opts/${k}`, k);
    const keys = await json(await app.request("/v1/kv/opts/?prefix=true&keys_only=true"));
    expect(keys.kvs.map((kv: { key: string }) => kv.key)).toEqual(["opts/x", "opts/y", "opts/z"]);
    for (const kv of keys.kvs) expect(kv).not.toHaveProperty("value");

    const counted = await json(await app.request("/v1/kv/opts/?prefix=true&count_only=true"));
    expect(counted.count).toBe(3);
    expect(counted.kvs).toEqual([]);

    const desc = await json(await app.request("/v1/kv/opts/?prefix=true&sort_order=descend"));
    expect(desc.kvs.map((kv: { key: string }) => kv.key)).toEqual(["opts/z", "opts/y", "opts/x"]);

    const ranged = await json(await app.request(`/v1/kv/opts/x?range_end=${encodeURIComponent("opts/z")}`));
    expect(ranged.kvs.map((kv: { key: string }) => kv.key)).toEqual(["opts/x", "opts/y"]);
  });

  it("lists every key with GET /v1/kv/?prefix=true", async () => {
    const { app } = api;
    await put(app, "every/one", "1");
    const all = await json(await app.request("/v1/kv/?prefix=true&keys_only=true"));
    const keys = all.kvs.map((kv: { key: string }) => kv.key);
    expect(keys).toContain("every/one");
    expect(keys).toContain("/slash/a/b");
    expect(all.count).toBe(keys.length);
  });

  it("rejects an unknown query parameter instead of ignoring it", async () => {
    const res = await api.app.request("/v1/kv/list/?prefx=true");
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain("prefx");
  });
});

describe("reads at a revision", () => {
  it("reads a past value with rev=N and 410s a compacted revision with compact_revision", async () => {
    const { app } = api;
    const r1 = (await json(await put(app, "hist/k", "first"))).revision;
    const r2 = (await json(await put(app, "hist/k", "second"))).revision;
    await put(app, "hist/k", "third");
    expect(await (await app.request(`/v1/kv/hist/k?rev=${r1}`)).text()).toBe("first");
    expect(await (await app.request(`/v1/kv/hist/k?rev=${r2}`)).text()).toBe("second");
    const past = await json(await app.request(`/v1/kv/hist/?prefix=true&rev=${r1}`));
    expect(past.kvs.map((kv: { value: string }) => kv.value)).toEqual(["first"]);

    const compact = await app.request("/v3/kv/compaction", {
      method: "POST",
      body: JSON.stringify({ revision: String(r2) }),
    });
    expect(compact.status).toBe(200);
    const gone = await app.request(`/v1/kv/hist/k?rev=${r1}`);
    expect(gone.status).toBe(410);
    const body = await json(gone);
    expect(body.error.code).toBe("compacted");
    expect(body.error.compact_revision).toBe(r2);
    expect(await (await app.request(`/v1/kv/hist/k?rev=${r2}`)).text()).toBe("second");
  });

  it("400s a future revision", async () => {
    const { app } = api;
    const res = await app.request(`/v1/kv/hist/k?rev=${(await revision(app)) + 100}`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe("future_revision");
  });
});

describe("DELETE /v1/kv/{key}", () => {
  it("deletes one key, and reports deleted 0 for a missing one", async () => {
    const { app } = api;
    await put(app, "del/one", "x");
    const before = await revision(app);
    const res = await app.request("/v1/kv/del/one", { method: "DELETE" });
    expect(await json(res)).toEqual({ revision: before + 1, deleted: 1 });
    expect((await app.request("/v1/kv/del/one")).status).toBe(404);
    const none = await json(await app.request("/v1/kv/del/one", { method: "DELETE" }));
    expect(none.deleted).toBe(0);
  });

  it("deletes a prefix and returns prev_kvs when asked", async () => {
    const { app } = api;
    for (const k of ["a", "b", "c"]) await put(app, `delp/${k}`, `v${k}`);
    await put(app, "delq", "stays");
    const res = await json(await app.request("/v1/kv/delp/?prefix=true&prev_kv=true", { method: "DELETE" }));
    expect(res.deleted).toBe(3);
    expect(res.prev_kvs.map((kv: { key: string; value: string }) => [kv.key, kv.value])).toEqual([
      ["delp/a", "va"],
      ["delp/b", "vb"],
      ["delp/c", "vc"],
    ]);
    expect((await json(await app.request("/v1/kv/delp/?prefix=true"))).count).toBe(0);
    expect((await app.request("/v1/kv/delq")).status).toBe(200);
  });
});

describe("conditional writes (If-Match / If-None-Match)", () => {
  it("compare-and-swaps with If-Match and 412s a stale ETag without writing", async () => {
    const { app } = api;
    const created = await put(app, "cas/k", "v1");
    const rev = (await json(created)).revision;
    const etag = (await app.request("/v1/kv/cas/k")).headers.get("etag")!;
    expect(etag).toBe(`"${rev}"`);

    const ok = await put(app, "cas/k", "v2", { "if-match": etag });
    expect(ok.status).toBe(200);
    const newRev = (await json(ok)).revision;

    const before = await revision(app);
    const stale = await put(app, "cas/k", "v3", { "if-match": etag });
    expect(stale.status).toBe(412);
    const err = (await json(stale)).error;
    expect(err.code).toBe("precondition_failed");
    expect(err.message).toContain(`mod_revision ${newRev}`);
    expect(err.mod_revision).toBe(newRev);
    expect(await revision(app)).toBe(before);
    expect(await (await app.request("/v1/kv/cas/k")).text()).toBe("v2");
  });

  it("412s If-Match on a missing key", async () => {
    const { app } = api;
    const res = await put(app, "cas/missing", "x", { "if-match": '"5"' });
    expect(res.status).toBe(412);
    expect((await json(res)).error.message).toContain("does not exist");
    expect((await app.request("/v1/kv/cas/missing")).status).toBe(404);
  });

  it("creates only when absent with If-None-Match: *", async () => {
    const { app } = api;
    const first = await put(app, "create/once", "mine", { "if-none-match": "*" });
    expect(first.status).toBe(200);
    const second = await put(app, "create/once", "theirs", { "if-none-match": "*" });
    expect(second.status).toBe(412);
    expect((await json(second)).error.message).toContain("already exists");
    expect(await (await app.request("/v1/kv/create/once")).text()).toBe("mine");
  });

  it("deletes with If-Match only at the matching revision", async () => {
    const { app } = api;
    const rev = (await json(await put(app, "cas/del", "x"))).revision;
    const stale = await app.request("/v1/kv/cas/del", {
      method: "DELETE",
      headers: { "if-match": `"${rev - 1}"` },
    });
    expect(stale.status).toBe(412);
    expect((await app.request("/v1/kv/cas/del")).status).toBe(200);
    const ok = await app.request("/v1/kv/cas/del?prev_kv=true", {
      method: "DELETE",
      headers: { "if-match": `"${rev}"` },
    });
    expect(ok.status).toBe(200);
    const body = await json(ok);
    expect(body.deleted).toBe(1);
    expect(body.prev_kvs[0].value).toBe("x");
    expect((await app.request("/v1/kv/cas/del")).status).toBe(404);
  });

  it("rejects a malformed If-Match with 400", async () => {
    const res = await put(api.app, "cas/k", "x", { "if-match": 'W/"3"' });
    expect(res.status).toBe(400);
  });
});
