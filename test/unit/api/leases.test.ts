/**
 * Lease and compaction routes through app.request() on a real single node (issue 4 §3–4):
 * /v1/leases (one-shot and streaming keep-alive), POST /v1/compaction, /v1/status fields, and
 * etcd's gateway /v3/lease/* with etcd 3.4.23's exact shapes (copied from a real etcd 3.4.23:
 * int64 as strings, default-valued fields omitted, upper-case ID / TTL).
 */
import { describe, expect, it } from "vitest";
import { BodyReader } from "../../helpers/body-reader.ts";
import { b64, json, post, put, revision, useApi } from "./helpers.ts";

const api = useApi();

/** The header of every /v3 answer of the test node. */
function header(rev: number) {
  return {
    cluster_id: BigInt("0xcdf818194e3a8c32").toString(),
    member_id: BigInt("0x8e9e05c52164694d").toString(),
    revision: String(rev),
    raft_term: expect.stringMatching(/^[1-9][0-9]*$/),
  };
}

/** A request body the test keeps writing to. */
function requestStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    body,
    write: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

async function grant(ttl: number, id?: number): Promise<number> {
  const res = await post(api.app, "/v1/leases", id === undefined ? { ttl } : { ttl, id });
  expect(res.status).toBe(201);
  return (await json(res)).id;
}

