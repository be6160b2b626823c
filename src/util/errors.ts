/**
 * Typed errors of Cairn. Every layer throws a {@link CairnError} with a stable `code`;
 * the API's single error mapper (src/api/errors.ts) turns the code into an HTTP status and
 * the JSON body `{error:{code,message}}`. Codes and messages follow etcd's where etcd has one
 * (etcd: api/v3rpc/rpctypes/error.go).
 */
export type ErrorCode =
  /** Malformed request: bad JSON, wrong type, empty key, bad range. HTTP 400. */
  | "invalid_argument"
  /** A value declared JSON/YAML/TOML that does not parse. HTTP 400. */
  | "invalid_value"
  /** Request, key or value over a limit (util/limits.ts). HTTP 413. */
  | "payload_too_large"
  /** Key absent. HTTP 404. */
  | "key_not_found"
  /** Conditional write (If-Match / If-None-Match) failed. HTTP 412. */
  | "precondition_failed"
  /** Read at a revision older than the compacted revision (etcd: ErrCompacted). HTTP 410. */
  | "compacted"
  /** Read at a revision newer than the current revision (etcd: ErrFutureRev). HTTP 400. */
  | "future_revision"
  /** No leader known yet after the bounded wait (etcd: ErrNoLeader). HTTP 503, retryable. */
  | "no_leader"
  /** This node lost leadership while the request was in flight (etcd: ErrLeaderChanged). HTTP 503, retryable. */
  | "leader_changed"
  /** The proposal was not applied within the request timeout (etcd: ErrTimeout). HTTP 503, retryable. */
  | "timeout"
  /** Too many proposals waiting on this member (etcd: ErrTooManyRequests). HTTP 429, retryable. */
  | "too_many_requests"
  /** The node is shutting down (hashicorp/raft: ErrRaftShutdown). HTTP 503, retryable. */
  | "stopped"
  /** Route or member not found. HTTP 404. */
  | "not_found"
  /** The leader is handing leadership over and takes no proposal meanwhile (etcd: ErrProposalDropped). HTTP 503, retryable. */
  | "leader_transferring"
  /** A membership change is proposed while the previous one is not applied yet (thesis §4.1). HTTP 409. */
  | "conf_change_pending"
  /** A member with this id or these peer URLs is already in the cluster (etcd: ErrMemberExist, ErrPeerURLexists). HTTP 409. */
  | "member_exists"
  /** No member with this id (etcd: ErrMemberNotFound). HTTP 404. */
  | "member_not_found"
  /** Promotion of a member that is not a learner, or of a learner not caught up with the leader (etcd: ErrMemberNotLearner, ErrLearnerNotReady). HTTP 409. */
  | "learner_not_ready"
  /** The change would leave the cluster without a quorum of started, connected voters (etcd: ErrUnhealthy). HTTP 409. */
  | "unhealthy_cluster"
  /** This member was removed from the cluster (etcd: ErrMemberRemoved / rafthttp 410). HTTP 410. */
  | "member_removed"
  /** No lease with this id: never granted, revoked or expired (etcd: ErrLeaseNotFound). HTTP 404. */
  | "lease_not_found"
  /** A grant names the id of a lease that exists (etcd: ErrLeaseExists). HTTP 409. */
  | "lease_exists"
  /** A grant's TTL is above the largest one (etcd: ErrLeaseTTLTooLarge, MaxLeaseTTL). HTTP 400. */
  | "lease_ttl_too_large"
  /** A lock or campaign wait ran out of time or its client left (gRPC DeadlineExceeded: "context deadline exceeded"). HTTP 408. */
  | "deadline_exceeded"
  /** A lock or campaign key vanished while it waited: its lease expired or was revoked (etcd concurrency.ErrSessionExpired). HTTP 410. */
  | "session_expired"
  /** An election has no candidate (etcd concurrency.ErrElectionNoLeader, "election: no leader"). HTTP 404. */
  | "election_no_leader"
  /** Proclaim by a key that no longer leads: deleted or re-created (etcd concurrency.ErrElectionNotLeader). HTTP 412. */
  | "election_not_leader"
  /** Anything else: a bug. HTTP 500. */
  | "internal";

/** Error codes a client may retry on another endpoint or after a back-off. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set([
  "no_leader",
  "leader_changed",
  "timeout",
  "stopped",
  "too_many_requests",
  "leader_transferring",
]);

/**
 * The one error type thrown across layers.
 * @param code stable machine-readable code (see {@link ErrorCode})
 * @param message human-readable explanation, safe to show to a client
 * @param details optional structured extras (e.g. `{compactRevision}` for "compacted")
 */
export class CairnError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "CairnError";
  }

  /** True when the same request may succeed if retried (after a back-off or on another endpoint). */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}

/** Shorthand for `new CairnError("invalid_argument", message)`. */
export function invalidArgument(message: string): CairnError {
  return new CairnError("invalid_argument", message);
}
