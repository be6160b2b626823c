/**
 * etcd's JSON gateway Election service (etcd 3.4 v3election, grpc-gateway paths; JSON of
 * codec/v3-lock.ts):
 *
 *   POST /v3/election/campaign  {"name","lease","value"}  → {"header","leader":{"name","key","rev","lease"}}
 *        Held open until the candidate leads (deadline: `Grpc-Timeout`, as for /v3/lock/lock).
 *        header.revision is the revision of the campaign's txn (etcd's). lease 0: a new 60 s lease.
 *   POST /v3/election/proclaim  {"leader":LeaderKey,"value"} → {"header"}
 *   POST /v3/election/leader    {"name"}                     → {"header","kv":KeyValue}
 *   POST /v3/election/observe   {"name"}                     → a stream of {"result":{"header","kv"}}
 *        lines: the leader now (nothing while there is none), each proclaim, each next leader.
 *   POST /v3/election/resign    {"leader":LeaderKey}         → {"header"}
 *
 * Errors as etcd gives them (gRPC Unknown, HTTP 500, see routes/v3-lock.ts): "election: no
 * leader", "election: not leader", "\"leader\" field must be provided", "etcdserver: requested
 * lease not found". A failure inside the observe stream ends it with grpc-gateway's error line.
 */
import type { Context, Hono } from "hono";
import { stream as streamBody } from "hono/streaming";
import type { LeaderKey, LockService } from "../../server/locks.ts";
import { invalidArgument } from "../../util/errors.ts";
import { readJsonBody } from "../body.ts";
import { encodeCampaign, encodeHeaderOnly, encodeLeader } from "../codec/v3-lock.ts";
import type { ApiDeps } from "../deps.ts";
import { gatewayStreamError } from "../errors.ts";
import {
  campaignSchema,
  grpcTimeoutMs,
  type LeaderKeyWire,
  leaderRequestSchema,
  proclaimSchema,
  resignSchema,
} from "./v3-lock.schema.ts";
import { etcdUnknownError, sessionLease } from "./v3-lock.ts";

const EMPTY_MESSAGE = Object.freeze({});
const NO_BYTES = new Uint8Array(0);

/** The LeaderKey of a request. @throws CairnError (etcd ErrMissingLeaderKey) when absent */
function leaderKeyOf(w: LeaderKeyWire | undefined): LeaderKey {
  if (w === undefined) throw invalidArgument('"leader" field must be provided');
  return { name: w.name ?? NO_BYTES, key: w.key ?? NO_BYTES, rev: w.rev ?? 0, lease: w.lease ?? 0 };
}

/** Runs `f`, answering the errors of the election as etcd does (routes/v3-lock.ts). */
async function etcdErrors(c: Context, f: () => Promise<Response>): Promise<Response> {
  try {
    return await f();
  } catch (err) {
    const res = etcdUnknownError(c, err);
    if (res) return res;
    throw err;
  }
}

async function campaign(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const timeoutMs = grpcTimeoutMs(c.req.header("grpc-timeout"));
  const w = campaignSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  return etcdErrors(c, async () => {
    const lease = await sessionLease(deps, w.lease);
    const won = await locks.campaign(w.name ?? NO_BYTES, lease, w.value ?? NO_BYTES, {
      timeoutMs,
      signal: c.req.raw.signal,
    });
    return c.json(encodeCampaign(deps.kv.header(), won.revision, won.leader));
  });
}

async function proclaim(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const w = proclaimSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  return etcdErrors(c, async () => {
    const r = await locks.proclaim(leaderKeyOf(w.leader), w.value ?? NO_BYTES);
    return c.json(encodeHeaderOnly(deps.kv.header(), r.revision));
  });
}

async function resign(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const w = resignSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  return etcdErrors(c, async () => {
    const r = await locks.resign(leaderKeyOf(w.leader));
    return c.json(encodeHeaderOnly(deps.kv.header(), r.revision));
  });
}

async function leader(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const w = leaderRequestSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  return etcdErrors(c, async () => {
    const r = await locks.leader(w.name ?? NO_BYTES);
    return c.json(encodeLeader(deps.kv.header(), r.revision, r.kv));
  });
}

async function observe(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const w = leaderRequestSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  const gone = new AbortController();
  const observations = locks.observe(w.name ?? NO_BYTES, gone.signal);
  c.header("content-type", "application/json");
  return streamBody(c, async (out) => {
    out.onAbort(() => gone.abort());
    try {
      for await (const o of observations) {
        if (out.aborted) break;
        if (o.kv === undefined) continue; // etcd's observe is silent while there is no leader
        await out.write(`${JSON.stringify({ result: encodeLeader(deps.kv.header(), o.revision, o.kv) })}\n`);
      }
    } catch (err) {
      if (!out.aborted) await out.write(`${JSON.stringify(gatewayStreamError(err, c, deps.logger))}\n`);
    } finally {
      gone.abort();
    }
  });
}

/** Registers the five POST /v3/election/* routes on `app`. */
export function registerV3Election(app: Hono, deps: ApiDeps, locks: LockService): void {
  app.post("/v3/election/campaign", (c) => campaign(c, deps, locks));
  app.post("/v3/election/proclaim", (c) => proclaim(c, deps, locks));
  app.post("/v3/election/leader", (c) => leader(c, deps, locks));
  app.post("/v3/election/observe", (c) => observe(c, deps, locks));
  app.post("/v3/election/resign", (c) => resign(c, deps, locks));
}
