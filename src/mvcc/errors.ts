/**
 * The client-visible errors of the MVCC store, with etcd's messages
 * (etcd server/storage/mvcc/kvstore.go, api/v3rpc/rpctypes/error.go, etcdserver/errors.go).
 */
import { CairnError } from "../util/errors.ts";

/** Read or compaction at a revision below the compacted revision (etcd mvcc.ErrCompacted). */
export function compactedError(compactRevision: number): CairnError {
  return new CairnError("compacted", "mvcc: required revision has been compacted", { compactRevision });
}

/** Read or compaction at a revision above the current revision (etcd mvcc.ErrFutureRev). */
export function futureRevisionError(revision: number, currentRevision: number): CairnError {
  return new CairnError("future_revision", "mvcc: required revision is a future revision", {
    revision,
    currentRevision,
  });
}

/** Put with ignore_value / ignore_lease on a key that does not exist (etcd ErrKeyNotFound). */
export function keyNotFoundError(): CairnError {
  return new CairnError("key_not_found", "etcdserver: key not found");
}

/** Request without a key (etcd ErrGRPCEmptyKey). */
export function emptyKeyError(): CairnError {
  return new CairnError("invalid_argument", "etcdserver: key is not provided");
}

/** Txn that writes one key twice or puts a key it also deletes (etcd ErrGRPCDuplicateKey). */
export function duplicateKeyError(): CairnError {
  return new CairnError("invalid_argument", "etcdserver: duplicate key given in txn request");
}

/** Lease id unknown: never granted, revoked, or expired (etcd lease.ErrLeaseNotFound, gRPC NotFound). */
export function leaseNotFoundError(): CairnError {
  return new CairnError("lease_not_found", "etcdserver: requested lease not found");
}

/** Grant with the id of a lease that exists (etcd lease.ErrLeaseExists, gRPC FailedPrecondition). */
export function leaseExistsError(): CairnError {
  return new CairnError("lease_exists", "etcdserver: lease already exists");
}

/** Grant with a TTL above MAX_LEASE_TTL_SECONDS (etcd lease.ErrLeaseTTLTooLarge, gRPC OutOfRange). */
export function leaseTtlTooLargeError(): CairnError {
  return new CairnError("lease_ttl_too_large", "etcdserver: too large lease TTL");
}
