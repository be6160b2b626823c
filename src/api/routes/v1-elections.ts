/**
 * Leader elections on the native /v1 API (etcd v3election semantics, server/locks.ts). The
 * election name is UTF-8 text in the path (percent-decoded, may contain "/"); the last path
 * segment is the operation. A candidate's key is `<name>/<lease id in hex>`; the leader is the
 * candidate whose key has the lowest create_revision.
 *
 *   POST /v1/elections/{name}/campaign[?timeout_ms=T]  {"lease":N,"value":"v","value_encoding"?}
 *        → 200 {"revision":R,"leader":{"name":"n","key":"n/694d5765fc715","rev":11,"lease":N}}
 *        Held open until this candidate leads (at most T ms, default 60 000, at most 300 000; at
 *        the timeout 408 deadline_exceeded and the candidacy is withdrawn). Keep `leader`: it is
 *        what proclaim and resign take; `rev` (the key's create_revision) is a fencing token.
 *   POST /v1/elections/{name}/proclaim  {"leader":{…},"value":"v2"}      → 200 {"revision":R}
 *        Sets the leader's value while its key still has create revision leader.rev; else 412
 *        election_not_leader.
 *   GET  /v1/elections/{name}/leader    → 200 {"revision":R,"kv":KV}      (404 election_no_leader)
 *   GET  /v1/elections/{name}/observe   → Server-Sent Events:
 *          event: leader     data: {"revision":R,"kv":KV}   the leader now, each proclaim, each new leader
 *          event: no_leader  data: {"revision":R}           no candidate (at the start, or after one left)
 *          event: error      data: {"code","message"}       final (e.g. no_leader of the cluster)
 *          ": heartbeat" comments while idle.
 *   POST /v1/elections/{name}/resign    {"leader":{…}}  → 200 {"revision":R,"resigned":true|false}
 *        Deletes the leader's key if it still has create revision leader.rev (false: it was gone).
 *
 * KV is the /v1 key-value JSON (codec/v1.ts). Errors as for locks (routes/v1-locks.ts).
 */
