/**
 * Bad input on /v1 is answered 400/413 with a message that says what is wrong, and NOTHING is
 * written (the store revision is unchanged afterwards).
 */
import { describe, expect, it } from "vitest";
import { MAX_KEY_BYTES } from "../../../src/util/limits.ts";
import { json, post, put, revision, TEST_MAX_REQUEST_BYTES, useApi } from "./helpers.ts";

const api = useApi();

/** Runs `send`, expects `status` and the error `code`, and checks the revision did not move. */
async function rejects(send: () => Response | Promise<Response>, status: number, code: string) {
  const before = await revision(api.app);
  const res = await send();
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  expect(await revision(api.app)).toBe(before);
  return body.error as { code: string; message: string; line?: number; column?: number };
}

describe("/v1/txn body errors", () => {
  it("400s malformed JSON with line and column", async () => {
    const err = await rejects(
      () => post(api.app, "/v1/txn", '{"success": [\n  {"put": {"key": "a" "value": "b"}}\n]}'),
      400,
      "invalid_argument",
    );
    expect(err.message).toContain("line 2, column 23");
    expect(err.line).toBe(2);
    expect(err.column).toBe(23);
  });

  it("400s wrong types naming the field path", async () => {
    const err = await rejects(
      () => post(api.app, "/v1/txn", { success: [{ put: { key: "a", value: 5 } }] }),
      400,
      "invalid_argument",
    );
    expect(err.message).toContain("success[0].put.value");
  });

  it("400s an unknown target, a missing operand, an unknown field and an empty op", async () => {
    const { app } = api;
    const target = await rejects(
      () => post(app, "/v1/txn", { compare: [{ key: "a", target: "modrev", result: "=" }] }),
      400,
      "invalid_argument",
    );
    expect(target.message).toContain("compare[0].target");
    const operand = await rejects(
      () => post(app, "/v1/txn", { compare: [{ key: "a", target: "mod_revision", result: "=" }] }),
      400,
      "invalid_argument",
    );
    expect(operand.message).toContain("compare[0].mod_revision is required");
    const unknown = await rejects(
      () => post(app, "/v1/txn", { success: [{ put: { key: "a", value: "b", prevkv: true } }] }),
      400,
      "invalid_argument",
    );
    expect(unknown.message).toContain("prevkv");
    const empty = await rejects(() => post(app, "/v1/txn", { success: [{}] }), 400, "invalid_argument");
    expect(empty.message).toContain("exactly one of put, get, delete");
  });

  it("400s an empty key in a txn, even when an earlier op is valid", async () => {
    const err = await rejects(
      () =>
        post(api.app, "/v1/txn", {
          success: [{ put: { key: "fine", value: "x" } }, { put: { key: "", value: "x" } }],
        }),
      400,
      "invalid_argument",
    );
    expect(err.message).toContain("success[1].put.key is required");
  });

  it("400s a txn put whose JSON value does not parse, with line and column", async () => {
    const err = await rejects(
      () =>
        post(api.app, "/v1/txn", {
          success: [{ put: { key: "cfg", value: '{"a": 1,}', content_type: "application/json" } }],
        }),
      400,
      "invalid_value",
    );
    expect(err.message).toContain("success[0].put.value");
    expect(err.message).toContain("line 1, column 9");
  });
});

