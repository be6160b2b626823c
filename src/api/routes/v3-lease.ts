/**
 * etcd's JSON gateway Lease routes (etcd 3.4 grpc-gateway paths, request and response JSON of
 * codec/v3-lease.ts):
 *
 *   POST /v3/lease/grant                               {"TTL":60,"ID":0}
 *   POST /v3/lease/revoke, /v3/kv/lease/revoke         {"ID":"1234"}
 *   POST /v3/lease/keepalive                           stream of {"ID":"1234"} objects → one
 *        {"result":{…}} line each (etcd's gateway streams the bidirectional LeaseKeepAlive so);
 *        an unknown or expired lease is answered with TTL 0 (omitted) and the stream goes on, as
 *        etcd does; another failure ends the stream with grpc-gateway's {"error":{…}} line
 *   POST /v3/lease/timetolive, /v3/kv/lease/timetolive {"ID":"1234","keys":true}
 *        (an unknown lease: HTTP 200 with TTL -1, as etcd's v3rpc answers it)
 *   POST /v3/lease/leases, /v3/kv/lease/leases         {}
 *
 * Time-to-live needs the leader: another member forwards the request (forward.ts); each
 * keep-alive of a stream is forwarded on its own (lease-keepalive.ts). Errors of the one-shot
 * routes have the gateway's shape (errors.ts), e.g. 404 {"error":"etcdserver: requested lease
 * not found","code":5,…} for revoking an unknown lease.
 */
import type { Context, Hono } from "hono";
import { stream as streamBody } from "hono/streaming";
import { CairnError } from "../../util/errors.ts";
import { readJsonBody } from "../body.ts";
import {
  encodeLeaseGrant,
  encodeLeaseKeepAlive,
  encodeLeaseLeases,
  encodeLeaseRevoke,
  encodeLeaseTimeToLive,
} from "../codec/v3-lease.ts";
import type { ApiDeps } from "../deps.ts";
import { gatewayStreamError } from "../errors.ts";
import { forwardToLeader } from "../forward.ts";
import { jsonObjects } from "../json-stream.ts";
import { keepAliveOnce } from "../lease-keepalive.ts";
import {
  leaseGrantSchema,
  leaseIdSchema,
  leaseLeasesSchema,
  leaseTimeToLiveSchema,
} from "./v3-lease.schema.ts";

/** An empty body is the empty protobuf message on etcd's gateway. */
const EMPTY_MESSAGE = Object.freeze({});

async function grant(c: Context, deps: ApiDeps): Promise<Response> {
  const w = leaseGrantSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  const r = await deps.kv.leaseGrant({ ttl: w.TTL ?? 0, ...(w.ID ? { id: w.ID } : {}) });
  return c.json(encodeLeaseGrant(deps.kv.header(), r.header.revision, r.id, r.ttl));
}

async function revoke(c: Context, deps: ApiDeps): Promise<Response> {
  const w = leaseIdSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  const r = await deps.kv.leaseRevoke(w.ID ?? 0);
  return c.json(encodeLeaseRevoke(deps.kv.header(), r.header.revision));
}

async function timeToLive(c: Context, deps: ApiDeps): Promise<Response> {
  if (!deps.cluster.isLeader()) return forwardToLeader(c, deps);
  const w = leaseTimeToLiveSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  const id = w.ID ?? 0;
  try {
    const r = await deps.kv.leaseTimeToLive(id, w.keys === true);
    return c.json(encodeLeaseTimeToLive(deps.kv.header(), r.header.revision, id, r));
  } catch (err) {
    if (!(err instanceof CairnError && err.code === "lease_not_found")) throw err;
    return c.json(encodeLeaseTimeToLive(deps.kv.header(), deps.kv.localRevision(), id, undefined));
  }
}

async function leases(c: Context, deps: ApiDeps): Promise<Response> {
  leaseLeasesSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  const r = await deps.kv.leaseLeases();
  return c.json(
    encodeLeaseLeases(
      deps.kv.header(),
      r.header.revision,
      r.leases.map((l) => l.id),
    ),
  );
}

/** The streaming keep-alive: one {"result":LeaseKeepAliveResponse} line per request object. */
function keepAlive(c: Context, deps: ApiDeps): Response {
  const gone = new AbortController();
  const requests = jsonObjects(c.req.raw.body, deps.maxRequestBytes, gone.signal);
  c.header("content-type", "application/json");
  return streamBody(c, async (out) => {
    out.onAbort(() => gone.abort());
    const send = (id: number, ttl: number) =>
      out.write(
        `${JSON.stringify({ result: encodeLeaseKeepAlive(deps.kv.header(), deps.kv.localRevision(), id, ttl) })}\n`,
      );
    try {
      for await (const raw of requests) {
        const id = leaseIdSchema.parse(raw).ID ?? 0;
        let ttl = 0;
        try {
          if (id !== 0) ttl = (await keepAliveOnce(deps, id)).ttl;
        } catch (err) {
          // etcd v3rpc LeaseKeepAlive: an unknown lease is TTL 0, not an error.
          if (!(err instanceof CairnError && err.code === "lease_not_found")) throw err;
        }
        if (out.aborted) break;
        await send(id, ttl);
      }
    } catch (err) {
      if (!out.aborted) await out.write(`${JSON.stringify(gatewayStreamError(err, c, deps.logger))}\n`);
    } finally {
      gone.abort();
    }
  });
}

/** Registers the /v3/lease/* routes (and etcd 3.4's /v3/kv/lease/* aliases) on `app`. */
export function registerV3Lease(app: Hono, deps: ApiDeps): void {
  app.post("/v3/lease/grant", (c) => grant(c, deps));
  for (const prefix of ["/v3/lease", "/v3/kv/lease"]) {
    app.post(`${prefix}/revoke`, (c) => revoke(c, deps));
    app.post(`${prefix}/timetolive`, (c) => timeToLive(c, deps));
    app.post(`${prefix}/leases`, (c) => leases(c, deps));
  }
  app.post("/v3/lease/keepalive", (c) => keepAlive(c, deps));
}
