/**
 * Conditional writes of /v1 (If-Match / If-None-Match on PUT and DELETE). The condition and the
 * write become ONE txn (one Raft entry), so nothing can change the key between check and write:
 * compare on the key; success = the write; failure = a read of the key, whose result names the
 * key's current state in the 412 message. (etcd has no HTTP preconditions; this is the txn an
 * etcd client would send for compare-and-swap.)
 */
import type { Compare, RequestOp, TxnRequest, TxnResponse } from "../mvcc/types.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";
import type { EntityTagCondition } from "./query.ts";

/** The compares for the headers (AND-ed); empty when neither header is present. */
export function conditionCompares(
  key: Uint8Array,
  ifMatch: EntityTagCondition | undefined,
  ifNoneMatch: EntityTagCondition | undefined,
): Compare[] {
  const compares: Compare[] = [];
  if (ifMatch) {
    compares.push(
      ifMatch.any
        ? { key, target: "CREATE", result: "GREATER", createRevision: 0 }
        : { key, target: "MOD", result: "EQUAL", modRevision: ifMatch.modRevision },
    );
  }
  if (ifNoneMatch) {
    compares.push(
      ifNoneMatch.any
        ? { key, target: "CREATE", result: "EQUAL", createRevision: 0 }
        : { key, target: "MOD", result: "NOT_EQUAL", modRevision: ifNoneMatch.modRevision },
    );
  }
  return compares;
}

/** The txn doing `write` only when `compares` hold; its failure branch reads the key. */
export function conditionalTxn(key: Uint8Array, compares: Compare[], write: RequestOp): TxnRequest {
  return { compare: compares, success: [write], failure: [{ requestRange: { key } }] };
}

/**
 * The 412 for a failed conditional txn, from the key read in its failure branch.
 * @param keyText the key as the client wrote it (for the message)
 * @returns CairnError "precondition_failed"; details `modRevision` when the key exists
 */
export function preconditionFailed(
  resp: TxnResponse,
  keyText: string,
  ifMatch: EntityTagCondition | undefined,
  ifNoneMatch: EntityTagCondition | undefined,
): CairnError {
  const first = resp.responses[0];
  const current = first && "responseRange" in first ? first.responseRange.kvs[0] : undefined;
  if (!current) {
    return new CairnError("precondition_failed", `key "${keyText}" does not exist (If-Match needs it)`, {
      exists: false,
    });
  }
  const modRevision = current.modRevision;
  let why: string;
  if (ifNoneMatch?.any) why = "already exists (If-None-Match: *)";
  else if (ifNoneMatch && ifNoneMatch.modRevision === modRevision) why = "matches If-None-Match";
  else if (ifMatch && !ifMatch.any) why = `does not match If-Match "${ifMatch.modRevision}"`;
  else why = "does not satisfy the precondition";
  return new CairnError("precondition_failed", `key "${keyText}" has mod_revision ${modRevision}, ${why}`, {
    exists: true,
    modRevision,
  });
}

/**
 * If-Match applies to one key; with a prefix or range the compare would check only the first key.
 * @throws CairnError "invalid_argument"
 */
export function rejectConditionOnRange(): never {
  throw invalidArgument("If-Match / If-None-Match apply to a single key, not with prefix or range_end");
}