describe("/v1/leases", () => {
  it("grants (201 {id, ttl}), raising a TTL below the minimum and picking an id", async () => {
    const res = await post(api.app, "/v1/leases", { ttl: 1 });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(Object.keys(body)).toEqual(["id", "ttl"]);
    expect(body.ttl).toBe(1); // the test node's minimum is 1 s
    expect(Number.isSafeInteger(body.id) && body.id > 0).toBe(true);
    expect(await json(await post(api.app, "/v1/leases", { ttl: 30, id: 4001 }))).toEqual({
      id: 4001,
      ttl: 30,
    });
  });

  it("refuses bad bodies and ids with the contract's errors", async () => {
    await grant(30, 4002);
    const cases: [unknown, number, string][] = [
      [{ ttl: 30, id: 4002 }, 409, "lease_exists"],
      [{ ttl: 9_000_000_001 }, 400, "lease_ttl_too_large"],
      [{ ttl: 0 }, 400, "invalid_argument"],
      [{ ttl: 1.5 }, 400, "invalid_argument"],
      [{ TTL: 10 }, 400, "invalid_argument"],
      [{ ttl: 10, id: -1 }, 400, "invalid_argument"],
      ["{", 400, "invalid_argument"],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(api.app, "/v1/leases", body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await json(res)).error.code).toBe(code);
    }
    expect((await json(await api.app.request("/v1/leases/abc"))).error.code).toBe("invalid_argument");
    expect((await api.app.request("/v1/leases/4002?key=true")).status).toBe(400);
  });

  it("time-to-live: remaining and granted TTL, keys on request; 404 for an unknown lease", async () => {
    const id = await grant(60);
    await put(api.app, `ttl/b?lease=${id}`, "2");
    await put(api.app, `ttl/a?lease=${id}`, "1");
    const body = await json(await api.app.request(`/v1/leases/${id}?keys=true`));
    expect(body).toEqual({ id, ttl: expect.any(Number), granted_ttl: 60, keys: ["ttl/a", "ttl/b"] });
    expect(body.ttl).toBeGreaterThanOrEqual(58);
    expect(body.ttl).toBeLessThanOrEqual(60);
    expect(Object.keys(await json(await api.app.request(`/v1/leases/${id}`)))).toEqual([
      "id",
      "ttl",
      "granted_ttl",
    ]);
    const missing = await api.app.request("/v1/leases/987654321");
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({
      error: { code: "lease_not_found", message: "etcdserver: requested lease not found" },
    });
  });

  it("time-to-live lists keys that are not UTF-8 in base64", async () => {
    const id = await grant(60);
    await post(api.app, "/v3/kv/put", {
      key: Buffer.from([0xff, 0x01]).toString("base64"),
      value: "",
      lease: id,
    });
    expect(await json(await api.app.request(`/v1/leases/${id}?keys=true`))).toMatchObject({
      keys: ["/wE="],
      keys_encoding: "base64",
    });
  });

  it("a put with a lease that does not exist is 404 lease_not_found", async () => {
    const res = await put(api.app, "nolease?lease=123456789", "x");
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe("lease_not_found");
  });

  it("revoke deletes the lease's keys in one revision and answers with it", async () => {
    const id = await grant(60);
    await put(api.app, `rv/a?lease=${id}`, "1");
    await put(api.app, `rv/b?lease=${id}`, "2");
    const before = await revision(api.app);
    const res = await api.app.request(`/v1/leases/${id}`, { method: "DELETE" });
    expect(await json(res)).toEqual({ revision: before + 1 });
    expect((await api.app.request("/v1/kv/rv/a")).status).toBe(404);
    expect((await api.app.request("/v1/kv/rv/b")).status).toBe(404);
    expect((await api.app.request(`/v1/leases/${id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("lists leases ascending by id with their granted TTL", async () => {
    await grant(40, 9_000_000_000_001);
    const body = await json(await api.app.request("/v1/leases"));
    expect(body.revision).toBe(await revision(api.app));
    const ids = body.leases.map((l: { id: number }) => l.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    expect(body.leases).toContainEqual({ id: 9_000_000_000_001, granted_ttl: 40 });
  });

  it("one-shot keep-alive answers {id, ttl}; an unknown lease is 404", async () => {
    const id = await grant(25);
    expect(await json(await api.app.request(`/v1/leases/${id}/keepalive`, { method: "POST" }))).toEqual({
      id,
      ttl: 25,
    });
    expect((await api.app.request("/v1/leases/55555/keepalive", { method: "POST" })).status).toBe(404);
  });

  it("streaming keep-alive answers one line per ping, and ends after lease_not_found", async () => {
    const id = await grant(20);
    const req = requestStream();
    const res = await api.app.request(`/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body: req.body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const out = new BodyReader(res);
    req.write("\n");
    expect(await out.line()).toEqual({ id, ttl: 20 });
    req.write("ping\r\n\n");
    expect(await out.line()).toEqual({ id, ttl: 20 });
    expect(await out.line()).toEqual({ id, ttl: 20 });
    await api.app.request(`/v1/leases/${id}`, { method: "DELETE" });
    req.write("\n");
    expect(await out.line()).toEqual({
      error: { code: "lease_not_found", message: "etcdserver: requested lease not found" },
    });
    // The server stops reading the request too (the body is cancelled).
    expect(await out.endsWithin()).toBe(true);
  });

  it("streaming keep-alive ends when the request body ends", async () => {
    const id = await grant(20);
    const res = await api.app.request(`/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body: "\n\n",
    });
    const out = new BodyReader(res);
    expect(await out.line()).toEqual({ id, ttl: 20 });
    expect(await out.line()).toEqual({ id, ttl: 20 });
    expect(await out.endsWithin()).toBe(true);
  });
});

describe("POST /v1/compaction and /v1/status", () => {
  it("compacts, answers {revision, compact_revision}, and refuses old and future revisions", async () => {
    await put(api.app, "cmp/k", "1");
    await put(api.app, "cmp/k", "2");
    const rev = await revision(api.app);
    const res = await post(api.app, "/v1/compaction", { revision: rev - 1 });
    expect(await json(res)).toEqual({ revision: rev, compact_revision: rev - 1 });
    const again = await post(api.app, "/v1/compaction", { revision: rev - 1 });
    expect(again.status).toBe(410);
    expect((await json(again)).error).toEqual({
      code: "compacted",
      message: "mvcc: required revision has been compacted",
      compact_revision: rev - 1,
    });
    expect((await post(api.app, "/v1/compaction", { revision: rev + 5 })).status).toBe(400);
    expect((await post(api.app, "/v1/compaction", { rev: 3 })).status).toBe(400);
  });

  it("status reports history_entries, history_bytes, keys, leases and compact_revision", async () => {
    const s = await json(await api.app.request("/v1/status"));
    for (const f of ["history_entries", "history_bytes", "keys", "leases", "compact_revision"]) {
      expect(Number.isSafeInteger(s[f]), f).toBe(true);
    }
    expect(s.history_entries).toBeGreaterThan(0);
    expect(s.history_bytes).toBeGreaterThan(0);
    await put(api.app, "status/more", "x");
    expect((await json(await api.app.request("/v1/status"))).history_entries).toBe(s.history_entries + 1);
  });
});

describe("etcd gateway /v3/lease/*", () => {
  it("grant: {header, ID, TTL} as strings; TTL below the minimum raised; lower-case fields ignored", async () => {
    const rev = await revision(api.app);
    expect(await json(await post(api.app, "/v3/lease/grant", { TTL: 60, ID: 6001 }))).toEqual({
      header: header(rev),
      ID: "6001",
      TTL: "60",
    });
    expect(await json(await post(api.app, "/v3/lease/grant", { TTL: "-5", ID: "6002" }))).toEqual({
      header: header(rev),
      ID: "6002",
      TTL: "1",
    });
    const picked = await json(await post(api.app, "/v3/lease/grant", { ttl: 30, id: 6003 }));
    expect(picked.TTL).toBe("1");
    expect(picked.ID).not.toBe("6003");
  });

  it("grant errors in grpc-gateway's shape: lease exists 412 code 9, too large 400 code 11", async () => {
    await post(api.app, "/v3/lease/grant", { TTL: 60, ID: 6101 });
    const exists = await post(api.app, "/v3/lease/grant", { TTL: 60, ID: 6101 });
    expect(exists.status).toBe(412);
    expect(await json(exists)).toEqual({
      error: "etcdserver: lease already exists",
      code: 9,
      message: "etcdserver: lease already exists",
    });
    const large = await post(api.app, "/v3/lease/grant", { TTL: 9_000_000_001 });
    expect(large.status).toBe(400);
    expect(await json(large)).toEqual({
      error: "etcdserver: too large lease TTL",
      code: 11,
      message: "etcdserver: too large lease TTL",
    });
  });

  it("timetolive with keys; an unknown lease is 200 with TTL -1 (and no ID for ID 0)", async () => {
    await post(api.app, "/v3/lease/grant", { TTL: 100, ID: 6201 });
    await post(api.app, "/v3/kv/put", { key: b64("gwl/a"), value: b64("1"), lease: "6201" });
    const rev = await revision(api.app);
    const body = await json(await post(api.app, "/v3/lease/timetolive", { ID: "6201", keys: true }));
    expect(body).toEqual({
      header: header(rev),
      ID: "6201",
      TTL: expect.stringMatching(/^(99|100)$/),
      grantedTTL: "100",
      keys: [b64("gwl/a")],
    });
    const alias = await json(await post(api.app, "/v3/kv/lease/timetolive", { ID: 6201 }));
    expect(Object.keys(alias)).toEqual(["header", "ID", "TTL", "grantedTTL"]);
    const missing = await post(api.app, "/v3/lease/timetolive", { ID: 4321 });
    expect(missing.status).toBe(200);
    expect(await json(missing)).toEqual({ header: header(rev), ID: "4321", TTL: "-1" });
    expect(await json(await post(api.app, "/v3/lease/timetolive", {}))).toEqual({
      header: header(rev),
      TTL: "-1",
    });
  });

  it("revoke: {header} at the revision after the deletes; unknown → 404 code 5 (both paths)", async () => {
    await post(api.app, "/v3/lease/grant", { TTL: 100, ID: 6301 });
    await post(api.app, "/v3/kv/put", { key: b64("gwr/a"), value: b64("1"), lease: 6301 });
    const rev = await revision(api.app);
    expect(await json(await post(api.app, "/v3/lease/revoke", { ID: 6301 }))).toEqual({
      header: header(rev + 1),
    });
    for (const path of ["/v3/lease/revoke", "/v3/kv/lease/revoke"]) {
      const res = await post(api.app, path, { ID: 6301 });
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({
        error: "etcdserver: requested lease not found",
        code: 5,
        message: "etcdserver: requested lease not found",
      });
    }
    expect((await post(api.app, "/v3/lease/revoke", {})).status).toBe(404);
  });

  it("a put to an unknown lease is 404 code 5", async () => {
    const res = await post(api.app, "/v3/kv/put", { key: b64("x"), value: b64("1"), lease: "777777" });
    expect(res.status).toBe(404);
    expect((await json(res)).code).toBe(5);
  });

  it("leases: {header, leases:[{ID}]} ascending (both paths)", async () => {
    await post(api.app, "/v3/lease/grant", { TTL: 100, ID: 6401 });
    const rev = await revision(api.app);
    for (const path of ["/v3/lease/leases", "/v3/kv/lease/leases"]) {
      const body = await json(await post(api.app, path, {}));
      expect(body.header).toEqual(header(rev));
      expect(body.leases).toContainEqual({ ID: "6401" });
      const ids = body.leases.map((l: { ID: string }) => Number(l.ID));
      expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    }
  });

  it("keepalive streams one {result} line per request; unknown lease and ID 0 have TTL omitted", async () => {
    await post(api.app, "/v3/lease/grant", { TTL: 50, ID: 6501 });
    const rev = await revision(api.app);
    const req = requestStream();
    const res = await api.app.request("/v3/lease/keepalive", {
      method: "POST",
      body: req.body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(200);
    const out = new BodyReader(res);
    req.write('{"ID":6501}\n');
    expect(await out.line()).toEqual({ result: { header: header(rev), ID: "6501", TTL: "50" } });
    req.write('{"ID":"6501"}{"ID":4321}');
    expect(await out.line()).toEqual({ result: { header: header(rev), ID: "6501", TTL: "50" } });
    expect(await out.line()).toEqual({ result: { header: header(rev), ID: "4321" } });
    req.write("{}");
    expect(await out.line()).toEqual({ result: { header: header(rev) } });
    req.end();
    expect(await out.endsWithin()).toBe(true);
  });

  it("keepalive: a malformed request ends the stream with grpc-gateway's error line", async () => {
    const res = await api.app.request("/v3/lease/keepalive", {
      method: "POST",
      body: '{"ID":6501}{"ID":[1]}',
    });
    const out = new BodyReader(res);
    expect((await out.line()).result).toBeDefined();
    const err = await out.line();
    expect(err.error).toMatchObject({ grpc_code: 3, http_code: 400, http_status: "Bad Request" });
    expect(await out.endsWithin()).toBe(true);
  });
});
