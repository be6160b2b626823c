/**
 * GET /v1/watch as Server-Sent Events (issue 4 §2; WHATWG HTML "Server-sent events"):
 *
 *   GET /v1/watch?key=K[&prefix=true|&range_end=E][&start_revision=N][&prev_kv=true]
 *                [&filters=noput,nodelete][&progress_notify=true]
 *
 * The stream (Content-Type text/event-stream), one SSE event per message:
 *   event: created    id: S-1  data: {"revision":R,"start_revision":S}   R: the member's revision
 *   (message)         id: N    data: {"revision":N,"events":[…]}        one whole revision (codec/v1-watch.ts)
 *   event: progress   id: N    data: {"revision":N}                     every event up to N was sent
 *   event: compacted           data: {"compact_revision":C,"message":…} final: re-read, then watch from the read's revision+1
 *   event: cancelled           data: {"resume_revision":N,"reason":…}   final: watch again from N
 *   ": heartbeat" comments every few seconds while idle.
 * Every `id` is a revision through which the client has seen everything, so EventSource's
 * automatic reconnect (header Last-Event-ID: N) resumes at N+1 with nothing missed or repeated;
 * Last-Event-ID wins over start_revision. Errors before the stream starts (bad query) are JSON
 * errors from the one mapper (errors.ts). The watch is served by the member it reaches, from its
 * applied state (no leader involved), like etcd's.
 *
 * The bytes are written by src/api/sse-watch.ts: straight to the raw Node response when
 * @hono/node-server hands one over (c.env.outgoing, HTTP/1.1 or HTTP/2; Hono is told the response
 * is already sent), else (app.request, other hosts) through a ReadableStream body. Same frames
 * either way; one encoding per revision and selection, one write per batch, one heartbeat timer.
 */
import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, Hono } from "hono";
import { invalidArgument } from "../../util/errors.ts";
import { DEFAULT_WATCH_HEARTBEAT_MS } from "../../util/limits.ts";
import type { ApiDeps } from "../deps.ts";
import { type NodeResponse, SseWatchSessions, serveWatchOnNode, watchResponse } from "../sse-watch.ts";
import { watchQuerySchema, watchRequestOf } from "./v1-watch.schema.ts";

/** The revision after which to resume, from a Last-Event-ID header; undefined when absent or empty. */
function lastEventRevision(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const text = header.trim();
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw invalidArgument(`Last-Event-ID must be a revision, got "${header}"`);
  return n;
}

/**
 * True when @hono/node-server will leave a response alone once RESPONSE_ALREADY_SENT is returned:
 * it checks that marker only on a web-standard Response. The constant is made when its module is
 * first loaded; had the server's lightweight Response replaced the global one by then (it carries
 * a "cache" symbol), the server would write a head and end the stream, so the route streams
 * through a ReadableStream instead.
 */
const alreadySentHonored = !Object.getOwnPropertySymbols(RESPONSE_ALREADY_SENT).some(
  (s) => s.description === "cache",
);

/** The raw Node response of a request served by @hono/node-server, if it can be written directly. */
function nodeResponseOf(c: Context): NodeResponse | undefined {
  if (!alreadySentHonored) return undefined;
  const out = (c.env as { outgoing?: unknown } | undefined)?.outgoing as NodeResponse | undefined;
  if (out === undefined || typeof (out as ServerResponse).writeHead !== "function") return undefined;
  return out.headersSent ? undefined : out;
}

function watchSse(c: Context, deps: ApiDeps, sessions: SseWatchSessions): Response {
  const req = watchRequestOf(watchQuerySchema.parse(c.req.query()));
  const after = lastEventRevision(c.req.header("last-event-id"));
  if (after !== undefined) req.startRevision = after + 1;
  const stream = deps.kv.watch(req);
  try {
    const out = nodeResponseOf(c);
    if (out === undefined) return watchResponse(stream, sessions);
    serveWatchOnNode(out, stream, sessions);
    return RESPONSE_ALREADY_SENT;
  } catch (err) {
    stream.close();
    throw err;
  }
}

/** Registers GET /v1/watch on `app` (its SSE streams share one heartbeat timer). */
export function registerV1Watch(app: Hono, deps: ApiDeps): void {
  const sessions = new SseWatchSessions(deps.watchHeartbeatMs ?? DEFAULT_WATCH_HEARTBEAT_MS, deps.logger);
  app.get("/v1/watch", (c) => watchSse(c, deps, sessions));
}
