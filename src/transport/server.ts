/**
 * The receiving side of the peer transport: an HTTP/2 listener over TLS that demands a client
 * certificate signed by the cluster CA (refused at the handshake otherwise), checks the sender's
 * cluster id on every Raft request (412 "request cluster ID mismatch", as etcd rafthttp), and
 * decodes frames of messages incrementally.
 *
 * Routes:
 * - POST /cairn/raft/stream: long-lived; body = frames (≤ MAX_STREAM_FRAME_BYTES each); answered
 *   200 at once and kept open; a bad frame closes the stream with PROTOCOL_ERROR.
 * - POST /cairn/raft/snapshot: body = the MsgSnap frame (empty snapshot.data, ≤
 *   MAX_SNAPSHOT_MESSAGE_BYTES), chunk frames of its state (≤ MAX_SNAPSHOT_CHUNK_BYTES each) and an
 *   end frame with the byte count and CRC-32 (format in snapshot-wire.ts). Read pull-based: the
 *   state goes to onSnapshot chunk by chunk as it consumes it (HTTP/2 flow control holds the sender
 *   back meanwhile), or is collected (≤ MAX_BUFFERED_SNAPSHOT_BYTES) for onMessage. Answered 200
 *   once onSnapshot resolved (or onMessage returned); 400 malformed, truncated or corrupt; 413 too
 *   large; 500 onSnapshot rejected; reset when idle for snapshotIdleTimeoutMs.
 * - GET /cairn/cluster: `{"clusterId","memberId","members"}` (for probePeer).
 * - A Raft request from a removed member is refused with 410 (etcd rafthttp), so it stops.
 */
import http2 from "node:http2";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { Message, NodeId } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { concatBytes } from "../util/bytes.ts";
import { FrameDecoder, FrameTooLargeError } from "../util/framing.ts";
import { CodecError, decodeMessages } from "./codec.ts";
import {
  CAN_SET_HTTP2_WINDOW,
  HTTP2_CONNECTION_WINDOW_BYTES,
  HTTP2_INITIAL_WINDOW_BYTES,
  MAX_BUFFERED_SNAPSHOT_BYTES,
  MAX_SNAPSHOT_DATA_BYTES,
  MAX_STREAM_FRAME_BYTES,
} from "./limits.ts";
import {
  CLUSTER_ID_HEADER,
  CLUSTER_ID_MISMATCH_MESSAGE,
  CLUSTER_PATH,
  MEMBER_ID_HEADER,
  MEMBER_REMOVED_MESSAGE,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PATH,
} from "./protocol.ts";
import { SnapshotBodyReader, SnapshotStreamError } from "./snapshot-wire.ts";
import type { PeerMember, PeerTlsConfig, TransportOptions } from "./types.ts";

/** A sending member id: 16 lowercase hex digits. */
const MEMBER_ID = /^[0-9a-f]{16}$/;

/** Options of a {@link PeerServer}. */
export interface PeerServerOptions {
  clusterId: string;
  memberId: NodeId;
  tls: PeerTlsConfig;
  /** Host to listen on (no brackets) and port (0: any free port). */
  host: string;
  port: number;
  logger: Logger;
  /** Called for every valid message addressed to this member, in the order received per stream. */
  onMessage: (message: Message) => void;
  /** Receives each MsgSnap with its state streamed (see TransportOptions.onSnapshot); absent: collected for onMessage. */
  onSnapshot?: TransportOptions["onSnapshot"];
  /** Members reported on GET /cairn/cluster. */
  members: () => PeerMember[];
  /** True for a removed member id: its Raft requests get 410. */
  isRemovedMember: (id: NodeId) => boolean;
  /** A snapshot request on which nothing was sent or received for this long (ms) is reset. */
  snapshotIdleTimeoutMs: number;
  /**
   * Test failpoints only (failpoints.ts): true when messages from this peer must be dropped; its
   * stream messages vanish, its snapshot requests get 503. Absent: nothing is dropped.
   */
  dropFrom?: (peer: NodeId) => boolean;
}

/** HTTP/2 listener of one member. */
export class PeerServer {
  private readonly server: http2.Http2SecureServer;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Every accepted TCP connection, including those still in their TLS handshake. */
  private readonly sockets = new Set<Socket>();
  private readonly log: Logger;
  private listening = false;
  private closed = false;

