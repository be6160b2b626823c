/**
 * Cairn's client HTTP API as a Hono app: native /v1 (keys in the path, JSON; membership and
 * move-leader under /v1/cluster, forwarded to the leader by forward.ts; watches as SSE on
 * /v1/watch; leases under /v1/leases and POST /v1/compaction), etcd's JSON gateway /v3/kv/*,
 * /v3/watch (streamed), /v3/lease/*, /v3/cluster/member/* and
 * /v3/maintenance/transfer-leadership, locks and elections (/v1/locks, /v1/elections,
 * /v3/lock/*, /v3/election/*: routes/coordination.ts), and /health, /version.
 * A thin factory: routes live in routes/*.ts, request
 * bodies are read under `maxRequestBytes` (body.ts), and one onError (errors.ts) maps every
 * thrown error to the contract's status and JSON. Served by @hono/node-server over HTTP/1.1
 * and HTTP/2; nothing here depends on connection headers.
 */
import { Hono } from "hono";
import { CairnError } from "../util/errors.ts";
import type { ApiDeps } from "./deps.ts";
import { errorResponse } from "./errors.ts";
import { registerCoordination } from "./routes/coordination.ts";
import { registerV1Cluster } from "./routes/v1-cluster.ts";
import { registerV1Kv } from "./routes/v1-kv.ts";
import { registerV1Leases } from "./routes/v1-leases.ts";
import { registerV1Members } from "./routes/v1-members.ts";
import { registerV1Txn } from "./routes/v1-txn.ts";
import { registerV1Watch } from "./routes/v1-watch.ts";
import { registerV3Cluster } from "./routes/v3-cluster.ts";
import { registerV3Kv } from "./routes/v3-kv.ts";
import { registerV3Lease } from "./routes/v3-lease.ts";
import { registerV3Watch } from "./routes/v3-watch.ts";

export type { ApiDeps } from "./deps.ts";
export type { ApiLogger } from "./errors.ts";

/**
 * Builds the API app over one node's KvService.
 * @param deps see {@link ApiDeps}
 * @returns a Hono app; call `app.fetch` (or `app.request` in tests)
 */
export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  registerV1Kv(app, deps);
  registerV1Txn(app, deps);
  registerV1Watch(app, deps);
  registerV1Cluster(app, deps);
  registerV1Members(app, deps);
  registerV1Leases(app, deps);
  registerV3Kv(app, deps);
  registerV3Watch(app, deps);
  registerV3Lease(app, deps);
  registerV3Cluster(app, deps);
  registerCoordination(app, deps);
  app.notFound((c) =>
    errorResponse(new CairnError("not_found", `no route for ${c.req.method} ${c.req.path}`), c, deps.logger),
  );
  app.onError((err, c) => errorResponse(err, c, deps.logger));
  return app;
}
