/**
 * Turns an untrusted decoded value (from msgpack) into a {@link Command}, checking the type of
 * every field and dropping unknown ones. Byte fields come back as plain Uint8Array.
 * Semantic checks (empty key, duplicate keys…) are validate.ts's, run by KvStore.apply.
 */
import { invalidArgument } from "../util/errors.ts";
import type {
  Command,
  CompactionRequest,
  Compare,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "./types.ts";

/**
 * Deepest nesting of txns inside txns. etcd has no separate limit, but its default --max-txn-ops (128)
 * bounds the depth to 128 since every level needs an op; the limit keeps decoding off the stack's edge.
 */
export const MAX_TXN_DEPTH = 128;

type Fields = Record<string, unknown>;

function fields(v: unknown, name: string): Fields {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw invalidArgument(`${name} must be an object`);
  }
  return v as Fields;
}

function bytes(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalidArgument(`${name} must be bytes`);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Sets `out[key]` from `v` when `v` is present, using `parse` to check it. */
function opt<T>(out: Fields, key: string, v: unknown, parse: (v: unknown, name: string) => T): void {
  if (v !== undefined && v !== null) out[key] = parse(v, key);
}

function int(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw invalidArgument(`${name} must be an integer`);
  return v;
}

function bool(v: unknown, name: string): boolean {
  if (typeof v !== "boolean") throw invalidArgument(`${name} must be a boolean`);
  return v;
}

function str(v: unknown, name: string): string {
  if (typeof v !== "string") throw invalidArgument(`${name} must be a string`);
  return v;
}

function oneOf<T extends string>(allowed: readonly T[]): (v: unknown, name: string) => T {
  return (v, name) => {
    if (!allowed.includes(v as T)) throw invalidArgument(`${name} must be one of ${allowed.join(", ")}`);
    return v as T;
  };
}

const sortOrder = oneOf(["NONE", "ASCEND", "DESCEND"] as const);
const sortTarget = oneOf(["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const);
const compareTarget = oneOf(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const);
const compareResult = oneOf(["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const);

/** Parses a RangeRequest. @throws CairnError("invalid_argument") */
export function parseRange(v: unknown): RangeRequest {
  const f = fields(v, "range request");
  const out: Fields = { key: bytes(f.key, "key") };
  opt(out, "rangeEnd", f.rangeEnd, bytes);
  opt(out, "limit", f.limit, int);
  opt(out, "revision", f.revision, int);
  opt(out, "sortOrder", f.sortOrder, sortOrder);
  opt(out, "sortTarget", f.sortTarget, sortTarget);
  opt(out, "keysOnly", f.keysOnly, bool);
  opt(out, "countOnly", f.countOnly, bool);
  return out as unknown as RangeRequest;
}

/** Parses a PutRequest. @throws CairnError("invalid_argument") */
export function parsePut(v: unknown): PutRequest {
  const f = fields(v, "put request");
  const out: Fields = { key: bytes(f.key, "key"), value: bytes(f.value, "value") };
  opt(out, "lease", f.lease, int);
  opt(out, "prevKv", f.prevKv, bool);
  opt(out, "ignoreValue", f.ignoreValue, bool);
  opt(out, "ignoreLease", f.ignoreLease, bool);
  opt(out, "contentType", f.contentType, str);
  return out as unknown as PutRequest;
}

/** Parses a DeleteRangeRequest. @throws CairnError("invalid_argument") */
export function parseDeleteRange(v: unknown): DeleteRangeRequest {
  const f = fields(v, "delete request");
  const out: Fields = { key: bytes(f.key, "key") };
  opt(out, "rangeEnd", f.rangeEnd, bytes);
  opt(out, "prevKv", f.prevKv, bool);
  return out as unknown as DeleteRangeRequest;
}

function parseCompare(v: unknown): Compare {
  const f = fields(v, "compare");
  const out: Fields = {
    key: bytes(f.key, "key"),
    target: compareTarget(f.target, "target"),
    result: compareResult(f.result, "result"),
  };
  opt(out, "rangeEnd", f.rangeEnd, bytes);
  opt(out, "version", f.version, int);
  opt(out, "createRevision", f.createRevision, int);
  opt(out, "modRevision", f.modRevision, int);
  opt(out, "value", f.value, bytes);
  opt(out, "lease", f.lease, int);
  return out as unknown as Compare;
}

function list(v: unknown, name: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidArgument(`${name} must be a list`);
  return v;
}

function parseOp(v: unknown, depth: number): RequestOp {
  const f = fields(v, "txn op");
  const kinds = ["requestRange", "requestPut", "requestDeleteRange", "requestTxn"].filter(
    (k) => f[k] !== undefined && f[k] !== null,
  );
  if (kinds.length !== 1) throw invalidArgument("txn op must hold exactly one request");
  if (f.requestRange != null) return { requestRange: parseRange(f.requestRange) };
  if (f.requestPut != null) return { requestPut: parsePut(f.requestPut) };
  if (f.requestDeleteRange != null) return { requestDeleteRange: parseDeleteRange(f.requestDeleteRange) };
  return { requestTxn: parseTxn(f.requestTxn, depth + 1) };
}

/**
 * Parses a TxnRequest (absent lists = empty).
 * @param depth nesting level, 1 for a top-level txn; deeper than {@link MAX_TXN_DEPTH} is rejected
 * @throws CairnError("invalid_argument")
 */
export function parseTxn(v: unknown, depth = 1): TxnRequest {
  if (depth > MAX_TXN_DEPTH) throw invalidArgument(`txns nested deeper than ${MAX_TXN_DEPTH}`);
  const f = fields(v, "txn request");
  return {
    compare: list(f.compare, "compare").map(parseCompare),
    success: list(f.success, "success").map((op) => parseOp(op, depth)),
    failure: list(f.failure, "failure").map((op) => parseOp(op, depth)),
  };
}

function parseCompaction(v: unknown): CompactionRequest {
  const f = fields(v, "compaction request");
  const out: Fields = { revision: int(f.revision, "revision") };
  opt(out, "physical", f.physical, bool);
  return out as unknown as CompactionRequest;
}

function parseLeaseGrant(v: unknown): LeaseGrantRequest {
  const f = fields(v, "lease grant request");
  return { id: int(f.id, "id"), ttl: int(f.ttl, "ttl") };
}

function parseLeaseRevoke(v: unknown): LeaseRevokeRequest {
  const f = fields(v, "lease revoke request");
  return { id: int(f.id, "id") };
}

/**
 * Parses a whole {@link Command} (`{op, req}`).
 * @throws CairnError("invalid_argument") naming the first bad field
 */
export function parseCommand(v: unknown): Command {
  const f = fields(v, "command");
  switch (f.op) {
    case "put":
      return { op: "put", req: parsePut(f.req) };
    case "deleteRange":
      return { op: "deleteRange", req: parseDeleteRange(f.req) };
    case "txn":
      return { op: "txn", req: parseTxn(f.req) };
    case "compact":
      return { op: "compact", req: parseCompaction(f.req) };
    case "leaseGrant":
      return { op: "leaseGrant", req: parseLeaseGrant(f.req) };
    case "leaseRevoke":
      return { op: "leaseRevoke", req: parseLeaseRevoke(f.req) };
    default:
      throw invalidArgument("unknown command op");
  }
}
