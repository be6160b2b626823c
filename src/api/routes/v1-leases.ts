/**
 * Leases and compaction on the native /v1 API (etcd's Lease service and Compact, issue 4 §3–4).
 * Lease ids are decimal integers (JSON numbers, at most 2^53-1); TTLs are seconds.
 *
 *   POST   /v1/leases                     {"ttl":10,"id"?:N}  → 201 {"id":N,"ttl":10}
 *          (ttl below the minimum is raised to it, etcd's rule; id absent/0: the server picks one)
 *   GET    /v1/leases                     → {"revision":R,"leases":[{"id":N,"granted_ttl":10},…]}
 *   GET    /v1/leases/{id}[?keys=true]    → {"id":N,"ttl":7,"granted_ttl":10,"keys"?:["a",…]}
 *          (ttl: remaining seconds; keys as UTF-8, or all base64 with "keys_encoding":"base64")
 *   DELETE /v1/leases/{id}                → {"revision":R}   (the revision after deleting its keys)
 *   POST   /v1/leases/{id}/keepalive      → {"id":N,"ttl":10} (renewed to its full TTL)
 *   POST   /v1/leases/{id}/keepalive?stream=true
 *          streaming keep-alive: the request body stays open and every line the client writes
 *          (e.g. an empty line) is a ping; the response (application/x-ndjson) answers each ping
 *          with one line {"id":N,"ttl":10}. A failed ping is answered with
 *          {"error":{"code","message"}}; the stream ends after a non-retryable one (lease_not_found:
 *          the lease expired or was revoked) and goes on after a retryable one (no_leader,
 *          leader_changed, timeout: send the next ping). The stream ends when the body ends.
 *   POST   /v1/compaction                 {"revision":N}  → {"revision":R,"compact_revision":N}
 *
 * Keep-alive and time-to-live need the leader (it alone holds expiry times, etcd's lessor): another
 * member forwards the one-shot requests (forward.ts), and the streaming keep-alive forwards each
 * ping (lease-keepalive.ts). Grant, revoke and compaction go through Raft from any member; the list
 * is this member's applied state. Errors: 400 invalid_argument / lease_ttl_too_large, 404
 * lease_not_found, 409 lease_exists, 410 compacted (compaction at or below the compact revision),
 * 503 retryable.
 */
import type { Context, Hono } from "hono";
import { stream as streamBody } from "hono/streaming";
import { invalidArgument } from "../../util/errors.ts";
import { readJsonBody } from "../body.ts";
import { toBase64, tryDecodeUtf8 } from "../bytes.ts";
import type { ApiDeps } from "../deps.ts";
import { toCairnError } from "../errors.ts";
import { forwardToLeader } from "../forward.ts";
import { keepAliveOnce } from "../lease-keepalive.ts";
import { bodyLines } from "../line-stream.ts";
import { boolParam } from "../query.ts";
import { compactionSchema, leaseGrantSchema } from "./v1-leases.schema.ts";
import { queryOf } from "./v1-locks.ts";

/** The lease id of the path: a decimal integer 1 ..= 2^53-1. */
function pathLeaseId(c: Context): number {
  const raw = c.req.param("id") ?? "";
  const id = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw invalidArgument(`lease id must be a decimal integer from 1 to 2^53-1, got "${raw}"`);
  }
  return id;
}

/** `{"keys":[…]}` as UTF-8 text, or all base64 with keys_encoding when one is not UTF-8. */
function keysJson(keys: readonly Uint8Array[]): { keys: string[]; keys_encoding?: "base64" } {
  const text = keys.map(tryDecodeUtf8);
  if (text.every((k) => k !== undefined)) return { keys: text as string[] };
  return { keys: keys.map(toBase64), keys_encoding: "base64" };
}

async function grant(c: Context, deps: ApiDeps): Promise<Response> {
  queryOf(c, []);
  const body = leaseGrantSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const r = await deps.kv.leaseGrant({ ttl: body.ttl, ...(body.id ? { id: body.id } : {}) });
  return c.json({ id: r.id, ttl: r.ttl }, 201);
}

async function list(c: Context, deps: ApiDeps): Promise<Response> {
  queryOf(c, []);
  const r = await deps.kv.leaseLeases();
  return c.json({
    revision: r.header.revision,
    leases: r.leases.map((l) => ({ id: l.id, granted_ttl: l.ttl })),
  });
}

async function timeToLive(c: Context, deps: ApiDeps): Promise<Response> {
  const q = queryOf(c, ["keys"]);
  const id = pathLeaseId(c);
  const withKeys = boolParam(q.keys, "keys");
  if (!deps.cluster.isLeader()) return forwardToLeader(c, deps);
  const r = await deps.kv.leaseTimeToLive(id, withKeys);
  return c.json({
    id: r.id,
    ttl: r.ttl,
    granted_ttl: r.grantedTtl,
    ...(withKeys ? keysJson(r.keys ?? []) : {}),
  });
}

async function revoke(c: Context, deps: ApiDeps): Promise<Response> {
  queryOf(c, []);
  const r = await deps.kv.leaseRevoke(pathLeaseId(c));
  return c.json({ revision: r.header.revision });
}

async function keepAlive(c: Context, deps: ApiDeps): Promise<Response> {
  const q = queryOf(c, ["stream"]);
  const id = pathLeaseId(c);
  if (boolParam(q.stream, "stream")) return keepAliveStream(c, deps, id);
  if (!deps.cluster.isLeader()) return forwardToLeader(c, deps);
  const r = await deps.kv.leaseKeepAlive(id);
  return c.json({ id: r.id, ttl: r.ttl });
}

/** The streaming keep-alive: one answer line per ping line (see the module comment). */
function keepAliveStream(c: Context, deps: ApiDeps, id: number): Response {
  const gone = new AbortController();
  const pings = bodyLines(c.req.raw.body, deps.maxRequestBytes, gone.signal);
  c.header("content-type", "application/x-ndjson");
  return streamBody(c, async (out) => {
    out.onAbort(() => gone.abort());
    const writeError = async (err: unknown): Promise<boolean> => {
      const e = toCairnError(err, c, deps.logger);
      await out.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
      return e.retryable;
    };
    try {
      for await (const _ping of pings) {
        try {
          const r = await keepAliveOnce(deps, id);
          await out.write(`${JSON.stringify({ id: r.id, ttl: r.ttl })}\n`);
        } catch (err) {
          if (out.aborted || !(await writeError(err))) break;
        }
      }
    } catch (err) {
      if (!out.aborted) await writeError(err);
    } finally {
      gone.abort();
    }
  });
}

async function compaction(c: Context, deps: ApiDeps): Promise<Response> {
  queryOf(c, []);
  const body = compactionSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const r = await deps.kv.compact({ revision: body.revision, ...(body.physical ? { physical: true } : {}) });
  return c.json({ revision: r.header.revision, compact_revision: body.revision });
}

/** Registers the /v1/leases routes and POST /v1/compaction on `app`. */
export function registerV1Leases(app: Hono, deps: ApiDeps): void {
  app.post("/v1/leases", (c) => grant(c, deps));
  app.get("/v1/leases", (c) => list(c, deps));
  app.get("/v1/leases/:id", (c) => timeToLive(c, deps));
  app.delete("/v1/leases/:id", (c) => revoke(c, deps));
  app.post("/v1/leases/:id/keepalive", (c) => keepAlive(c, deps));
  app.post("/v1/compaction", (c) => compaction(c, deps));
}
