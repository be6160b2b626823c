/**
 * etcd's JSON gateway Lock service (etcd 3.4 v3lock, grpc-gateway paths; JSON of codec/v3-lock.ts):
 *
 *   POST /v3/lock/lock    {"name":"bXlsb2Nr","lease":"4111…"}  → {"header":{…},"key":"bXlsb2NrLzM5MGRh…"}
 *        Held open until the lock is acquired: at most the `Grpc-Timeout` header's time (as etcd's
 *        gateway honours it), else DEFAULT_LOCK_WAIT_MS, never more than MAX_LOCK_WAIT_MS; then
 *        504 {"error":"context deadline exceeded","message":…,"code":4} and the waiter's key is
 *        deleted. lease 0 or absent: a new lease of 60 s is granted and not kept alive (what
 *        etcd's v3lock does through concurrency.NewSession).
 *   POST /v3/lock/unlock  {"key":"bXlsb2NrLzM5MGRh…"}          → {"header":{…}}
 *
 * Errors raised while locking or unlocking have etcd's shape for them: the v3lock server returns
 * its client's errors as plain errors, so gRPC Unknown (code 2) and HTTP 500, e.g.
 * {"error":"etcdserver: requested lease not found","message":…,"code":2}. Kept as Cairn maps
 * them elsewhere: retryable errors (503, code 14), too_many_requests (429) and the deadline (504).
 */
import type { Context, Hono } from "hono";
import type { LockService } from "../../server/locks.ts";
import { CairnError } from "../../util/errors.ts";
import { readJsonBody } from "../body.ts";
import { encodeHeaderOnly, encodeLock } from "../codec/v3-lock.ts";
import type { ApiDeps } from "../deps.ts";
import { gatewayMessage } from "../errors.ts";
import { grpcTimeoutMs, lockSchema, unlockSchema } from "./v3-lock.schema.ts";

/** An empty body is the empty protobuf message on etcd's gateway. */
const EMPTY_MESSAGE = Object.freeze({});

/** TTL (s) of the lease etcd's v3lock/v3election grant when a request names none (concurrency's default session TTL). */
export const ETCD_SESSION_TTL_SECONDS = 60;

/** Codes answered as Cairn answers them everywhere (not as etcd's Unknown). */
const OWN_MAPPING: ReadonlySet<string> = new Set(["deadline_exceeded", "too_many_requests"]);

/**
 * The response etcd's v3lock / v3election servers give for an error of their inner client: gRPC
 * Unknown (2), HTTP 500, etcd's message. Undefined for errors answered the usual way (retryable,
 * deadline, limits, and anything that is not a CairnError).
 */
export function etcdUnknownError(c: Context, err: unknown): Response | undefined {
  if (!(err instanceof CairnError) || err.retryable || OWN_MAPPING.has(err.code)) return undefined;
  const message = gatewayMessage(err);
  return c.json({ error: message, message, code: 2 }, 500);
}

/** The lease of a request: its own, or a fresh 60 s lease when it names none (etcd's v3lock). */
export async function sessionLease(deps: ApiDeps, lease: number | undefined): Promise<number> {
  if (lease) return lease;
  return (await deps.kv.leaseGrant({ ttl: ETCD_SESSION_TTL_SECONDS })).id;
}

async function lock(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const timeoutMs = grpcTimeoutMs(c.req.header("grpc-timeout"));
  const w = lockSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  try {
    const lease = await sessionLease(deps, w.lease);
    const held = await locks.lock(w.name ?? new Uint8Array(0), lease, {
      timeoutMs,
      signal: c.req.raw.signal,
    });
    return c.json(encodeLock(deps.kv.header(), held.revision, held.key));
  } catch (err) {
    const res = etcdUnknownError(c, err);
    if (res) return res;
    throw err;
  }
}

async function unlock(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const w = unlockSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE));
  try {
    const r = await locks.unlock(w.key ?? new Uint8Array(0));
    return c.json(encodeHeaderOnly(deps.kv.header(), r.revision));
  } catch (err) {
    const res = etcdUnknownError(c, err);
    if (res) return res;
    throw err;
  }
}

/** Registers POST /v3/lock/lock and /v3/lock/unlock on `app`. */
export function registerV3Lock(app: Hono, deps: ApiDeps, locks: LockService): void {
  app.post("/v3/lock/lock", (c) => lock(c, deps, locks));
  app.post("/v3/lock/unlock", (c) => unlock(c, deps, locks));
}
