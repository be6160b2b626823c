/**
 * What one node offers to the client API (src/api) and to in-process tests. Implemented by
 * src/server/node.ts (`CairnNode`). Every method may reject with CairnError (src/util/errors.ts):
 * "no_leader" / "timeout" / "leader_changed" / "stopped" (retryable), "compacted",
 * "future_revision", "invalid_argument", "key_not_found".
 */
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.ts";
import type { WatchRequest } from "../mvcc/watch-request.ts";
import type { WatchStream } from "../mvcc/watcher.ts";

/** Consistency of a read: linearizable goes through ReadIndex (Raft thesis §6.4); serializable reads local state. */
export type ReadConsistency = "linearizable" | "serializable";

/** A member of the cluster as `member list` shows it (etcd etcdserverpb.Member). */
export interface MemberInfo {
  /** 16 hex digits. */
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  /** False until the member has started and published its name and client URLs (etcdctl: "unstarted"). */
  started: boolean;
}

/** `endpoint status` of one node (etcd StatusResponse + Cairn's applied index and revision). */
export interface NodeStatus {
  clusterId: string;
  memberId: string;
  name: string;
  version: string;
  /** Leader's member id, "" when none is known. */
  leader: string;
  isLeader: boolean;
  isLearner: boolean;
  raftTerm: number;
  /** Last log index (etcd "raft index"). */
  raftIndex: number;
  commitIndex: number;
  appliedIndex: number;
  /** Current store revision. */
  revision: number;
  compactRevision: number;
  /**
   * History entries held in memory (every retained put and delete of every key). Grows with
   * writes, shrinks with compaction (manual or --auto-compaction-*): the bound on history memory.
   */
  historyEntries: number;
  /** Approximate bytes held by keys, values and history (estimate; compaction lowers it). */
  historyBytes: number;
  /** Keys that exist at the current revision. */
  keyCount: number;
  /** Leases that exist. */
  leaseCount: number;
  /** Bytes on disk used by WAL and snapshots. */
  dbSizeBytes: number;
  /** Problems this node sees (e.g. "no leader"), as etcd's StatusResponse.errors. */
  errors: string[];
}

/** Header fields every etcd-gateway response carries (etcd ResponseHeader). */
export interface ClusterHeader {
  clusterId: string;
  memberId: string;
  raftTerm: number;
}

/** etcd LeaseKeepAliveResponse: the lease renewed and its TTL in seconds. */
export interface LeaseKeepAliveResponse {
  header: { revision: number };
  id: number;
  ttl: number;
}

/** etcd LeaseTimeToLiveResponse (as the leader answers it). */
export interface LeaseTimeToLiveResponse {
  header: { revision: number };
  id: number;
  /** Remaining seconds (truncated; 0 once expired but not yet revoked). */
  ttl: number;
  /** The TTL the lease was granted with (seconds). */
  grantedTtl: number;
  /** Attached keys, sorted by bytes; only when asked for. */
  keys?: Uint8Array[];
}

/** etcd LeaseLeasesResponse, with each lease's granted TTL (a Cairn addition). */
export interface LeaseLeasesResponse {
  header: { revision: number };
  leases: { id: number; ttl: number }[];
}

/**
 * Leases (etcd Lease service, etcdserver v3_server.go). Grant and revoke go through Raft from any
 * member. Keep-alive and time-to-live need the expiry times, which only the leader holds: on
 * another member they fail with "leader_changed" (the API forwards them to the leader first). The
 * list is served from the member's applied state, as etcd does.
 */
export interface LeaseService {
  /**
   * Grants a lease (etcd LeaseGrant). `ttl` below the minimum (etcd's minLeaseTTL, see
   * server/lessor.ts minLeaseTtlSeconds) is raised to it; `id` 0 or absent picks a free id.
   * @throws CairnError "invalid_argument" (id not in 0 ..= 2^53-1, ttl not an integer),
   *   "lease_ttl_too_large", "lease_exists", "too_many_requests" (MAX_LEASES), retryable errors
   */
  leaseGrant(req: { ttl: number; id?: number }): Promise<LeaseGrantResponse>;
  /**
   * Revokes a lease and deletes its keys in one revision (etcd LeaseRevoke).
   * @throws CairnError "lease_not_found", retryable errors
   */
  leaseRevoke(id: number): Promise<LeaseRevokeResponse>;
  /**
   * Renews a lease to its full TTL (etcd LeaseKeepAlive, one request). Leader only; an expired
   * lease waiting for its revoke answers "lease_not_found" once revoked (etcd Renew).
   * @throws CairnError "lease_not_found", "leader_changed" (not the leader), "timeout", "stopped"
   */
  leaseKeepAlive(id: number): Promise<LeaseKeepAliveResponse>;
  /**
   * Remaining and granted TTL of a lease, with its keys when `keys` (etcd LeaseTimeToLive). Leader only.
   * @throws CairnError "lease_not_found", "leader_changed", "timeout", "stopped"
   */
  leaseTimeToLive(id: number, keys: boolean): Promise<LeaseTimeToLiveResponse>;
  /** Every lease of this member's applied state, ascending by id (etcd LeaseLeases). */
  leaseLeases(): Promise<LeaseLeasesResponse>;
}

