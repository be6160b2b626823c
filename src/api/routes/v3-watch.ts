/**
 * etcd's gateway POST /v3/watch (etcd 3.4 grpc-gateway over the bidirectional Watch stream):
 * the request body is a stream of etcdserverpb.WatchRequest JSON objects
 * (`{"create_request":{…}}`, `{"cancel_request":{"watch_id":…}}`, `{"progress_request":{}}`),
 * read as they arrive; the response streams one `{"result":WatchResponse}` per line
 * (codec/v3-watch.ts). Several watches may share the stream (ids 0, 1, … or the watch_id
 * asked for). Cairn specifics:
 * - the first request must be a create_request; if it is invalid the answer is an HTTP error in
 *   the gateway's shape (errors.ts) instead of a stream;
 * - one response per revision (etcd may batch several), header.revision = that revision;
 * - a slow consumer's watch ends with canceled + cancel_reason "… resume from revision N";
 * - a start revision at or below the compact revision is compacted (etcd allows it equal);
 * - a progress_request is answered per watch, each with watch_id -1 (etcd 3.4 sends one);
 * - the response ends when the request body has ended and no watch is left.
 */
import type { Context, Hono } from "hono";
import { stream as streamBody } from "hono/streaming";
import type { StreamingApi } from "hono/utils/stream";
import type { WatchStream } from "../../mvcc/watcher.ts";
import { CairnError, invalidArgument } from "../../util/errors.ts";
import { MAX_WATCHES_PER_STREAM } from "../../util/limits.ts";
import { encodeWatchResponse, type WatchResponseFields } from "../codec/v3-watch.ts";
import type { ApiDeps } from "../deps.ts";
import { gatewayStreamError } from "../errors.ts";
import { jsonObjects } from "../json-stream.ts";
import { decodeWatchCreate, type WatchCreateWire, watchRequestSchema } from "./v3-watch.schema.ts";

/** etcd 3.4 answers a progress_request with watch_id -1 (clientv3.InvalidWatchID). */
const PROGRESS_REQUEST_WATCH_ID = -1;

