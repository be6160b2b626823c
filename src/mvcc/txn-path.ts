/**
 * The two steps of a txn that run before anything is written (etcd server/etcdserver/txn/txn.go
 * compareToPath and checkRequests). Both read the state as of the txn's start, so a failing txn
 * changes nothing:
 * 1. the path: the outcome of the compares of the txn and of every nested txn on the branch taken,
 *    in depth-first order. As in etcd, nested compares see the state before the txn, not its writes.
 * 2. the checks of the ops on that path: ranges at a revision that is compacted or in the future,
 *    puts with ignoreValue/ignoreLease on a missing key, puts to a lease that does not exist.
 */
import { evaluateCompares } from "./compare.ts";
import { keyNotFoundError, leaseNotFoundError } from "./errors.ts";
import type { KeyIndex } from "./key-index.ts";
import { keyString } from "./keys.ts";
import { resolveReadRevision } from "./range.ts";
import type { RequestOp, TxnRequest } from "./types.ts";

/** The ops a txn runs given the outcome of its compares. */
export function branchOf(req: TxnRequest, succeeded: boolean): RequestOp[] {
  return succeeded ? req.success : req.failure;
}

/**
 * The compare outcomes of `req` and its nested txns on the taken branches, depth-first
 * (etcd compareToPath), all evaluated at `revision`.
 */
export function txnPath(index: KeyIndex, req: TxnRequest, revision: number): boolean[] {
  const succeeded = evaluateCompares(index, req.compare, revision);
  const path = [succeeded];
  for (const op of branchOf(req, succeeded)) {
    if ("requestTxn" in op) path.push(...txnPath(index, op.requestTxn, revision));
  }
  return path;
}

/** What the put checks need to know about leases. */
export interface LeaseLookup {
  has(id: number): boolean;
}

/**
 * Checks every op on `path` against the state at `revision` (the txn's start) and the compacted
 * revision (etcd checkRequests).
 * @throws CairnError "future_revision" / "compacted" for a range at such a revision,
 *   "key_not_found" for a put with ignoreValue or ignoreLease on a missing key, "lease_not_found"
 *   for a put to a lease that does not exist
 */
export function checkTxnOps(
  index: KeyIndex,
  req: TxnRequest,
  path: readonly boolean[],
  revision: number,
  compactRevision: number,
  leases: LeaseLookup,
): void {
  let next = 0;
  const walk = (txn: TxnRequest): void => {
    const succeeded = path[next++]!;
    for (const op of branchOf(txn, succeeded)) {
      if ("requestRange" in op) {
        resolveReadRevision(op.requestRange.revision, revision, compactRevision);
      } else if ("requestPut" in op) {
        checkPutTarget(index, op.requestPut, revision, leases);
      } else if ("requestTxn" in op) {
        walk(op.requestTxn);
      }
    }
  };
  walk(req);
}

/**
 * A put with ignoreValue or ignoreLease needs the key to exist at `revision`, and a put with a
 * lease needs the lease to exist (etcd checkRequestPut).
 * @throws CairnError "key_not_found", "lease_not_found"
 */
export function checkPutTarget(
  index: KeyIndex,
  req: { key: Uint8Array; ignoreValue?: boolean; ignoreLease?: boolean; lease?: number },
  revision: number,
  leases: LeaseLookup,
): void {
  if (req.ignoreValue || req.ignoreLease) {
    if (index.get(keyString(req.key))?.visibleAt(revision) === undefined) throw keyNotFoundError();
  }
  const lease = req.lease ?? 0;
  if (lease !== 0 && !leases.has(lease)) throw leaseNotFoundError();
}