/** The key-value and cluster operations of one node. */
export interface KvService extends LeaseService {
  range(req: RangeRequest, consistency: ReadConsistency): Promise<RangeResponse>;
  put(req: PutRequest): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  /** Read-only txns (only range ops) may be served like reads; others go through Raft. */
  txn(req: TxnRequest, consistency?: ReadConsistency): Promise<TxnResponse>;
  compact(req: CompactionRequest): Promise<CompactionResponse>;
  members(): Promise<MemberInfo[]>;
  status(): Promise<NodeStatus>;
  /** Healthy = a leader is known and a linearizable no-op read succeeds within the timeout. */
  health(): Promise<{ health: boolean; reason?: string }>;
  /** Current cluster id, member id and term, for response headers. */
  header(): ClusterHeader;
  /** This member's current store revision (its applied state), for response headers. */
  localRevision(): number;
  /**
   * Opens a watch (etcd Watch) on this member's applied state, without going through the leader:
   * the events of every revision from `req.startRevision` (0/absent: from this member's next
   * revision), replayed from history first when it is in the past, then live. The stream's
   * messages (src/mvcc/watcher.ts WatchMessage) are whole revisions in order, progress
   * notifications, and one final "compacted" (start at or below the compact revision) or
   * "cancelled" (slow consumer past MAX_WATCH_BUFFER_BYTES, member stopping: resume from the
   * revision it names). The caller must close() the stream when done with it.
   * @throws CairnError "invalid_argument" (bad key, start revision or filter), "too_many_requests"
   *   (past MAX_WATCHERS), "stopped"
   */
  watch(req: WatchRequest): WatchStream;
}

/** A member to add (etcd MemberAddRequest). */
export interface MemberAddRequest {
  /** Peer URLs of the new member (https://host:port), at least one, none used by another member. */
  peerUrls: string[];
  /** Add as a learner (replicates, does not vote) instead of a voter. */
  isLearner: boolean;
}

/** Result of a membership change: the member concerned (add) and the member list after it. */
export interface MemberChangeResult {
  member?: MemberInfo;
  members: MemberInfo[];
}

/**
 * Runtime membership and leadership of the cluster (etcd Cluster and Maintenance.MoveLeader
 * services). Changes run on the leader, one at a time (Raft thesis §4.1): call them on the member
 * for which isLeader() is true (the API forwards to the leader's client URL otherwise). Every method
 * may reject with CairnError: "no_leader", "leader_changed", "timeout" (retryable),
 * "conf_change_pending", "member_exists", "member_not_found", "learner_not_ready",
 * "unhealthy_cluster", "invalid_argument".
 */
export interface ClusterService {
  /** True when this member is the leader. */
  isLeader(): boolean;
  /** Client URLs the current leader published, [] when no leader is known or it has not published. */
  leaderClientUrls(): string[];
  /**
   * Adds a member (voter or learner). Its id is chosen by the leader; the member list then shows it
   * unstarted until the new process starts with --initial-cluster-state existing.
   * A voter is refused when the cluster would not keep a quorum of started voters (etcd strict
   * reconfiguration check).
   */
  memberAdd(req: MemberAddRequest): Promise<MemberChangeResult>;
  /** Removes a member; refused when the remaining started, connected voters would not be a quorum. */
  memberRemove(id: string): Promise<MemberChangeResult>;
  /** Replaces a member's peer URLs (etcd MemberUpdate). */
  memberUpdate(id: string, peerUrls: string[]): Promise<MemberChangeResult>;
  /** Promotes a learner that has caught up with the leader to a voter (etcd MemberPromote). */
  memberPromote(id: string): Promise<MemberChangeResult>;
  /**
   * Hands leadership to voter `targetId` (Raft thesis §3.10) and resolves once it leads.
   * @throws CairnError "timeout" when the transfer does not complete within an election timeout
   *   or two (etcd ErrTimeoutLeaderTransfer), "member_not_found" / "invalid_argument" for a target
   *   that is not a voter of the cluster
   */
  moveLeader(targetId: string): Promise<void>;
}
