/**
 * Peer transport of Raft messages. The implementation (src/transport/http2.ts) uses one
 * long-lived HTTP/2 session per peer over TLS with mandatory client certificates (mutual TLS)
 * signed by the cluster CA, and a binary codec (msgpackr). A slow or dead peer never blocks the
 * others: each peer has a bounded queue; when it is full new messages to that peer are dropped
 * and Raft retries (etcd rafthttp does the same, streamBufSize).
 */
import type { Logger } from "pino";
import type { Message, NodeId } from "../raft/types.ts";

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
  /** Called for each message received from a peer of the same cluster. */
  onMessage: (msg: Message) => void;
  /** Called when sending to a peer failed or its queue overflowed (feed to Raft's reportUnreachable). */
  onUnreachable?: (peer: NodeId) => void;
  /** Most queued messages per peer before dropping; default MAX_PEER_QUEUE_MESSAGES. */
  maxQueueMessages?: number;
  /**
   * Called once per MsgSnap handed to send(): ok=true when the peer acknowledged it (HTTP 200),
   * false when it could not be delivered (feed to Raft's reportSnapshot, etcd: SnapshotFinish /
   * SnapshotFailure).
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
  /** Queues messages for their peers; never blocks, never throws for a down peer. */
  send(messages: Message[]): void;
  /** Replaces the set of peers (membership change). */
  setPeers(peers: Map<NodeId, string[]>): void;
  /**
   * Asks a peer URL for its cluster id (GET /cairn/cluster over mTLS), to refuse joining another
   * cluster. Resolves null when the peer cannot be reached.
   */
  probeClusterId(peerUrl: string): Promise<string | null>;
  /** Asks a peer URL for its cluster id and member list; null when it cannot be reached. */
  probePeer(peerUrl: string): Promise<PeerClusterInfo | null>;
  stop(): Promise<void>;
}
