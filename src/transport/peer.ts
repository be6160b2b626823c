/**
 * The sending side towards one peer: a bounded queue, one long-lived HTTP/2 session over mutual
 * TLS, one long-lived request stream (POST /cairn/raft/stream) carrying batches of messages as
 * length-prefixed msgpack frames, and a separate request per snapshot (POST /cairn/raft/snapshot,
 * snapshot-sender.ts) streaming its state in chunks, so a large snapshot never delays heartbeats.
 * After a failure the session is torn down, the peer is reported unreachable once, and a
 * reconnection follows after a bounded exponential back-off (etcd rafthttp: streamWriter /
 * pipeline / snapshotSender).
 */
import http2 from "node:http2";
import type { Logger } from "pino";
import type { Message, NodeId } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { encodeFrame, FRAME_HEADER_BYTES } from "../util/framing.ts";
import { encodeMessages } from "./codec.ts";
import { ErrorBody } from "./error-body.ts";
import {
  BATCH_TARGET_BYTES,
  CAN_SET_HTTP2_WINDOW,
  HTTP2_INITIAL_WINDOW_BYTES,
  MAX_BATCH_MESSAGES,
  MAX_SNAPSHOT_MESSAGE_BYTES,
  MAX_STREAM_FRAME_BYTES,
} from "./limits.ts";
import { CLUSTER_ID_HEADER, FRAME_CONTENT_TYPE, MEMBER_ID_HEADER, RAFT_STREAM_PATH } from "./protocol.ts";
import { BoundedMessageQueue } from "./queue.ts";
import { postSnapshot } from "./snapshot-sender.ts";
import type { PeerTlsConfig, SnapshotChunks } from "./types.ts";
import { parsePeerUrl } from "./url.ts";

/** Options of a {@link PeerSender}. Callbacks are called synchronously; the owner defers them. */
export interface PeerSenderOptions {
  peerId: NodeId;
  /** First advertised peer URL (https://host:port). */
  url: string;
  clusterId: string;
  memberId: NodeId;
  tls: PeerTlsConfig;
  maxQueueMessages: number;
  dialTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  pingIntervalMs: number;
  /** Idle time after which a snapshot request is cancelled (ms). */
  snapshotIdleTimeoutMs: number;
  logger: Logger;
  /** The session or stream failed, or the queue overflowed. */
  onUnreachable: () => void;
  /** Outcome of one snapshot handed to {@link PeerSender.sendSnapshot}. */
  onSnapshotSent: (ok: boolean) => void;
  /** The peer answered 410: this member was removed from the cluster. */
  onRemoved: () => void;
}

/** Counters of one peer sender (monotonic since creation, except queuedMessages and connected). */
export interface PeerStats {
  peer: NodeId;
  url: string;
  /** True while the message stream is established (the peer answered 200). */
  connected: boolean;
  /** Messages waiting in the queue. */
  queuedMessages: number;
  /** Messages written to the stream. */
  sentMessages: number;
  /** Frames (batches) written to the stream. */
  sentFrames: number;
  /** Messages dropped: queue full, too large, or unencodable. */
  droppedMessages: number;
  /** Session or stream failures. */
  failures: number;
}

/** One in-flight or waiting snapshot. `finish` reports its outcome exactly once. */
interface PendingSnapshot {
  /** The encoded MsgSnap (empty data). */
  frame: Buffer;
  data: () => SnapshotChunks;
  /** Settles when the started request has closed and its data iterator too; null until started. */
  done: Promise<void> | null;
  finish: (ok: boolean) => void;
}

/** Sender of messages to one peer. Never throws from enqueue/sendSnapshot for a down peer. */
export class PeerSender {
  private url: string;
  private readonly queue: BoundedMessageQueue;
  private readonly log: Logger;
  private session: http2.ClientHttp2Session | null = null;
  private sessionReady = false;
  private stream: http2.ClientHttp2Stream | null = null;
  private streamAccepted = false;
  private waitingDrain = false;
  private snapshot: PendingSnapshot | null = null;
  private dialTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingOutstanding = false;
  private backoffTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private consecutiveFailures = 0;
  private closed = false;
  /** Set by {@link keepOpen}: the session and stream stay open with nothing to send. */
  private persistent = false;
  /** Sessions not yet closed (a torn-down one closes asynchronously); close() waits for them. */
  private readonly liveSessions = new Set<http2.ClientHttp2Session>();
  private readonly counters = { sentMessages: 0, sentFrames: 0, droppedMessages: 0, failures: 0 };

