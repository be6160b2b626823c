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
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.ts";

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

/** The key-value and cluster operations of one node. */
export interface KvService {
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
}
