/**
 * Shared setup of the API tests: the app over a real single-member node (Raft + MVCC, memory
 * storage), driven through app.request() without a server.
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
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

/** A leader for forwarding tests: a real single node and its app, served on a loopback port. */
export interface LeaderFixture {
  node: Awaited<ReturnType<typeof startSingleNode>>;
  app: Hono;
  /** http://127.0.0.1:<port> of the served app. */
  url: string;
}

/**
 * Registers hooks that start a {@link LeaderFixture} before the suite's tests and stop it after.
 * The returned object is filled in by the first hook.
 */
export function leaderFixture(): LeaderFixture {
  const fixture = {} as LeaderFixture;
  let server: ServerType;
  beforeAll(async () => {
    fixture.node = await startSingleNode();
    fixture.app = createApp({
      kv: fixture.node.kv,
      cluster: fixture.node.node,
      maxRequestBytes: TEST_MAX_REQUEST_BYTES,
      version: "test",
    });
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: fixture.app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
    fixture.url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fixture.node.stop();
  });
  return fixture;
}
