/**
 * Txn checks done before a txn is proposed, so a bad txn never reaches the Raft log
 * (etcd does the same in api/v3rpc/key.go checkTxnRequest):
 * - at most MAX_TXN_OPS compares and ops per branch (etcd `--max-txn-ops`);
 * - the state machine's own validation (src/mvcc/validate.ts validateTxn: shape, nesting depth,
 *   and the duplicate-key rule), run here too so its error comes before Raft, not after.
 * - on /v3, the nesting depth of the raw JSON before schema parsing (a recursive schema must not
 *   recurse thousands of levels on a hostile body).
 */
import { MAX_TXN_DEPTH } from "../mvcc/command-shape.ts";
import type { TxnRequest } from "../mvcc/types.ts";
import { validateTxn } from "../mvcc/validate.ts";
import { invalidArgument } from "../util/errors.ts";

/** Most compares, and most ops per branch, of one txn (etcd `--max-txn-ops` default 128). */
export const MAX_TXN_OPS = 128;

function checkSizes(req: TxnRequest, prefix: string): void {
  if (
    req.compare.length > MAX_TXN_OPS ||
    req.success.length > MAX_TXN_OPS ||
    req.failure.length > MAX_TXN_OPS
  ) {
    throw invalidArgument(`${prefix}too many operations in txn request`);
  }
  for (const op of req.success) if ("requestTxn" in op) checkSizes(op.requestTxn, prefix);
  for (const op of req.failure) if ("requestTxn" in op) checkSizes(op.requestTxn, prefix);
}

/**
 * Throws when `req` breaks etcd's txn limits or the state machine's txn rules.
 * @param messagePrefix "etcdserver: " on the /v3 gateway (etcd's message text), "" on /v1
 * @throws CairnError "invalid_argument" ("too many operations in txn request",
 *   "etcdserver: duplicate key given in txn request", "txns nested deeper than ...")
 */
export function checkTxnRequest(req: TxnRequest, messagePrefix = ""): void {
  checkSizes(req, messagePrefix);
  validateTxn(req);
}

/**
 * Rejects gateway txn JSON whose request_txn nesting exceeds MAX_TXN_DEPTH, walking the parsed
 * JSON iteratively (no recursion) before the recursive schema sees it.
 * @throws CairnError "invalid_argument"
 */
export function checkRawTxnDepth(raw: unknown): void {
  const stack: Array<{ txn: unknown; depth: number }> = [{ txn: raw, depth: 1 }];
  while (stack.length > 0) {
    const { txn, depth } = stack.pop()!;
    if (depth > MAX_TXN_DEPTH) throw invalidArgument(`txns nested deeper than ${MAX_TXN_DEPTH}`);
    if (typeof txn !== "object" || txn === null) continue;
    for (const branch of ["success", "failure"] as const) {
      const ops = (txn as Record<string, unknown>)[branch];
      if (!Array.isArray(ops)) continue;
      for (const op of ops) {
        const nested =
          typeof op === "object" && op !== null ? (op as Record<string, unknown>).request_txn : undefined;
        if (nested !== undefined) stack.push({ txn: nested, depth: depth + 1 });
      }
    }
  }
}