/** The watches of one /v3/watch stream and the lines written for them. */
class WatchSession {
  private readonly watches = new Map<number, WatchStream>();
  private nextWatchId = 0;
  private requestsEnded = false;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly out: StreamingApi,
    private readonly deps: ApiDeps,
    private readonly c: Context,
  ) {}

  /** Writes one WatchResponse line (waits for the consumer: backpressure reaches the watcher's buffer). */
  private async send(fields: WatchResponseFields): Promise<void> {
    await this.out.write(`${JSON.stringify(encodeWatchResponse(this.deps.kv.header(), fields))}\n`);
  }

  /** Picks the watch id of a create: the one asked for, or the next free one. */
  private watchIdFor(w: WatchCreateWire): number | string {
    if (w.watch_id) return this.watches.has(w.watch_id) ? "etcdserver: duplicate watch ID" : w.watch_id;
    while (this.watches.has(this.nextWatchId)) this.nextWatchId++;
    return this.nextWatchId++;
  }

  /**
   * Opens the watch of a create_request and starts pumping it.
   * @param opened a stream already opened for it (the first request), else opened here
   */
  create(w: WatchCreateWire, opened?: WatchStream): void {
    const id = this.watchIdFor(w);
    let stream = opened;
    if (typeof id === "string" || (!stream && this.watches.size >= MAX_WATCHES_PER_STREAM)) {
      const reason =
        typeof id === "string" ? id : `too many watches on one stream (${MAX_WATCHES_PER_STREAM})`;
      void this.send({
        revision: 0,
        watchId: Number(w.watch_id ?? 0),
        created: true,
        canceled: true,
        cancelReason: reason,
      });
      return;
    }
    try {
      stream ??= this.deps.kv.watch(decodeWatchCreate(w));
    } catch (err) {
      if (!(err instanceof CairnError)) this.deps.logger?.error({ err }, "watch create failed");
      const reason = err instanceof CairnError ? err.message : "internal error";
      void this.send({ revision: 0, watchId: id, created: true, canceled: true, cancelReason: reason });
      return;
    }
    this.watches.set(id, stream);
    void this.pump(id, stream);
  }

  /** Sends the created response, then every message of the watch until it ends. */
  private async pump(id: number, stream: WatchStream): Promise<void> {
    let revision = stream.createdRevision;
    try {
      await this.send({ revision, watchId: id, created: true });
      for (;;) {
        const m = await stream.next();
        if (m === undefined || this.out.aborted) break;
        if (m.kind === "events") {
          revision = m.revision;
          await this.send({ revision, watchId: id, events: m.events });
        } else if (m.kind === "progress") {
          revision = m.revision;
          await this.send({ revision, watchId: m.requested ? PROGRESS_REQUEST_WATCH_ID : id });
        } else if (m.kind === "compacted") {
          await this.send({ revision: 0, watchId: id, canceled: true, compactRevision: m.compactRevision });
          break;
        } else {
          await this.send({
            revision: m.resumeRevision - 1,
            watchId: id,
            canceled: true,
            cancelReason: m.reason,
          });
          break;
        }
      }
    } finally {
      stream.close();
      if (this.watches.get(id) === stream) this.watches.delete(id);
      this.checkIdle();
    }
  }

  /** cancel_request: ends the watch and confirms with canceled. */
  cancel(id: number): void {
    const stream = this.watches.get(id);
    if (!stream) return;
    this.watches.delete(id);
    stream.close();
    void this.send({ revision: stream.createdRevision, watchId: id, canceled: true });
  }

  /** progress_request: a progress notification from every watch. */
  progress(): void {
    for (const s of this.watches.values()) s.requestProgress();
  }

  /** Writes a stream error in grpc-gateway's shape and ends every watch. */
  async fail(err: unknown): Promise<void> {
    await this.out.write(`${JSON.stringify(gatewayStreamError(err, this.c, this.deps.logger))}\n`);
    this.closeAll();
  }

  /** Ends every watch (the client left, or the stream failed). */
  closeAll(): void {
    for (const s of [...this.watches.values()]) s.close();
  }

  /** Resolves once the requests have ended and no watch is left. */
  async finished(): Promise<void> {
    this.requestsEnded = true;
    await new Promise<void>((resolve) => {
      this.onIdle = resolve;
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.requestsEnded && this.watches.size === 0) this.onIdle?.();
  }
}

async function watch(c: Context, deps: ApiDeps): Promise<Response> {
  const gone = new AbortController();
  const requests = jsonObjects(c.req.raw.body, deps.maxRequestBytes, gone.signal);
  const first = await requests.next();
  const firstRequest = first.done ? {} : watchRequestSchema.parse(first.value);
  const create = firstRequest.create_request;
  if (!create) throw invalidArgument("the first request of /v3/watch must be a create_request");
  const opened = deps.kv.watch(decodeWatchCreate(create));
  c.header("content-type", "application/json");
  return streamBody(c, async (out) => {
    const session = new WatchSession(out, deps, c);
    out.onAbort(() => {
      session.closeAll();
      gone.abort();
    });
    session.create(create, opened);
    try {
      for await (const raw of requests) {
        const r = watchRequestSchema.parse(raw);
        if (r.create_request) session.create(r.create_request);
        else if (r.cancel_request) session.cancel(r.cancel_request.watch_id ?? 0);
        else if (r.progress_request) session.progress();
      }
    } catch (err) {
      if (!out.aborted) await session.fail(err);
    }
    await session.finished();
  });
}

/** Registers POST /v3/watch on `app`. */
export function registerV3Watch(app: Hono, deps: ApiDeps): void {
  app.post("/v3/watch", (c) => watch(c, deps));
}