import type { Context, Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { LeaderKey, LockService, ObservedLeader } from "../../server/locks.ts";
import { CairnError, invalidArgument } from "../../util/errors.ts";
import { DEFAULT_WATCH_HEARTBEAT_MS } from "../../util/limits.ts";
import { readJsonBody } from "../body.ts";
import { utf8 } from "../bytes.ts";
import { kvToJson } from "../codec/v1.ts";
import type { ApiDeps } from "../deps.ts";
import { toCairnError } from "../errors.ts";
import { checkKey, rawPath } from "../keys.ts";
import {
  campaignBodySchema,
  type LeaderJson,
  proclaimBodySchema,
  resignBodySchema,
  valueBytes,
  waitTimeoutMs,
} from "./v1-locks.schema.ts";
import { queryOf, text } from "./v1-locks.ts";

const MOUNT = "/v1/elections/";

/** Election name and operation of the path `/v1/elections/{name}/{op}`. */
function pathOf(c: Context): { name: Uint8Array; op: string } {
  const path = rawPath(c.req.url);
  const rest = path.slice(MOUNT.length);
  const slash = rest.lastIndexOf("/");
  const op = slash < 0 ? "" : rest.slice(slash + 1);
  let nameText = slash < 0 ? rest : rest.slice(0, slash);
  try {
    nameText = decodeURIComponent(nameText);
  } catch {
    throw invalidArgument("election name in the URL path is not valid percent-encoded UTF-8");
  }
  const name = utf8(nameText);
  if (name.length === 0) throw invalidArgument("election name is required: /v1/elections/{name}/{operation}");
  checkKey(name, "election name");
  return { name, op };
}

function notFound(c: Context): never {
  throw new CairnError("not_found", `no route for ${c.req.method} ${c.req.path}`);
}

/** The LeaderKey of a leader object for election `name`. */
function leaderKeyOf(name: Uint8Array, l: LeaderJson): LeaderKey {
  if (l.name !== undefined && l.name !== text(name)) {
    throw invalidArgument(`leader.name "${l.name}" is not the election of the path ("${text(name)}")`);
  }
  return { name, key: utf8(l.key), rev: l.rev, lease: l.lease ?? 0 };
}

function leaderJson(l: LeaderKey) {
  return { name: text(l.name), key: text(l.key), rev: l.rev, lease: l.lease };
}

async function campaign(c: Context, deps: ApiDeps, locks: LockService, name: Uint8Array): Promise<Response> {
  const q = queryOf(c, ["timeout_ms"]);
  const timeoutMs = waitTimeoutMs(q.timeout_ms);
  const body = campaignBodySchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const won = await locks.campaign(name, body.lease, valueBytes(body), {
    timeoutMs,
    signal: c.req.raw.signal,
  });
  return c.json({ revision: won.revision, leader: leaderJson(won.leader) });
}

async function proclaim(c: Context, deps: ApiDeps, locks: LockService, name: Uint8Array): Promise<Response> {
  queryOf(c, []);
  const body = proclaimBodySchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  if (body.leader.lease === undefined) throw invalidArgument("leader.lease is required to proclaim");
  const r = await locks.proclaim(leaderKeyOf(name, body.leader), valueBytes(body));
  return c.json({ revision: r.revision });
}

async function resign(c: Context, deps: ApiDeps, locks: LockService, name: Uint8Array): Promise<Response> {
  queryOf(c, []);
  const body = resignBodySchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const r = await locks.resign(leaderKeyOf(name, body.leader));
  return c.json({ revision: r.revision, resigned: r.resigned });
}

async function leader(c: Context, locks: LockService, name: Uint8Array): Promise<Response> {
  queryOf(c, []);
  const r = await locks.leader(name);
  return c.json({ revision: r.revision, kv: kvToJson(r.kv) });
}

/** One observation as an SSE event. */
function writeObserved(sse: SSEStreamingApi, o: ObservedLeader): Promise<void> {
  if (o.kv === undefined) {
    return sse.writeSSE({ event: "no_leader", data: JSON.stringify({ revision: o.revision }) });
  }
  return sse.writeSSE({
    event: "leader",
    data: JSON.stringify({ revision: o.revision, kv: kvToJson(o.kv) }),
  });
}

/**
 * streamSSE sets Transfer-Encoding and Connection, which HTTP/2 forbids (RFC 9113 §8.2.2); HTTP/1.1
 * adds chunked framing by itself. The response without them (as routes/v1-watch.ts).
 */
function withoutConnectionHeaders(res: Response): Response {
  const headers = new Headers(res.headers);
  headers.delete("transfer-encoding");
  headers.delete("connection");
  return new Response(res.body, { status: res.status, headers });
}

function observe(c: Context, deps: ApiDeps, locks: LockService, name: Uint8Array): Response {
  queryOf(c, []);
  const gone = new AbortController();
  const observations = locks.observe(name, gone.signal); // 429 here, before the stream starts
  const heartbeatMs = deps.watchHeartbeatMs ?? DEFAULT_WATCH_HEARTBEAT_MS;
  return withoutConnectionHeaders(
    streamSSE(
      c,
      async (sse) => {
        sse.onAbort(() => gone.abort());
        let writing = 0;
        const heartbeat = setInterval(() => {
          if (writing > 0) return;
          writing++;
          void sse.write(": heartbeat\n\n").finally(() => writing--);
        }, heartbeatMs);
        try {
          for await (const o of observations) {
            if (sse.aborted) break;
            writing++;
            await writeObserved(sse, o).finally(() => writing--);
          }
        } catch (err) {
          if (!sse.aborted) {
            const e = toCairnError(err, c, deps.logger);
            await sse.writeSSE({
              event: "error",
              data: JSON.stringify({ code: e.code, message: e.message }),
            });
          }
        } finally {
          clearInterval(heartbeat);
          gone.abort();
        }
      },
      async (err) => {
        deps.logger?.error({ err, path: c.req.path }, "election observe stream failed");
      },
    ),
  );
}

/** Registers the /v1/elections/{name}/{operation} routes on `app`. */
export function registerV1Elections(app: Hono, deps: ApiDeps, locks: LockService): void {
  app.post(`${MOUNT}*`, (c) => {
    const { name, op } = pathOf(c);
    if (op === "campaign") return campaign(c, deps, locks, name);
    if (op === "proclaim") return proclaim(c, deps, locks, name);
    if (op === "resign") return resign(c, deps, locks, name);
    return notFound(c);
  });
  app.get(`${MOUNT}*`, (c) => {
    const { name, op } = pathOf(c);
    if (op === "leader") return leader(c, locks, name);
    if (op === "observe") return observe(c, deps, locks, name);
    return notFound(c);
  });
}
