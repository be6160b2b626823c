/**
 * Distributed locks on the native /v1 API (etcd v3lock semantics, server/locks.ts). The lock name
 * is UTF-8 text in the path after /v1/locks/, percent-decoded like /v1/kv keys (it may contain
 * "/"); the lock key is `<name>/<lease id in hex>`.
 *
 *   POST   /v1/locks/{name}[?timeout_ms=T]   {"lease":N}
 *          → 200 {"name":"jobs","key":"jobs/694d5765fc715","revision":12,"fencing_token":11,"lease":N}
 *          Held open while another holder has the lock (at most T ms, default 60 000, at most
 *          300 000). fencing_token is the create_revision of the lock key, revision the header
 *          revision (etcdctl's ETCD_LOCK_REV); both are strictly greater for every later holder.
 *          The same lease asking again gets the same key back (etcd's rule).
 *   DELETE /v1/locks/{name}?key=K            → 200 {"revision":R,"released":true|false}
 *          Deletes the lock key K (it must be under `<name>/`); released:false when it was
 *          already gone (its lease expired: the lock had been lost).
 *
 * Errors: 400 invalid_argument; 404 lease_not_found (no such lease); 408 deadline_exceeded (not
 * acquired within timeout_ms: the waiter's key was deleted, nothing is held); 410 session_expired
 * (the lease expired while waiting); 429 too_many_requests (MAX_LOCK_WAITERS waiters on this
 * member); 503 retryable. A client that disconnects while waiting gives up its place: its key is
 * deleted and its watch closed. Any member serves locks (writes go through Raft, reads are
 * linearizable, the wait is a watch on the member's applied state).
 */
import type { Context, Hono } from "hono";
import type { LockService } from "../../server/locks.ts";
import { invalidArgument } from "../../util/errors.ts";
import { readJsonBody } from "../body.ts";
import { tryDecodeUtf8, utf8 } from "../bytes.ts";
import type { ApiDeps } from "../deps.ts";
import { checkKey, keyFromUrl } from "../keys.ts";
import { lockBodySchema, waitTimeoutMs } from "./v1-locks.schema.ts";

const MOUNT = "/v1/locks";
const NO_QUERY: Record<string, string> = {};

/** The query as a record, rejecting parameters the route does not know. */
export function queryOf(c: Context, allowed: readonly string[]): Record<string, string> {
  if (c.req.url.indexOf("?") < 0) return NO_QUERY;
  const q = c.req.query();
  for (const name of Object.keys(q)) {
    if (!allowed.includes(name)) {
      throw invalidArgument(
        `unknown query parameter ${name}${allowed.length ? ` (allowed: ${allowed.join(", ")})` : ""}`,
      );
    }
  }
  return q;
}

/** Text of bytes the API produced from UTF-8 (names, keys made of a name and hex digits). */
export function text(bytes: Uint8Array): string {
  return tryDecodeUtf8(bytes) ?? Buffer.from(bytes).toString("latin1");
}

/** The lock name of the path. @throws CairnError "invalid_argument" when empty */
function pathName(c: Context): Uint8Array {
  const name = utf8(keyFromUrl(c.req.url, MOUNT));
  if (name.length === 0) throw invalidArgument("lock name is required: /v1/locks/{name}");
  checkKey(name, "lock name");
  return name;
}

async function lock(c: Context, deps: ApiDeps, locks: LockService): Promise<Response> {
  const q = queryOf(c, ["timeout_ms"]);
  const timeoutMs = waitTimeoutMs(q.timeout_ms);
  const name = pathName(c);
  const body = lockBodySchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const held = await locks.lock(name, body.lease, { timeoutMs, signal: c.req.raw.signal });
  return c.json({
    name: text(name),
    key: text(held.key),
    revision: held.revision,
    fencing_token: held.fencingToken,
    lease: held.lease,
  });
}

async function unlock(c: Context, locks: LockService): Promise<Response> {
  const q = queryOf(c, ["key"]);
  const name = pathName(c);
  if (q.key === undefined || q.key === "") throw invalidArgument("query parameter key is required");
  const key = utf8(q.key);
  const prefix = `${text(name)}/`;
  if (!q.key.startsWith(prefix) || q.key.length === prefix.length) {
    throw invalidArgument(`key must be a key of lock ${text(name)} (starting with "${prefix}")`);
  }
  checkKey(key);
  const r = await locks.unlock(key);
  return c.json({ revision: r.revision, released: r.deleted });
}

/** Registers POST and DELETE /v1/locks/{name} on `app`. */
export function registerV1Locks(app: Hono, deps: ApiDeps, locks: LockService): void {
  app.post(`${MOUNT}/*`, (c) => lock(c, deps, locks));
  app.delete(`${MOUNT}/*`, (c) => unlock(c, locks));
}
