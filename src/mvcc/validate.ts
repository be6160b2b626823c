/**
 * Checks of requests that depend on nothing but the request (etcd api/v3rpc/key.go
 * checkRangeRequest / checkPutRequest / checkDeleteRequest / checkTxnRequest). They run inside
 * apply too, so a request that skipped the API's checks still fails the same way on every member.
 * @throws CairnError("invalid_argument") on the first problem found
 */
import { CairnError, invalidArgument } from "../util/errors.ts";
import { MAX_TXN_DEPTH } from "./command-shape.ts";
import { emptyKeyError } from "./errors.ts";
import { checkTxnConflicts } from "./txn-conflicts.ts";
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from "./types.ts";

const SORT_ORDERS: ReadonlySet<SortOrder> = new Set(["NONE", "ASCEND", "DESCEND"]);
const SORT_TARGETS: ReadonlySet<SortTarget> = new Set(["KEY", "VERSION", "CREATE", "MOD", "VALUE"]);
const COMPARE_TARGETS: ReadonlySet<CompareTarget> = new Set(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"]);
const COMPARE_RESULTS: ReadonlySet<CompareResult> = new Set(["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]);

function checkObject(v: unknown, name: string): void {
  if (typeof v !== "object" || v === null) throw invalidArgument(`${name} must be an object`);
}

function checkKey(key: unknown): void {
  if (!(key instanceof Uint8Array)) throw invalidArgument("key must be bytes");
  if (key.length === 0) throw emptyKeyError();
}

function checkOptionalBytes(v: unknown, name: string): void {
  if (v !== undefined && !(v instanceof Uint8Array)) throw invalidArgument(`${name} must be bytes`);
}

/** An optional integer field: absent or a safe integer (negative allowed where etcd allows it). */
function checkOptionalInt(v: unknown, name: string, min = Number.MIN_SAFE_INTEGER): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw invalidArgument(`${name} must be an integer${min === 0 ? " >= 0" : ""}`);
  }
}

function checkOptionalBool(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== "boolean") throw invalidArgument(`${name} must be a boolean`);
}

/**
 * RangeRequest: non-empty key; limit and revision integers (<= 0 mean "none" and "current", as in
 * etcd); sortOrder/sortTarget known.
 */
export function validateRange(req: RangeRequest): void {
  checkObject(req, "range request");
  checkKey(req.key);
  checkOptionalBytes(req.rangeEnd, "rangeEnd");
  checkOptionalInt(req.limit, "limit");
  checkOptionalInt(req.revision, "revision");
  if (req.sortOrder !== undefined && !SORT_ORDERS.has(req.sortOrder))
    throw invalidArgument("invalid sortOrder");
  if (req.sortTarget !== undefined && !SORT_TARGETS.has(req.sortTarget)) {
    throw invalidArgument("invalid sortTarget");
  }
  checkOptionalBool(req.keysOnly, "keysOnly");
  checkOptionalBool(req.countOnly, "countOnly");
}

/**
 * PutRequest: non-empty key, bytes value, lease >= 0. With ignoreValue no value (etcd ErrGRPCValueProvided)
 * and no contentType (the kept value keeps its own); with ignoreLease no lease (etcd ErrGRPCLeaseProvided).
 */
export function validatePut(req: PutRequest): void {
  checkObject(req, "put request");
  checkKey(req.key);
  if (!(req.value instanceof Uint8Array)) throw invalidArgument("value must be bytes");
  checkOptionalInt(req.lease, "lease", 0);
  checkOptionalBool(req.prevKv, "prevKv");
  checkOptionalBool(req.ignoreValue, "ignoreValue");
  checkOptionalBool(req.ignoreLease, "ignoreLease");
  if (req.contentType !== undefined && typeof req.contentType !== "string") {
    throw invalidArgument("contentType must be a string");
  }
  if (req.ignoreValue && req.value.length > 0) {
    throw new CairnError("invalid_argument", "etcdserver: value is provided");
  }
  if (req.ignoreValue && req.contentType !== undefined) {
    throw invalidArgument("contentType must not be given with ignoreValue");
  }
  if (req.ignoreLease && (req.lease ?? 0) !== 0) {
    throw new CairnError("invalid_argument", "etcdserver: lease is provided");
  }
}

/** DeleteRangeRequest: non-empty key. */
export function validateDeleteRange(req: DeleteRangeRequest): void {
  checkObject(req, "delete request");
  checkKey(req.key);
  checkOptionalBytes(req.rangeEnd, "rangeEnd");
  checkOptionalBool(req.prevKv, "prevKv");
}

/** Compare: non-empty key, known target and result, operand of the target's type. */
export function validateCompare(c: Compare): void {
  checkObject(c, "compare");
  checkKey(c.key);
  checkOptionalBytes(c.rangeEnd, "rangeEnd");
  if (!COMPARE_TARGETS.has(c.target)) throw invalidArgument("invalid compare target");
  if (!COMPARE_RESULTS.has(c.result)) throw invalidArgument("invalid compare result");
  checkOptionalInt(c.version, "compare version");
  checkOptionalInt(c.createRevision, "compare createRevision");
  checkOptionalInt(c.modRevision, "compare modRevision");
  checkOptionalInt(c.lease, "compare lease");
  checkOptionalBytes(c.value, "compare value");
}

function validateOps(ops: RequestOp[], depth: number): void {
  if (!Array.isArray(ops)) throw invalidArgument("txn ops must be a list");
  for (const op of ops) validateOp(op, depth);
}

function validateOp(op: RequestOp, depth: number): void {
  checkObject(op, "txn op");
  if ("requestRange" in op) validateRange(op.requestRange);
  else if ("requestPut" in op) validatePut(op.requestPut);
  else if ("requestDeleteRange" in op) validateDeleteRange(op.requestDeleteRange);
  else if ("requestTxn" in op) validateTxnShape(op.requestTxn, depth + 1);
  else throw invalidArgument("invalid txn op");
}

function validateTxnShape(req: TxnRequest, depth: number): void {
  if (depth > MAX_TXN_DEPTH) throw invalidArgument(`txns nested deeper than ${MAX_TXN_DEPTH}`);
  checkObject(req, "txn request");
  if (!Array.isArray(req.compare)) throw invalidArgument("txn compare must be a list");
  for (const c of req.compare) validateCompare(c);
  validateOps(req.success, depth);
  validateOps(req.failure, depth);
}

/**
 * TxnRequest: every compare and op (recursively, at most {@link MAX_TXN_DEPTH} levels), then the duplicate-key rule on each branch
 * (etcd checkIntervals, see txn-conflicts.ts).
 */
export function validateTxn(req: TxnRequest): void {
  validateTxnShape(req, 1);
  checkTxnConflicts(req.success);
  checkTxnConflicts(req.failure);
}