  constructor(private readonly opts: PeerServerOptions) {
    this.log = opts.logger;
    this.server = http2.createSecureServer({
      cert: opts.tls.certPem,
      key: opts.tls.keyPem,
      ca: opts.tls.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      allowHTTP1: false,
      settings: { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES },
    });
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.once("close", () => this.sockets.delete(socket));
    });
    this.server.on("session", (session) => {
      if (this.closed) {
        session.destroy();
        return;
      }
      this.sessions.add(session);
      if (CAN_SET_HTTP2_WINDOW) session.setLocalWindowSize(HTTP2_CONNECTION_WINDOW_BYTES);
      session.once("close", () => this.sessions.delete(session));
      session.on("error", (err) => this.log.debug({ err: err.message }, "peer session error"));
    });
    this.server.on("stream", (stream, headers) => this.route(stream, headers));
    this.server.on("tlsClientError", (err, socket) => {
      this.log.warn({ err: err.message, remote: socket.remoteAddress }, "peer refused at the TLS handshake");
    });
    this.server.on("unknownProtocol", (socket) => {
      this.log.warn({ remote: socket.remoteAddress }, "peer connection without HTTP/2 refused");
      socket.destroy();
    });
  }

  /** Binds the listener. @throws Error (e.g. EADDRINUSE) when the address cannot be bound */
  start(): Promise<void> {
    assert(!this.listening && !this.closed, "peer server started twice");
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off("error", onError);
        this.server.on("error", (err) => this.log.error({ err }, "peer listener error"));
        this.listening = true;
        resolve();
      });
    });
  }

  /** Bound TCP port (after start). */
  port(): number {
    const address = this.server.address();
    assert(address !== null && typeof address === "object", "peer server is not listening");
    return address.port;
  }

  /** Stops listening and destroys every peer session; resolves when the listener has closed. */
  close(): Promise<void> {
    this.closed = true;
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy(); // e.g. a handshake stalled by a frozen peer
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private route(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", (err) => this.log.debug({ err: err.message }, "peer stream error"));
    const method = headers[":method"];
    const path = (headers[":path"] ?? "").split("?")[0];
    if (path === CLUSTER_PATH) {
      if (method !== "GET") {
        this.refuse(stream, 405, "method not allowed");
        return;
      }
      this.respondJson(stream, {
        clusterId: this.opts.clusterId,
        memberId: this.opts.memberId,
        members: this.opts.members(),
      });
      return;
    }
    if (path !== RAFT_STREAM_PATH && path !== RAFT_SNAPSHOT_PATH) {
      this.refuse(stream, 404, "not found");
      return;
    }
    if (method !== "POST") {
      this.refuse(stream, 405, "method not allowed");
      return;
    }

    const remoteClusterId = headers[CLUSTER_ID_HEADER];
    const remoteMemberId = headers[MEMBER_ID_HEADER];
    if (remoteClusterId !== this.opts.clusterId) {
      this.log.warn(
        { localClusterId: this.opts.clusterId, remoteClusterId, remoteMemberId, path },
        CLUSTER_ID_MISMATCH_MESSAGE,
      );
      this.refuse(stream, 412, CLUSTER_ID_MISMATCH_MESSAGE);
      return;
    }
    if (typeof remoteMemberId !== "string" || !MEMBER_ID.test(remoteMemberId)) {
      this.refuse(stream, 400, `missing or invalid ${MEMBER_ID_HEADER}`);
      return;
    }
    if (this.opts.isRemovedMember(remoteMemberId)) {
      this.log.warn({ remoteMemberId }, "refused a request of a removed member");
      this.refuse(stream, 410, MEMBER_REMOVED_MESSAGE);
      return;
    }
    if (path === RAFT_SNAPSHOT_PATH && this.opts.dropFrom?.(remoteMemberId)) {
      this.refuse(stream, 503, "snapshot dropped by a test failpoint");
      return;
    }
    if (path === RAFT_STREAM_PATH) this.receiveStream(stream, remoteMemberId);
    else void this.receiveSnapshot(stream, remoteMemberId);
  }

  /** Long-lived stream: deliver messages frame by frame until the sender ends it. */
  private receiveStream(stream: http2.ServerHttp2Stream, from: NodeId): void {
    stream.respond({ ":status": 200, ...this.identityHeaders() });
    const decoder = new FrameDecoder(MAX_STREAM_FRAME_BYTES);
    let broken = false;
    const onFrame = (frame: Buffer) => {
      for (const message of decodeMessages(frame)) this.deliver(message, from);
    };
    stream.on("data", (chunk: Buffer) => {
      if (broken) return;
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        if (!(err instanceof FrameTooLargeError || err instanceof CodecError)) throw err;
        broken = true;
        this.log.warn({ from, err: err.message }, "bad frame on peer stream; closing it");
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    stream.once("end", () => {
      if (decoder.pendingBytes > 0 && !broken) {
        this.log.warn({ from, bytes: decoder.pendingBytes }, "peer stream ended inside a frame");
      }
      if (!stream.closed) stream.end();
    });
  }

  /**
   * One snapshot per request: read its MsgSnap, hand the state to onSnapshot as it arrives (or
   * collect it for onMessage), then answer. Never rejects.
   */
  private async receiveSnapshot(stream: http2.ServerHttp2Stream, from: NodeId): Promise<void> {
    const onSnapshot = this.opts.onSnapshot;
    const reader = new SnapshotBodyReader(
      stream,
      onSnapshot ? MAX_SNAPSHOT_DATA_BYTES : MAX_BUFFERED_SNAPSHOT_BYTES,
    );
    const idleMs = this.opts.snapshotIdleTimeoutMs;
    stream.setTimeout(idleMs, () => {
      reader.abort(new SnapshotStreamError("aborted", `snapshot request idle for ${idleMs} ms`));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    const data = reader.chunks();
    try {
      const message = await reader.readMessage();
      if (!this.accepts(message, from)) {
        this.refuse(stream, 400, "snapshot message not for this member");
        return;
      }
      if (onSnapshot !== undefined) {
        await onSnapshot(message, data);
        if (!reader.complete) throw new Error("onSnapshot resolved before the end of the snapshot data");
      } else {
        const collected = { ...message, snapshot: { ...message.snapshot!, data: await concat(data) } };
        this.deliver(collected, from);
      }
    } catch (err) {
      this.refuseSnapshot(stream, from, reader.failure, err as Error);
      return;
    } finally {
      void data.return(undefined); // the consumer may have stopped early: release the reader
    }
    if (stream.closed) return;
    stream.respond({ ":status": 200, "content-type": "text/plain", ...this.identityHeaders() });
    stream.end("ok");
  }

  /** Answers a failed snapshot request: the stream's own failure decides the status, else 500. */
  private refuseSnapshot(
    stream: http2.ServerHttp2Stream,
    from: NodeId,
    failure: SnapshotStreamError | null,
    err: Error,
  ): void {
    if (failure !== null) {
      this.log.warn({ from, reason: failure.reason, err: failure.message }, "snapshot request rejected");
      if (failure.status === 0) stream.close(http2.constants.NGHTTP2_CANCEL);
      else this.refuse(stream, failure.status, failure.message);
      return;
    }
    this.log.warn({ from, err: err.message }, "snapshot not staged by onSnapshot");
    this.refuse(stream, 500, `snapshot not staged: ${err.message}`);
  }

  /** True when `message` is addressed to this member by `from` and not dropped by a failpoint. */
  private accepts(message: Message, from: NodeId): boolean {
    if (this.closed || this.opts.dropFrom?.(from)) return false;
    if (message.to !== this.opts.memberId || message.from !== from) {
      this.log.warn(
        { type: message.type, from: message.from, to: message.to, sender: from },
        "message not addressed to this member by its sender; dropped",
      );
      return false;
    }
    return true;
  }

  /** Hands a message to onMessage if {@link accepts} it. */
  private deliver(message: Message, from: NodeId): void {
    if (!this.accepts(message, from)) return;
    try {
      this.opts.onMessage(message);
    } catch (err) {
      this.log.error({ err, type: message.type, from }, "onMessage threw");
    }
  }

  private identityHeaders(): Record<string, string> {
    return { [CLUSTER_ID_HEADER]: this.opts.clusterId, [MEMBER_ID_HEADER]: this.opts.memberId };
  }

  private respondJson(stream: http2.ServerHttp2Stream, body: unknown): void {
    if (stream.closed || stream.headersSent) return;
    stream.respond({ ":status": 200, "content-type": "application/json", ...this.identityHeaders() });
    stream.end(JSON.stringify(body));
  }

  /** Answers with an error status and text, then resets the stream so the sender stops uploading. */
  private refuse(stream: http2.ServerHttp2Stream, status: number, text: string): void {
    if (stream.closed || stream.destroyed) return;
    if (!stream.headersSent) {
      stream.respond({ ":status": status, "content-type": "text/plain", ...this.identityHeaders() });
    }
    stream.end(text, () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
  }
}

/** The chunks joined into one plain Uint8Array (its length bounded by the reader's limit). */
async function concat(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return concatBytes(parts);
}