describe("PUT /v1/kv bad input", () => {
  it("400s an empty key", async () => {
    const err = await rejects(() => put(api.app, "", "x"), 400, "invalid_argument");
    expect(err.message).toBe("key is required");
  });

  it("413s a key over MAX_KEY_BYTES", async () => {
    const key = "k".repeat(MAX_KEY_BYTES + 1);
    const err = await rejects(() => put(api.app, key, "x"), 413, "payload_too_large");
    expect(err.message).toContain(String(MAX_KEY_BYTES));
  });

  it("413s a value over maxRequestBytes, by Content-Length and by counted bytes", async () => {
    const big = new Uint8Array(TEST_MAX_REQUEST_BYTES + 1).fill(97);
    await rejects(() => put(api.app, "big", big), 413, "payload_too_large");
    // A streamed body has no Content-Length: the counted bytes decide.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(big.subarray(0, TEST_MAX_REQUEST_BYTES / 4));
        controller.close();
      },
    });
    await rejects(
      () => api.app.request("/v1/kv/big", { method: "PUT", body: stream, duplex: "half" } as RequestInit),
      413,
      "payload_too_large",
    );
    // A declared Content-Length over the limit is refused before reading.
    await rejects(
      () => put(api.app, "big", "small", { "content-length": String(TEST_MAX_REQUEST_BYTES + 1) }),
      413,
      "payload_too_large",
    );
    expect((await api.app.request("/v1/kv/big")).status).toBe(404);
    const declared = await put(api.app, "declared", "12345", { "content-length": "5" });
    expect(declared.status).toBe(200);
    expect(await (await api.app.request("/v1/kv/declared")).text()).toBe("12345");
    // Exactly at the limit is accepted.
    const atLimit = await put(api.app, "big", big.subarray(0, TEST_MAX_REQUEST_BYTES));
    expect(atLimit.status).toBe(200);
  });

  it("400s invalid JSON declared application/json, naming line and column", async () => {
    const err = await rejects(
      () =>
        put(api.app, "cfg/db", '{\n  "host": "db1",\n  "port": 5432\n  "user": "app"\n}', {
          "content-type": "application/json",
        }),
      400,
      "invalid_value",
    );
    expect(err.message).toContain("line 4, column 3");
    expect(err).toMatchObject({ line: 4, column: 3 });
  });

  it("checks +json media types and ignores parameters", async () => {
    await rejects(
      () => put(api.app, "cfg/x", "[1, 2", { "content-type": "application/vnd.app+json; charset=utf-8" }),
      400,
      "invalid_value",
    );
  });

  it("400s invalid YAML with line and column", async () => {
    const err = await rejects(
      () => put(api.app, "cfg/y", "a: 1\nb: [1, 2\nc: 3\n", { "content-type": "application/yaml" }),
      400,
      "invalid_value",
    );
    expect(err.message).toMatch(/not valid YAML: .* at line \d+, column \d+/);
    expect(err.line).toBe(3);
    expect(err.column).toBe(1);
  });

  it("400s invalid TOML with line and column", async () => {
    const err = await rejects(
      () => put(api.app, "cfg/t", 'title = "x"\nport = = 1\n', { "content-type": "application/toml" }),
      400,
      "invalid_value",
    );
    expect(err.message).toContain("not valid TOML");
    expect(err).toMatchObject({ line: 2, column: 8 });
  });

  it("stores valid YAML and TOML", async () => {
    expect((await put(api.app, "cfg/ok.yaml", "a: [1, 2]\n", { "content-type": "text/yaml" })).status).toBe(
      200,
    );
    expect(
      (await put(api.app, "cfg/ok.toml", "a = [1, 2]\n", { "content-type": "application/toml" })).status,
    ).toBe(200);
  });

  it("400s a bad lease, bad boolean and a malformed If-Match", async () => {
    await rejects(() => put(api.app, "q?lease=abc", "x"), 400, "invalid_argument");
    await rejects(() => put(api.app, "q?prev_kv=maybe", "x"), 400, "invalid_argument");
    await rejects(() => put(api.app, "q", "x", { "if-match": '"1", "2"' }), 400, "invalid_argument");
  });

  it("400s malformed percent-encoding in the key", async () => {
    await rejects(() => put(api.app, "bad%E9key", "x"), 400, "invalid_argument");
  });
});

describe("GET and DELETE bad input", () => {
  it("400s GET and DELETE of an empty key without prefix", async () => {
    const get = await api.app.request("/v1/kv/");
    expect(get.status).toBe(400);
    await rejects(() => api.app.request("/v1/kv/", { method: "DELETE" }), 400, "invalid_argument");
  });

  it("400s If-Match on a prefix delete", async () => {
    await put(api.app, "pd/a", "1");
    await rejects(
      () => api.app.request("/v1/kv/pd/?prefix=true", { method: "DELETE", headers: { "if-match": '"1"' } }),
      400,
      "invalid_argument",
    );
  });

  it("404s an unknown route with the error shape", async () => {
    const res = await api.app.request("/v1/nothing");
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe("not_found");
  });
});
