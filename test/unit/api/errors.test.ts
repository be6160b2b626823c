/**
 * The single error mapper (src/api/errors.ts) on errors no healthy node produces on demand:
 * a tiny Hono app whose routes throw, with the mapper as onError, exactly as createApp installs it.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type ApiLogger, errorResponse } from "../../../src/api/errors.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { json } from "./helpers.ts";

function appThrowing(err: unknown, logged: unknown[] = []) {
  const logger: ApiLogger = { error: (obj) => logged.push(obj), warn: (obj) => logged.push(obj) };
  const app = new Hono();
  app.all("*", () => {
    throw err;
  });
  app.onError((e, c) => errorResponse(e, c, logger));
  return app;
}

describe("errorResponse", () => {
  it("maps an unknown error to 500 internal, logs it, and leaks no detail", async () => {
    const logged: unknown[] = [];
    const res = await appThrowing(new TypeError("secret internals"), logged).request("/v1/kv/a");
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body).toEqual({ error: { code: "internal", message: "internal error" } });
    expect(logged).toHaveLength(1);
  });

  it("maps a zod error to 400 invalid_argument naming the field path", async () => {
    const schema = z.object({ success: z.array(z.object({ put: z.object({ key: z.string() }) })) });
    const err = schema.safeParse({ success: [{ put: { key: 1 } }] }).error;
    const res = await appThrowing(err).request("/v1/txn");
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe("invalid_argument");
    expect(body.error.message).toMatch(/^success\[0\]\.put\.key: /);
  });

  it("puts details in snake_case inside error", async () => {
    const res = await appThrowing(new CairnError("compacted", "compacted", { compactRevision: 7 })).request(
      "/v1/kv/a",
    );
    expect(res.status).toBe(410);
    expect(await json(res)).toEqual({
      error: { code: "compacted", message: "compacted", compact_revision: 7 },
    });
  });

  it("answers retryable codes with Retry-After: 1 (503, or 429 for too_many_requests)", async () => {
    for (const [code, status] of [
      ["no_leader", 503],
      ["leader_changed", 503],
      ["timeout", 503],
      ["stopped", 503],
      ["too_many_requests", 429],
    ] as const) {
      const res = await appThrowing(new CairnError(code, code)).request("/v1/kv/a");
      expect(res.status, code).toBe(status);
      expect(res.headers.get("retry-after"), code).toBe("1");
    }
    const notRetryable = await appThrowing(new CairnError("precondition_failed", "x")).request("/v1/kv/a");
    expect(notRetryable.status).toBe(412);
    expect(notRetryable.headers.get("retry-after")).toBeNull();
  });

  it("uses grpc-gateway's shape, gRPC code and status on /v3", async () => {
    const cases: Array<[CairnError, number, number, string]> = [
      [new CairnError("no_leader", "x"), 503, 14, "etcdserver: no leader"],
      [new CairnError("timeout", "x"), 503, 14, "etcdserver: request timed out"],
      [new CairnError("too_many_requests", "x"), 429, 8, "etcdserver: too many requests"],
      [new CairnError("payload_too_large", "x"), 400, 3, "etcdserver: request is too large"],
      [new CairnError("invalid_argument", "bad thing"), 400, 3, "bad thing"],
      [new CairnError("internal", "x"), 500, 13, "x"],
    ];
    for (const [err, status, code, message] of cases) {
      const res = await appThrowing(err).request("/v3/kv/put", { method: "POST" });
      expect(res.status, err.code).toBe(status);
      expect(await json(res)).toEqual({ error: message, code, message });
    }
  });
});
