/**
 * Shared setup of the API tests: the app over a real single-member node (Raft + MVCC, memory
 * storage), driven through app.request() without a server.
 */
import type { Hono } from "hono";
import { afterAll, beforeAll } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import type { KvService } from "../../../src/server/service.ts";
import { startSingleNode } from "../../helpers/single-node.ts";

/** Request limit of the test app (small, so 413 is cheap to reach). */
export const TEST_MAX_REQUEST_BYTES = 64 * 1024;

export interface ApiFixture {
  app: Hono;
  kv: KvService;
}

/** Starts one node and app for the calling test file (stopped after all its tests). */
export function useApi(): ApiFixture {
  const fixture = {} as ApiFixture;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const node = await startSingleNode();
    stop = node.stop;
    fixture.kv = node.kv;
    fixture.app = createApp({
      kv: node.kv,
      cluster: node.node,
      maxRequestBytes: TEST_MAX_REQUEST_BYTES,
      version: "9.9.9-test",
    });
  });
  afterAll(async () => {
    await stop?.();
  });
  return fixture;
}

/** Parsed JSON of a response; loosely typed so assertions can walk it. */
// biome-ignore lint/suspicious/noExplicitAny: tests navigate arbitrary response JSON
export type Json = any;

/** JSON body of a response, asserting it is JSON. */
export async function json(res: Response): Promise<Json> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json"))
    throw new Error(`expected JSON, got ${type}: ${await res.text()}`);
  return res.json();
}

/** PUT /v1/kv/{path} with a body and optional headers. */
export function put(
  app: Hono,
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
) {
  return app.request(`/v1/kv/${path}`, { method: "PUT", body: body as RequestInit["body"], headers });
}

/** POST a JSON value (or raw text) to `path`. */
export function post(app: Hono, path: string, body: unknown) {
  return app.request(path, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

/** The store's current revision, read through the API. */
export async function revision(app: Hono): Promise<number> {
  const res = await app.request("/v1/kv/?prefix=true&count_only=true");
  if (res.status !== 200) throw new Error(`revision read failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { revision: number }).revision;
}

/** base64 of UTF-8 text (etcd gateway bytes). */
export const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
/** UTF-8 text of base64. */
export const unb64 = (text: string): string => Buffer.from(text, "base64").toString("utf8");