  constructor(private readonly opts: PeerSenderOptions) {
    parsePeerUrl(opts.url); // validates early
    this.url = opts.url;
    this.queue = new BoundedMessageQueue(opts.maxQueueMessages);
    this.backoffMs = opts.reconnectMinMs;
    this.log = opts.logger.child({ peer: opts.peerId });
  }

  /**
   * Queues one stream message (not MsgSnap) without sending it yet: {@link flush} sends what is
   * queued, so that messages queued together go out in one frame. A message that does not fit the
   * queue is dropped and onUnreachable is called.
   */
  queueMessage(message: Message): void {
    if (this.closed) return;
    if (this.queue.push(message)) return;
    this.counters.droppedMessages++;
    this.log.debug({ queued: this.queue.length }, "peer queue full, dropping a message");
    this.opts.onUnreachable();
  }

  /** Starts sending what {@link queueMessage} queued (connecting first if needed). */
  flush(): void {
    this.pump();
  }

  /**
   * From now on keeps a session and the message stream to the peer open even while there is
   * nothing to send, reconnecting with back-off when they fail, as etcd's rafthttp keeps a stream
   * to every peer. Followers exchange no messages until an election, so without this a follower's
   * first PreVote after the leader died waited for a TCP and TLS handshake: on the 2-core machine
   * with two CPU-bound processes beside a three-member cluster, the winner's PreVote round took
   * 64 ms at the median (max 100) with lazy dialling and 14 ms (max 21) with kept streams, over 20
   * elections each. The longer that round, the likelier the other follower times out meanwhile
   * and splits the vote, which costs another election timeout.
   */
  keepOpen(): void {
    if (this.closed) return;
    this.persistent = true;
    this.pump();
  }

  /**
   * Sends one MsgSnap (its snapshot.data empty) on its own request, its state streamed from
   * `data()` (snapshot-sender.ts), called only once the request starts. Only one snapshot is in
   * flight per peer, until its request and data iterator have closed; another one arriving
   * meanwhile, one whose message frame is over MAX_SNAPSHOT_MESSAGE_BYTES or does not encode, or
   * one to a peer in back-off is reported failed at once without calling `data`.
   */
  sendSnapshot(message: Message, data: () => SnapshotChunks): void {
    if (this.closed) return;
    if (this.snapshot !== null) {
      this.log.warn(
        { index: message.snapshot?.metadata.index },
        "a snapshot is already in flight; reporting failure",
      );
      this.opts.onSnapshotSent(false);
      return;
    }
    if (this.backoffTimer !== null) {
      this.opts.onSnapshotSent(false);
      return;
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(encodeMessages([message]));
    } catch (err) {
      this.log.error({ err }, "cannot encode snapshot message");
      this.opts.onSnapshotSent(false);
      return;
    }
    if (frame.byteLength - FRAME_HEADER_BYTES > MAX_SNAPSHOT_MESSAGE_BYTES) {
      this.log.error(
        { bytes: frame.byteLength - FRAME_HEADER_BYTES, maxBytes: MAX_SNAPSHOT_MESSAGE_BYTES },
        "snapshot message exceeds the largest snapshot message; not sent",
      );
      this.opts.onSnapshotSent(false);
      return;
    }
    let done = false;
    this.snapshot = {
      frame,
      data,
      done: null,
      finish: (ok) => {
        if (done) return;
        done = true;
        this.snapshot = null;
        if (!this.closed) this.opts.onSnapshotSent(ok);
      },
    };
    this.pump();
  }

  /** Changes the peer's URL; the current session (if any) is closed and a new one opened to the new URL. */
  setUrl(url: string): void {
    if (url === this.url) return;
    parsePeerUrl(url);
    this.url = url;
    this.teardown();
    this.clearBackoff();
    this.backoffMs = this.opts.reconnectMinMs;
    this.pump();
  }

