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
 */
import type { Context, Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { WatchMessage, WatchStream } from "../../mvcc/watcher.ts";
import { invalidArgument } from "../../util/errors.ts";
import { DEFAULT_WATCH_HEARTBEAT_MS } from "../../util/limits.ts";
import { revisionEventsToJson } from "../codec/v1-watch.ts";
import type { ApiDeps } from "../deps.ts";
import { watchQuerySchema, watchRequestOf } from "./v1-watch.schema.ts";

/** The revision after which to resume, from a Last-Event-ID header; undefined when absent or empty. */
function lastEventRevision(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const text = header.trim();
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw invalidArgument(`Last-Event-ID must be a revision, got "${header}"`);
  return n;
}

/** Writes one watch message as an SSE event. @returns true when it was the final message */
async function writeMessage(sse: SSEStreamingApi, m: WatchMessage): Promise<boolean> {
  switch (m.kind) {
    case "events":
      await sse.writeSSE({ id: String(m.revision), data: JSON.stringify(revisionEventsToJson(m)) });
      return false;
    case "progress":
      await sse.writeSSE({
        event: "progress",
        id: String(m.revision),
        data: JSON.stringify({ revision: m.revision }),
      });
      return false;
    case "compacted":
      await sse.writeSSE({
        event: "compacted",
        data: JSON.stringify({
          compact_revision: m.compactRevision,
          message: "mvcc: required revision has been compacted",
        }),
      });
      return true;
    case "cancelled":
      await sse.writeSSE({
        event: "cancelled",
        data: JSON.stringify({ resume_revision: m.resumeRevision, reason: m.reason }),
      });
      return true;
  }
}

/**
 * Pumps `stream` into the SSE response until a final message, the end, or the client leaving.
 * A heartbeat is skipped while a write waits for a slow client, so nothing piles up.
 */
async function pump(sse: SSEStreamingApi, stream: WatchStream, heartbeatMs: number): Promise<void> {
  sse.onAbort(() => stream.close());
  let writing = 0;
  const heartbeat = setInterval(() => {
    if (writing > 0) return;
    writing++;
    void sse.write(": heartbeat\n\n").finally(() => writing--);
  }, heartbeatMs);
  try {
    await sse.writeSSE({
      event: "created",
      id: String(stream.startRevision - 1),
      data: JSON.stringify({ revision: stream.createdRevision, start_revision: stream.startRevision }),
    });
    for (;;) {
      const m = await stream.next();
      if (m === undefined || sse.aborted) break;
      writing++;
      const final = await writeMessage(sse, m).finally(() => writing--);
      if (final) break;
    }
  } finally {
    clearInterval(heartbeat);
    stream.close();
  }
}

/**
 * streamSSE sets Transfer-Encoding and Connection, which HTTP/2 forbids (RFC 9113 §8.2.2; Node's
 * http2 throws on them); HTTP/1.1 adds chunked framing by itself. The response without them.
 */
function withoutConnectionHeaders(res: Response): Response {
  const headers = new Headers(res.headers);
  headers.delete("transfer-encoding");
  headers.delete("connection");
  return new Response(res.body, { status: res.status, headers });
}

async function watchSse(c: Context, deps: ApiDeps): Promise<Response> {
  const req = watchRequestOf(watchQuerySchema.parse(c.req.query()));
  const after = lastEventRevision(c.req.header("last-event-id"));
  if (after !== undefined) req.startRevision = after + 1;
  const stream = deps.kv.watch(req);
  return withoutConnectionHeaders(
    streamSSE(
      c,
      (sse) => pump(sse, stream, deps.watchHeartbeatMs ?? DEFAULT_WATCH_HEARTBEAT_MS),
      async (err) => {
        deps.logger?.error({ err, path: c.req.path }, "watch stream failed");
      },
    ),
  );
}

/** Registers GET /v1/watch on `app`. */
export function registerV1Watch(app: Hono, deps: ApiDeps): void {
  app.get("/v1/watch", (c) => watchSse(c, deps));
}
