/**
 * Peer transport of Raft messages. The implementation (src/transport/http2.ts) uses one
 * long-lived HTTP/2 session per peer over TLS with mandatory client certificates (mutual TLS)
 * signed by the cluster CA, and a binary codec (msgpackr). A slow or dead peer never blocks the
 * others: each peer has a bounded queue; when it is full new messages to that peer are dropped
 * and Raft retries (etcd rafthttp does the same, streamBufSize).
 */
import type { Logger } from "pino";
import type { Message, NodeId } from "../raft/types.ts";

/**
 * A snapshot's state bytes, read lazily in chunks (each at most MAX_SNAPSHOT_CHUNK_BYTES; any
 * iterable of Uint8Array). The transport slices larger chunks, skips empty ones, and copies each
 * before asking for the next, so a source may reuse one buffer.
 */
export type SnapshotChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A member as peers describe it to each other (GET /cairn/cluster). */
export interface PeerMember {
  id: NodeId;
  name: string;
  peerUrls: string[];
  isLearner: boolean;
}

/** What a peer says about its cluster (GET /cairn/cluster). */
export interface PeerClusterInfo {
  clusterId: string;
  memberId: NodeId;
  members: PeerMember[];
}

/** TLS material for the peer listener and dialer (PEM text). */
export interface PeerTlsConfig {
  certPem: string;
  keyPem: string;
  /** CA that signs every member's certificate; peers must present a certificate it signed. */
  caPem: string;
}

/** Options of a transport instance. */
export interface TransportOptions {
  clusterId: string;
  memberId: NodeId;
  /** URL to listen on for peers, e.g. https://127.0.0.1:2380. */
  listenPeerUrl: string;
  tls: PeerTlsConfig;
  /** Peer id → its advertised peer URLs (first one is used). Excludes this member. */
  peers: Map<NodeId, string[]>;
  /**
   * Called for each message received from a peer of the same cluster (a MsgSnap only when
   * `onSnapshot` is absent: then with its state collected into `snapshot.data`).
   */
  onMessage: (msg: Message) => void;
  /**
   * Receives one incoming MsgSnap whose `snapshot.data` is empty, with its state bytes as a stream of
   * chunks (each 1 … MAX_SNAPSHOT_CHUNK_BYTES bytes, views the callee may keep). The callee consumes
   * `data` to its end (e.g. writes it to a file) and resolves when it has staged it and handed the
   * message to Raft; the transport answers the sender 200 then, or 500 when it rejects (or resolves
   * before `data` ended). Iterating `data` throws a SnapshotStreamError (snapshot-wire.ts) when the
   * sender's stream is truncated, corrupt (checksum), too long (over MAX_SNAPSHOT_DATA_BYTES),
   * malformed, or aborted (reset, idle for SNAPSHOT_IDLE_TIMEOUT_MS, transport stopping); the callee
   * must then reject and clean up (the sender gets 400/413, or nothing when the request is gone).
   * Until `data` is read, the sender is held back by HTTP/2 flow control.
   * When absent, the transport collects the chunks (up to MAX_BUFFERED_SNAPSHOT_BYTES, else refuses
   * 413) into snapshot.data and calls onMessage (used by unit tests).
   */
  onSnapshot?: (message: Message, data: AsyncIterable<Uint8Array>) => Promise<void>;
  /** Called when sending to a peer failed or its queue overflowed (feed to Raft's reportUnreachable). */
  onUnreachable?: (peer: NodeId) => void;
  /** Most queued messages per peer before dropping; default MAX_PEER_QUEUE_MESSAGES. */
  maxQueueMessages?: number;
  /**
   * Called once per MsgSnap handed to send() or sendSnapshot(): ok=true when the peer acknowledged
   * it (HTTP 200), false when it could not be delivered (feed to Raft's reportSnapshot, etcd:
   * SnapshotFinish / SnapshotFailure). Not called after stop().
   */
  onSnapshotSent?: (peer: NodeId, ok: boolean) => void;
  /** Logger for connection events, refusals and protocol errors; none when absent. */
  logger?: Logger;
  /** Members this member knows, reported on GET /cairn/cluster (default: none). */
  members?: () => PeerMember[];
  /** True for a member id removed from the cluster: its requests are refused with 410 (etcd rafthttp). */
  isRemovedMember?: (id: NodeId) => boolean;
  /** A peer answered 410: this member was removed from the cluster and must stop. */
  onRemoved?: () => void;
}

/** A running peer transport. */
export interface Transport {
  /** Starts listening; resolves when the listener is bound. Throws if the port is taken. */
  start(): Promise<void>;
  /**
   * Queues messages for their peers; never blocks, never throws for a down peer. A MsgSnap with
   * inline `snapshot.data` is sent as sendSnapshot(message with empty data, () => [data]).
   */
  send(messages: Message[]): void;
  /**
   * Sends one MsgSnap on its own request (POST /cairn/raft/snapshot) with its state bytes streamed
   * from `data()` (called at most once, when the request starts: not at all when the snapshot is
   * reported failed before, e.g. another snapshot to that peer is in flight, the peer is in back-off
   * or unknown, or a failpoint drops it). Read with back-pressure, never buffered whole; its
   * iterator is closed (`return()`) when the request ends early, before the outcome is reported.
   * `message.snapshot.data` must be empty. Reports the outcome once through onSnapshotSent (unless
   * the transport is stopped first); never throws for a down peer.
   * @throws AssertionError when `message` is not a MsgSnap with a snapshot whose data is empty
   */
  sendSnapshot(message: Message, data: () => SnapshotChunks): void;
  /** Replaces the set of peers (membership change). */
  setPeers(peers: Map<NodeId, string[]>): void;
  /**
   * Asks a peer URL for its cluster id (GET /cairn/cluster over mTLS), to refuse joining another
   * cluster. Resolves null when the peer cannot be reached.
   */
  probeClusterId(peerUrl: string): Promise<string | null>;
  /** Asks a peer URL for its cluster id and member list; null when it cannot be reached. */
  probePeer(peerUrl: string): Promise<PeerClusterInfo | null>;
  /**
   * Closes every session and the listener; resolves once they have closed and the data iterators of
   * snapshots being sent have been closed (incoming ones: their onSnapshot data throws aborted).
   */
  stop(): Promise<void>;
}
