/**
 * Helpers of the watch API tests: the body reader (test/helpers/body-reader.ts), an app over a
 * bare KvStore + WatchHub (no Raft: the tests drive the hub's clock and buffer bound), and an app
 * over a real single node with short heartbeats.
 */
import type { Hono } from "hono";
import { afterAll, beforeAll } from "vitest";
import { createApp } from "../../../src/api/app.ts";
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command } from "../../../src/mvcc/types.ts";
import { WatchHub, type WatchHubOptions } from "../../../src/mvcc/watch-hub.ts";
import type { ClusterService, KvService } from "../../../src/server/service.ts";
import { startSingleNode } from "../../helpers/single-node.ts";
import { TEST_MAX_REQUEST_BYTES } from "./helpers.ts";

export { BodyReader, dataOf, type SseFrame } from "../../helpers/body-reader.ts";

/** An app whose KvService watches a bare KvStore through a WatchHub the test controls. */
export function hubApp(opts: Partial<WatchHubOptions> = {}, heartbeatMs = 60_000) {
  const store = new KvStore();
  const hub = new WatchHub(store, opts);
  const kv = {
    watch: (req) => hub.watch(req),
    header: () => ({ clusterId: "cdf818194e3a8c32", memberId: "8e9e05c52164694d", raftTerm: 2 }),
  } as Partial<KvService> as KvService;
  const app = createApp({
    kv,
    cluster: {} as ClusterService,
    maxRequestBytes: TEST_MAX_REQUEST_BYTES,
    version: "test",
    watchHeartbeatMs: heartbeatMs,
  });
  const apply = (cmd: Command) => {
    const { events } = store.applyWithEvents(cmd);
    if (events.length > 0) hub.publish(store.revision, events);
  };
  const enc = new TextEncoder();
  const put = (key: string, value: string) =>
    apply({ op: "put", req: { key: enc.encode(key), value: enc.encode(value) } });
  return { app, store, hub, apply, put };
}

/** A real single node and an app over it with `heartbeatMs` heartbeats, for the calling test file. */
export function useNodeApp(heartbeatMs = 60_000): { app: Hono; kv: KvService } {
  const fixture = {} as { app: Hono; kv: KvService };
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const node = await startSingleNode();
    stop = node.stop;
    fixture.kv = node.kv;
    fixture.app = createApp({
      kv: node.kv,
      cluster: node.node,
      maxRequestBytes: TEST_MAX_REQUEST_BYTES,
      version: "test",
      watchHeartbeatMs: heartbeatMs,
    });
  });
  afterAll(async () => {
    await stop?.();
  });
  return fixture;
}