  /** Current counters. */
  stats(): PeerStats {
    return {
      peer: this.opts.peerId,
      url: this.url,
      connected: this.streamAccepted,
      queuedMessages: this.queue.length,
      ...this.counters,
    };
  }

  /**
   * Drops the queue, closes the session; resolves when every session of this sender has closed and
   * the data iterator of an in-flight snapshot has been closed.
   */
  close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    this.clearBackoff();
    const waits = [...this.liveSessions].map((s) => new Promise<void>((resolve) => s.once("close", resolve)));
    if (this.snapshot?.done) waits.push(this.snapshot.done);
    this.teardown();
    for (const s of this.liveSessions) s.destroy();
    return Promise.all(waits).then(() => undefined);
  }

  /** Moves work forward: connects if needed, opens the stream, writes queued batches, starts a snapshot. */
  private pump(): void {
    if (this.closed || this.backoffTimer !== null) return;
    if (this.queue.length === 0 && this.snapshot === null && !this.persistent) return;
    if (this.session === null) {
      this.connect();
      return;
    }
    if (!this.sessionReady) return;
    if (this.snapshot !== null && this.snapshot.done === null)
      this.startSnapshot(this.session, this.snapshot);
    if (this.stream === null && (this.queue.length > 0 || this.persistent)) this.openStream(this.session);
    if (this.queue.length > 0) this.writeQueued();
  }

  private connect(): void {
    assert(this.session === null, "connect with a session open");
    const { origin } = parsePeerUrl(this.url);
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(origin, {
        ca: this.opts.tls.caPem,
        cert: this.opts.tls.certPem,
        key: this.opts.tls.keyPem,
        settings: { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES },
        // Raft messages are small and latency-bound: no Nagle delay (Go's TCP default, as etcd has).
        noDelay: true,
      } as http2.SecureClientSessionOptions);
    } catch (err) {
      this.fail(null, err as Error); // e.g. unusable TLS material: back off like any failure
      return;
    }
    this.session = session;
    this.sessionReady = false;
    this.liveSessions.add(session);
    this.dialTimer = setTimeout(() => {
      session.destroy(new Error(`no connection within ${this.opts.dialTimeoutMs} ms`));
    }, this.opts.dialTimeoutMs);
    session.once("connect", (_session, socket) => {
      if (this.session !== session) return;
      this.clearDialTimer();
      this.sessionReady = true;
      // Raft messages are small and latency-bound: no Nagle delay (etcd's Go TCP default too).
      // The socket argument, not session.socket: Bun forbids touching the latter.
      socket.setNoDelay(true);
      if (CAN_SET_HTTP2_WINDOW) session.setLocalWindowSize(HTTP2_INITIAL_WINDOW_BYTES);
      this.startPing(session);
      this.pump();
    });
    session.on("error", (err) => this.fail(session, err));
    session.once("close", () => {
      this.liveSessions.delete(session);
      this.fail(session, new Error("session closed"));
    });
  }

  private openStream(session: http2.ClientHttp2Session): void {
    const stream = session.request(
      {
        ":method": "POST",
        ":path": RAFT_STREAM_PATH,
        "content-type": FRAME_CONTENT_TYPE,
        [CLUSTER_ID_HEADER]: this.opts.clusterId,
        [MEMBER_ID_HEADER]: this.opts.memberId,
      },
      { endStream: false },
    );
    this.stream = stream;
    this.streamAccepted = false;
    let status = 0;
    const body = new ErrorBody();
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
      if (this.stream !== stream || status !== 200) return;
      this.streamAccepted = true;
      if (this.consecutiveFailures > 0) this.log.info({ url: this.url }, "peer stream re-established");
      else this.log.debug({ url: this.url }, "peer stream established");
      this.consecutiveFailures = 0;
      this.backoffMs = this.opts.reconnectMinMs;
    });
    const ended = (event: string) => {
      if (this.stream !== stream) return;
      if (status === 410) this.opts.onRemoved();
      const reason =
        status !== 0 && status !== 200
          ? `peer refused the message stream: HTTP ${status} ${body.text()}`
          : `message stream ${event} by peer (code ${stream.rstCode ?? "none"})`;
      this.fail(session, new Error(reason));
    };
    stream.on("data", (chunk: Buffer) => body.add(chunk));
    // The peer never ends its side of a healthy stream: an end is a refusal or a shutdown.
    stream.once("end", () => ended("ended"));
    stream.once("close", () => ended("closed"));
    stream.on("error", (err) => this.fail(session, err));
  }

  private writeQueued(): void {
    const stream = this.stream;
    if (stream === null || this.waitingDrain) return;
    while (this.queue.length > 0) {
      const batch = this.queue.takeBatch(MAX_BATCH_MESSAGES, BATCH_TARGET_BYTES);
      let payload: Uint8Array;
      try {
        payload = encodeMessages(batch);
      } catch (err) {
        this.counters.droppedMessages += batch.length;
        this.log.error({ err }, "cannot encode messages; dropped");
        continue;
      }
      if (payload.byteLength > MAX_STREAM_FRAME_BYTES) {
        // The batch estimate keeps multi-message batches far below the limit: this is one huge message.
        this.counters.droppedMessages += batch.length;
        this.log.error(
          { bytes: payload.byteLength, maxBytes: MAX_STREAM_FRAME_BYTES, type: batch[0]?.type },
          "message exceeds the largest stream frame; dropped",
        );
        continue;
      }
      const more = stream.write(encodeFrame(payload));
      this.counters.sentMessages += batch.length;
      this.counters.sentFrames++;
      if (!more) {
        // Backpressure: let messages accumulate in the bounded queue until the stream drains.
        this.waitingDrain = true;
        stream.once("drain", () => {
          if (this.stream !== stream) return;
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  private startSnapshot(session: http2.ClientHttp2Session, pending: PendingSnapshot): void {
    const sent = postSnapshot(session, {
      headers: { [CLUSTER_ID_HEADER]: this.opts.clusterId, [MEMBER_ID_HEADER]: this.opts.memberId },
      messageFrame: pending.frame,
      data: pending.data,
      idleTimeoutMs: this.opts.snapshotIdleTimeoutMs,
      log: this.log,
    });
    pending.done = sent.then((ok) => pending.finish(ok));
  }

  private startPing(session: http2.ClientHttp2Session): void {
    this.pingOutstanding = false;
    this.pingTimer = setInterval(() => {
      if (this.session !== session) return;
      if (this.pingOutstanding) {
        session.destroy(new Error(`no PING acknowledgement within ${this.opts.pingIntervalMs} ms`));
        return;
      }
      this.pingOutstanding = true;
      session.ping((err) => {
        if (err === null && this.session === session) this.pingOutstanding = false;
      });
    }, this.opts.pingIntervalMs);
  }

  /** Handles a failure of `session` (or its stream): tear down, report once, back off. */
  private fail(session: http2.ClientHttp2Session | null, err: Error): void {
    if (this.closed || this.session !== session) return; // stale event of an earlier session
    this.consecutiveFailures++;
    this.counters.failures++;
    const fields = { url: this.url, err: err.message, retryInMs: this.backoffMs };
    if (this.consecutiveFailures === 1) this.log.warn(fields, "peer unreachable");
    else this.log.debug(fields, "peer still unreachable");
    this.teardown();
    this.opts.onUnreachable();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.pump();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.reconnectMaxMs);
  }

  /** Closes the current session and stream; a waiting snapshot fails. */
  private teardown(): void {
    this.clearDialTimer();
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const session = this.session;
    const stream = this.stream;
    this.session = null;
    this.stream = null;
    this.sessionReady = false;
    this.streamAccepted = false;
    this.waitingDrain = false;
    if (this.snapshot !== null && this.snapshot.done === null) this.snapshot.finish(false);
    stream?.destroy();
    session?.destroy(); // an in-flight snapshot request closes with it and reports failure
  }

  private clearDialTimer(): void {
    if (this.dialTimer !== null) clearTimeout(this.dialTimer);
    this.dialTimer = null;
  }

  private clearBackoff(): void {
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }
}
