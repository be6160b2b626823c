/**
 * The SSE writer of GET /v1/watch (routes/v1-watch.ts): cheap fan-out of one revision to many
 * watchers.
 *
 * - Each message becomes the exact bytes of one SSE event (the layout of Hono's writeSSE:
 *   `event:` line if named, one `data:` line, `id:` line if any, blank line). A revision's frame
 *   is encoded once per events array: the watch hub queues the same array to every watcher of a
 *   selection (src/mvcc/watch-index.ts), so 10,000 watchers of one prefix cost one
 *   JSON.stringify and one UTF-8 encoding per revision, not 10,000.
 * - A session writes straight to a byte sink: the raw Node response (HTTP/1.1: its socket, each
 *   write one ready-framed chunk of the chunked body; HTTP/2: Http2ServerResponse.write; see
 *   {@link serveWatchOnNode}) or, without one (app.request in tests, other hosts), a
 *   ReadableStream ({@link watchResponse}). Everything queued for a watcher when the session runs
 *   goes out in one write (up to MAX_SSE_WRITE_BYTES). When the sink says it is full, the
 *   session stops taking messages until it drains: they stay in the watcher's bounded buffer,
 *   whose overflow ends the watch with "cancelled" (the hub's slow-consumer rule, unchanged).
 * - No promise per message: the watcher calls a listener when a message is queued
 *   (WatchStream.onQueued); sessions with news are flushed together from setImmediate, in slices
 *   of FLUSH_SLICE_MS with the event loop's other work (puts, Raft) in between, so a fan-out to
 *   10,000 sockets delays a put by about a slice, not by the whole fan-out.
 * - One heartbeat timer per {@link SseWatchSessions} (per app) for all its streams: it ticks
 *   HEARTBEAT_TICKS times per interval, and a stream that wrote nothing for a whole interval
 *   (and is not waiting for its client) gets `: heartbeat`, so an idle stream sees one every
 *   1 to 1.2 intervals.
 */
import { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { Socket } from "node:net";
import type { WatchEvent } from "../mvcc/types.ts";
import type { WatchMessage, WatchStream } from "../mvcc/watcher.ts";
import { revisionEventsToJson } from "./codec/v1-watch.ts";
import type { ApiLogger } from "./errors.ts";

/** Response headers of an SSE watch (no connection-specific ones: HTTP/2 forbids them, RFC 9113 §8.2.2). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
};

/** Most bytes of frames joined into one write (a longer backlog is written in several). */
export const MAX_SSE_WRITE_BYTES = 256 * 1024;

/**
 * SSE watch streams started in this process, by how their bytes leave: straight to a Node
 * response, or through a web ReadableStream (tests read it to check which path served them).
 */
export const sseWatchStreamsStarted = { node: 0, web: 0 };

/** Longest run of session flushes before the event loop gets a turn (ms). */
const FLUSH_SLICE_MS = 1;

/** Heartbeat timer ticks per heartbeat interval (the precision of "idle for one interval"). */
const HEARTBEAT_TICKS = 5;

const HEARTBEAT = Buffer.from(": heartbeat\n\n");

/** Encoded revision frames by the events array they were made from (shared by a selection's watchers). */
const revisionFrames = new WeakMap<readonly WatchEvent[], { revision: number; frame: Buffer }>();

/** The bytes of one SSE event: `event:` (if named), `data:`, `id:` (if any), blank line. */
function sseFrame(event: string | undefined, data: string, id: number | undefined): Buffer {
  let text = event === undefined ? "" : `event: ${event}\n`;
  text += `data: ${data}\n`;
  if (id !== undefined) text += `id: ${id}\n`;
  return Buffer.from(`${text}\n`);
}

/**
 * The SSE frame of one watch message (see routes/v1-watch.ts for the event types). A revision's
 * frame is cached with its events array, so the watchers that share the array share the bytes.
 */
export function watchMessageFrame(m: WatchMessage): Buffer {
  switch (m.kind) {
    case "events": {
      const cached = revisionFrames.get(m.events);
      if (cached !== undefined && cached.revision === m.revision) return cached.frame;
      const frame = sseFrame(undefined, JSON.stringify(revisionEventsToJson(m)), m.revision);
      revisionFrames.set(m.events, { revision: m.revision, frame });
      return frame;
    }
    case "progress":
      return sseFrame("progress", JSON.stringify({ revision: m.revision }), m.revision);
    case "compacted":
      return sseFrame(
        "compacted",
        JSON.stringify({
          compact_revision: m.compactRevision,
          message: "mvcc: required revision has been compacted",
        }),
        undefined,
      );
    case "cancelled":
      return sseFrame(
        "cancelled",
        JSON.stringify({ resume_revision: m.resumeRevision, reason: m.reason }),
        undefined,
      );
  }
}

/** The `created` frame of a stream: id = the revision before its start (everything through it is "seen"). */
export function createdFrame(stream: WatchStream): Buffer {
  return sseFrame(
    "created",
    JSON.stringify({ revision: stream.createdRevision, start_revision: stream.startRevision }),
    stream.startRevision - 1,
  );
}

/** Where a session's bytes go. */
export interface SseSink {
  /** Writes `chunk` (never modified afterwards); false when the sink is full: wait for drained(). */
  write(chunk: Uint8Array): boolean;
  /** Ends the response after the last write. */
  end(): void;
}

/**
 * The SSE watch streams of one app: their shared heartbeat timer (running only while streams
 * exist, unref'd) and the batch in which sessions with queued messages are flushed.
 */
export class SseWatchSessions {
  private readonly sessions = new Set<SseWatchSession>();
  private pending: (SseWatchSession | undefined)[] = [];
  private pendingHead = 0;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Heartbeat ticks so far. */
  tick = 0;

  /**
   * @param heartbeatMs interval of heartbeat comments on idle streams
   * @param logger where failures of a stream are logged
   */
  constructor(
    readonly heartbeatMs: number,
    readonly logger?: ApiLogger,
  ) {}

  /** Open streams. */
  get size(): number {
    return this.sessions.size;
  }

  /** @internal a session started */
  add(s: SseWatchSession): void {
    this.sessions.add(s);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.heartbeat(), Math.max(1, this.heartbeatMs / HEARTBEAT_TICKS));
      this.timer.unref();
    }
  }

  /** @internal a session ended */
  delete(s: SseWatchSession): void {
    this.sessions.delete(s);
    if (this.sessions.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** @internal flushes `s` with the others at the next setImmediate */
  schedule(s: SseWatchSession): void {
    this.pending.push(s);
    this.immediate ??= setImmediate(() => this.flushPending());
  }

  /**
   * Flushes the sessions with news in order, for at most FLUSH_SLICE_MS; the rest go on at the
   * next setImmediate, after the I/O that arrived meanwhile (puts, Raft messages), so a fan-out
   * to many watchers never holds the event loop for long. Sessions further back collect more
   * revisions meanwhile and write them in one go.
   */
  private flushPending(): void {
    this.immediate = undefined;
    const deadline = performance.now() + FLUSH_SLICE_MS;
    let n = 0;
    while (this.pendingHead < this.pending.length) {
      const s = this.pending[this.pendingHead]!;
      this.pending[this.pendingHead++] = undefined;
      s.flush();
      if (++n % 16 === 0 && performance.now() >= deadline) break;
    }
    if (this.pendingHead >= this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else {
      this.immediate ??= setImmediate(() => this.flushPending());
    }
  }

  private heartbeat(): void {
    this.tick++;
    for (const s of this.sessions) {
      if (this.tick - s.lastWriteTick >= HEARTBEAT_TICKS) s.heartbeat();
    }
  }
}

/** One SSE watch stream: pulls its watcher's messages and writes their frames to a sink. */
export class SseWatchSession {
  /** The sessions' tick of the last write (heartbeats go to streams idle for a whole interval). */
  lastWriteTick: number;
  /** The sink is full: nothing is written until drained(). */
  private blocked = false;
  /** A flush is scheduled or running. */
  private scheduled = false;
  private done = false;

  /**
   * @param stream the watch (owned: closed when the session ends)
   * @param sink where the frames go
   * @param sessions the app's sessions (heartbeat, flush batch)
   */
  constructor(
    private readonly stream: WatchStream,
    private readonly sink: SseSink,
    private readonly sessions: SseWatchSessions,
  ) {
    this.lastWriteTick = sessions.tick;
  }

  /** Writes the `created` event and starts streaming (history already queued is flushed at once). */
  start(): void {
    this.sessions.add(this);
    this.write(createdFrame(this.stream));
    this.stream.onQueued(() => this.wake());
    this.wake();
  }

  /** The sink can take more. */
  drained(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.wake();
  }

  /** The client went away (or the response failed): ends the watch without writing more. */
  aborted(): void {
    if (this.done) return;
    this.done = true;
    this.sessions.delete(this);
    this.stream.close();
  }

  /** Writes a heartbeat comment unless the sink is full. */
  heartbeat(): void {
    if (this.done || this.blocked) return;
    this.write(HEARTBEAT);
  }

  /**
   * Writes every message queued now, in writes of up to MAX_SSE_WRITE_BYTES, until the watcher's
   * buffer is empty, the sink is full or the final message is out (then the response ends).
   */
  flush(): void {
    if (this.done || this.blocked) {
      this.scheduled = false;
      return;
    }
    try {
      for (;;) {
        const frames: Buffer[] = [];
        let bytes = 0;
        let final = false;
        while (bytes < MAX_SSE_WRITE_BYTES) {
          const m = this.stream.poll();
          if (m === undefined) break;
          const f = watchMessageFrame(m);
          frames.push(f);
          bytes += f.length;
          if (m.kind === "compacted" || m.kind === "cancelled") {
            final = true;
            break;
          }
        }
        if (frames.length === 0) {
          if (this.stream.ended) this.finish(); // closed without a final message
          break;
        }
        this.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
        if (final) {
          this.finish();
          break;
        }
        if (this.blocked) break;
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.scheduled = false;
    }
  }

  private wake(): void {
    if (this.scheduled || this.blocked || this.done) return;
    this.scheduled = true;
    this.sessions.schedule(this);
  }

  private write(chunk: Uint8Array): void {
    this.lastWriteTick = this.sessions.tick;
    if (!this.sink.write(chunk)) this.blocked = true;
  }

  /** The last frame is written: end the response and the watch. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.sessions.delete(this);
    this.stream.close();
    this.sink.end();
  }

  /** An unexpected failure: logged, reported as `event: error` (as Hono's streamSSE does), then the end. */
  private fail(err: unknown): void {
    if (this.done) return;
    const message = err instanceof Error ? err.message : String(err);
    this.sessions.logger?.error({ err }, "watch stream failed");
    try {
      this.sink.write(
        Buffer.from(
          `event: error\n${message
            .split(/\r\n|\r|\n/)
            .map((l) => `data: ${l}\n`)
            .join("")}\n`,
        ),
      );
    } catch {
      // the sink is gone too; nothing more to tell the client
    }
    this.finish();
  }
}

/** A raw Node response: HTTP/1.1 or HTTP/2 compatibility API (what @hono/node-server hands over). */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * Serves `stream` as SSE on a raw Node response: status 200 with {@link SSE_HEADERS} (no
 * Connection or Transfer-Encoding: Node adds chunked framing on HTTP/1.1 by itself, and HTTP/2
 * forbids them), then frames written to the socket (HTTP/1.1, {@link Http1SocketSink}) or with
 * res.write (HTTP/2, or HTTP/1.1 when the socket is not the response's alone), backpressure
 * through 'drain', the end of the watch on 'close'.
 */
export function serveWatchOnNode(res: NodeResponse, stream: WatchStream, sessions: SseWatchSessions): void {
  res.writeHead(200, SSE_HEADERS);
  const r = res as ServerResponse; // both have write(chunk): boolean, end(), 'drain', 'close'
  const socketSink = res instanceof ServerResponse ? Http1SocketSink.of(res) : undefined;
  const session = new SseWatchSession(
    stream,
    socketSink ?? {
      write: (chunk) => r.write(chunk),
      end: () => {
        r.end();
      },
    },
    sessions,
  );
  const abort = () => {
    socketSink?.detach();
    session.aborted();
  };
  const drained = () => session.drained();
  if (socketSink) socketSink.onDrain(drained);
  else r.on("drain", drained);
  r.on("close", abort);
  r.on("error", abort);
  sseWatchStreamsStarted.node++;
  session.start();
}

/** HTTP/1.1 chunk framing of frames (`<hex length>\r\n<bytes>\r\n`), cached with the frame. */
const chunkFrames = new WeakMap<Uint8Array, Buffer>();

function chunkOf(frame: Uint8Array): Buffer {
  let chunk = chunkFrames.get(frame);
  if (chunk === undefined) {
    const head = Buffer.from(`${frame.length.toString(16)}\r\n`, "latin1");
    chunk = Buffer.allocUnsafe(head.length + frame.length + 2);
    head.copy(chunk, 0);
    chunk.set(frame, head.length);
    chunk.write("\r\n", head.length + frame.length, "latin1");
    chunkFrames.set(frame, chunk);
  }
  return chunk;
}

/**
 * An HTTP/1.1 response body written straight to its socket: the head is sent first
 * (flushHeaders), then each frame goes out as one chunk of the chunked body in one socket write,
 * its framing cached with the frame (all watchers of a selection write the same bytes), instead of
 * ServerResponse.write's three pieces, cork and uncork per write. res.end() still writes the last
 * chunk and hands the connection back to keep-alive. Used only when the response owns its socket
 * now (not queued behind a pipelined one) and under Node (Bun's node:http has no real socket).
 */
class Http1SocketSink implements SseSink {
  private drainListener: (() => void) | undefined;

  private constructor(
    private readonly res: ServerResponse,
    private readonly socket: Socket,
    private readonly chunked: boolean,
  ) {}

  /** A sink for `res` (head written by the caller), or undefined when it must go through res.write. */
  static of(res: ServerResponse): Http1SocketSink | undefined {
    const socket = res.socket;
    if (process.versions.bun !== undefined || !(socket instanceof Socket) || socket.destroyed)
      return undefined;
    const chunked = (res as unknown as { chunkedEncoding?: unknown }).chunkedEncoding;
    if (typeof chunked !== "boolean") return undefined; // not Node's OutgoingMessage as we know it
    res.flushHeaders();
    if ((res as unknown as { outputSize?: number }).outputSize) return undefined; // head still queued
    return new Http1SocketSink(res, socket, chunked);
  }

  write(chunk: Uint8Array): boolean {
    return this.socket.write(this.chunked ? chunkOf(chunk) : chunk);
  }

  end(): void {
    this.detach();
    this.res.end();
  }

  /** Calls `fn` when the socket drains (until the response ends). */
  onDrain(fn: () => void): void {
    this.drainListener = fn;
    this.socket.on("drain", fn);
  }

  /** Removes the drain listener (the socket may serve further requests). */
  detach(): void {
    if (this.drainListener) this.socket.off("drain", this.drainListener);
    this.drainListener = undefined;
  }
}

/**
 * Serves `stream` as SSE in a web Response (a ReadableStream body that holds at most one
 * unread chunk before the session waits): for app.request() and hosts without a Node response.
 */
export function watchResponse(stream: WatchStream, sessions: SseWatchSessions): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let session: SseWatchSession | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
      pull: () => session?.drained(),
      cancel: () => session?.aborted(),
    },
    { highWaterMark: 1 },
  );
  session = new SseWatchSession(
    stream,
    {
      write: (chunk) => {
        controller.enqueue(chunk);
        return (controller.desiredSize ?? 0) > 0;
      },
      end: () => controller.close(),
    },
    sessions,
  );
  sseWatchStreamsStarted.web++;
  session.start();
  return new Response(body, { headers: SSE_HEADERS });
}
