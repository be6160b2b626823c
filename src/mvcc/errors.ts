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
