/**
 * etcd JSON gateway codec (etcd 3.4 grpc-gateway, jsonpb with OrigName and without EmitDefaults):
 * requests (already shaped by routes/v3-kv.schema.ts) → state-machine requests with etcd's
 * checks (api/v3rpc/key.go), and responses → JSON exactly as the gateway writes them: fields in
 * .proto order, bytes base64, int64/uint64 as decimal strings, and every default-valued field
 * (0, "", false, empty list, absent message) omitted. E.g. a range that finds nothing is
 * `{"header":{...}}` without "kvs" or "count"; a put without prev_kv is `{"header":{...}}`.
 */
import type {
  CompactionRequest,
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from "../../mvcc/types.ts";
import type { ClusterHeader } from "../../server/service.ts";
import { invalidArgument } from "../../util/errors.ts";
import { toBase64 } from "../bytes.ts";
import { checkKey } from "../keys.ts";
import type {
  CompareWire,
  DeleteRangeWire,
  PutWire,
  RangeWire,
  RequestOpWire,
  TxnWire,
} from "../routes/v3-kv.schema.ts";

type Json = Record<string, unknown>;

// ---- requests -------------------------------------------------------------------------------

/** etcd rpctypes.ErrGRPCEmptyKey. */
const emptyKey = () => invalidArgument("etcdserver: key is not provided");

function requireKey(key: Uint8Array | undefined): Uint8Array {
  if (!key || key.length === 0) throw emptyKey();
  checkKey(key);
  return key;
}

function optionalRangeEnd(rangeEnd: Uint8Array | undefined): Uint8Array | undefined {
  if (!rangeEnd || rangeEnd.length === 0) return undefined;
  checkKey(rangeEnd, "range_end");
  return rangeEnd;
}

/** Revision filters of a range (etcd prunes after reading; see v3-kv.ts). */
export interface RangeFilters {
  minModRevision: number;
  maxModRevision: number;
  minCreateRevision: number;
  maxCreateRevision: number;
}

/** RangeRequest JSON → RangeRequest, whether it was serializable, and its revision filters. */
export function decodeRange(w: RangeWire): {
  req: RangeRequest;
  serializable: boolean;
  filters?: RangeFilters;
} {
  const req: RangeRequest = { key: requireKey(w.key) };
  const rangeEnd = optionalRangeEnd(w.range_end);
  if (rangeEnd) req.rangeEnd = rangeEnd;
  if (w.limit) req.limit = w.limit;
  if (w.revision) req.revision = w.revision;
  const sortTarget = w.sort_target ?? "KEY";
  let sortOrder = w.sort_order ?? "NONE";
  // etcd apply.go Range: results come sorted by key; another target sorts ASCEND by default.
  if (sortTarget !== "KEY" && sortOrder === "NONE") sortOrder = "ASCEND";
  if (sortOrder !== "NONE") {
    req.sortOrder = sortOrder;
    req.sortTarget = sortTarget;
  }
  if (w.keys_only) req.keysOnly = true;
  if (w.count_only) req.countOnly = true;
  const filters: RangeFilters = {
    minModRevision: w.min_mod_revision ?? 0,
    maxModRevision: w.max_mod_revision ?? 0,
    minCreateRevision: w.min_create_revision ?? 0,
    maxCreateRevision: w.max_create_revision ?? 0,
  };
  const filtered =
    filters.minModRevision ||
    filters.maxModRevision ||
    filters.minCreateRevision ||
    filters.maxCreateRevision;
  return { req, serializable: w.serializable === true, ...(filtered ? { filters } : {}) };
}

/** PutRequest JSON → PutRequest (etcd checkPutRequest). */
export function decodePut(w: PutWire): PutRequest {
  const req: PutRequest = { key: requireKey(w.key), value: w.value ?? new Uint8Array(0) };
  if (w.ignore_value && req.value.length > 0) throw invalidArgument("etcdserver: value is provided");
  if (w.ignore_lease && w.lease) throw invalidArgument("etcdserver: lease is provided");
  if (w.lease) req.lease = w.lease;
  if (w.prev_kv) req.prevKv = true;
  if (w.ignore_value) req.ignoreValue = true;
  if (w.ignore_lease) req.ignoreLease = true;
  return req;
}

/** DeleteRangeRequest JSON → DeleteRangeRequest (etcd checkDeleteRequest). */
export function decodeDeleteRange(w: DeleteRangeWire): DeleteRangeRequest {
  const req: DeleteRangeRequest = { key: requireKey(w.key) };
  const rangeEnd = optionalRangeEnd(w.range_end);
  if (rangeEnd) req.rangeEnd = rangeEnd;
  if (w.prev_kv) req.prevKv = true;
  return req;
}

/** Compare JSON → Compare; a missing operand is protobuf's default (0 or empty bytes). */
function decodeCompare(w: CompareWire): Compare {
  const key = w.key ?? new Uint8Array(0);
  checkKey(key, "key", true);
  const target = w.target ?? "VERSION";
  const out: Compare = { key, target, result: w.result ?? "EQUAL" };
  const rangeEnd = optionalRangeEnd(w.range_end);
  if (rangeEnd) out.rangeEnd = rangeEnd;
  switch (target) {
    case "VERSION":
      out.version = w.version ?? 0;
      break;
    case "CREATE":
      out.createRevision = w.create_revision ?? 0;
      break;
    case "MOD":
      out.modRevision = w.mod_revision ?? 0;
      break;
    case "VALUE":
      out.value = w.value ?? new Uint8Array(0);
      break;
    case "LEASE":
      out.lease = w.lease ?? 0;
      break;
  }
  return out;
}

function decodeOp(w: RequestOpWire): { op: RequestOp; serializableRead: boolean } {
  if (w.request_range) {
    const { req, serializable, filters } = decodeRange(w.request_range);
    if (filters) throw invalidArgument("min/max revision filters are not supported inside a txn");
    return { op: { requestRange: req }, serializableRead: serializable };
  }
  if (w.request_put) return { op: { requestPut: decodePut(w.request_put) }, serializableRead: false };
  if (w.request_delete_range) {
    return { op: { requestDeleteRange: decodeDeleteRange(w.request_delete_range) }, serializableRead: false };
  }
  if (w.request_txn) return { op: { requestTxn: decodeTxn(w.request_txn).req }, serializableRead: false };
  // etcd checkRequestOp answers an empty op with ErrGRPCKeyNotFound.
  throw invalidArgument("etcdserver: key not found");
}

/**
 * TxnRequest JSON → TxnRequest, and whether etcd would serve it serializably (every op of both
 * branches is a range with serializable=true; etcd v3_server.go isTxnSerializable).
 */
export function decodeTxn(w: TxnWire): { req: TxnRequest; serializable: boolean } {
  const success = (w.success ?? []).map(decodeOp);
  const failure = (w.failure ?? []).map(decodeOp);
  return {
    req: {
      compare: (w.compare ?? []).map(decodeCompare),
      success: success.map((o) => o.op),
      failure: failure.map((o) => o.op),
    },
    serializable: [...success, ...failure].every((o) => o.serializableRead),
  };
}

/** CompactionRequest JSON → CompactionRequest. */
export function decodeCompaction(w: { revision?: number; physical?: boolean }): CompactionRequest {
  const req: CompactionRequest = { revision: w.revision ?? 0 };
  if (w.physical) req.physical = true;
  return req;
}

// ---- responses ------------------------------------------------------------------------------

/** uint64 from 16 hex digits to unsigned decimal text ("8e9e05c52164694d" → "10276657743932975437"). */
export function hexToDecimal(hex: string): string {
  if (hex === "") return "0";
  return BigInt(`0x${hex}`).toString();
}

/** Cache of the decimal ids (they change only when the node's identity does). */
let lastIds: { clusterHex: string; memberHex: string; cluster: string; member: string } | undefined;

/** etcdserverpb.ResponseHeader of a top-level response. */
export function encodeHeader(cluster: ClusterHeader, revision: number): Json {
  if (!lastIds || lastIds.clusterHex !== cluster.clusterId || lastIds.memberHex !== cluster.memberId) {
    lastIds = {
      clusterHex: cluster.clusterId,
      memberHex: cluster.memberId,
      cluster: hexToDecimal(cluster.clusterId),
      member: hexToDecimal(cluster.memberId),
    };
  }
  const h: Json = {};
  if (lastIds.cluster !== "0") h.cluster_id = lastIds.cluster;
  if (lastIds.member !== "0") h.member_id = lastIds.member;
  if (revision) h.revision = String(revision);
  if (cluster.raftTerm) h.raft_term = String(cluster.raftTerm);
  return h;
}

/** Header of a response inside a txn: etcd fills only its revision. */
function innerHeader(revision: number): Json {
  return revision ? { revision: String(revision) } : {};
}

/** mvccpb.KeyValue. */
export function encodeKv(kv: KeyValue): Json {
  const o: Json = {};
  if (kv.key.length) o.key = toBase64(kv.key);
  if (kv.createRevision) o.create_revision = String(kv.createRevision);
  if (kv.modRevision) o.mod_revision = String(kv.modRevision);
  if (kv.version) o.version = String(kv.version);
  if (kv.value.length) o.value = toBase64(kv.value);
  if (kv.lease) o.lease = String(kv.lease);
  return o;
}

/** RangeResponse body after `header`. */
function rangeFields(o: Json, r: RangeResponse): Json {
  if (r.kvs.length) o.kvs = r.kvs.map(encodeKv);
  if (r.more) o.more = true;
  if (r.count) o.count = String(r.count);
  return o;
}

function putFields(o: Json, r: PutResponse): Json {
  if (r.prevKv) o.prev_kv = encodeKv(r.prevKv);
  return o;
}

function deleteFields(o: Json, r: DeleteRangeResponse): Json {
  if (r.deleted) o.deleted = String(r.deleted);
  if (r.prevKvs.length) o.prev_kvs = r.prevKvs.map(encodeKv);
  return o;
}

function txnFields(o: Json, r: TxnResponse): Json {
  if (r.succeeded) o.succeeded = true;
  if (r.responses.length) o.responses = r.responses.map(encodeResponseOp);
  return o;
}

function encodeResponseOp(op: ResponseOp): Json {
  if ("responseRange" in op) {
    return {
      response_range: rangeFields(
        { header: innerHeader(op.responseRange.header.revision) },
        op.responseRange,
      ),
    };
  }
  if ("responsePut" in op) {
    return {
      response_put: putFields({ header: innerHeader(op.responsePut.header.revision) }, op.responsePut),
    };
  }
  if ("responseDeleteRange" in op) {
    const r = op.responseDeleteRange;
    return { response_delete_range: deleteFields({ header: innerHeader(r.header.revision) }, r) };
  }
  const t = op.responseTxn;
  return { response_txn: txnFields({ header: innerHeader(t.header.revision) }, t) };
}

/** RangeResponse JSON. */
export function encodeRange(cluster: ClusterHeader, r: RangeResponse): Json {
  return rangeFields({ header: encodeHeader(cluster, r.header.revision) }, r);
}

/** PutResponse JSON (`{"header"}` alone without prev_kv). */
export function encodePut(cluster: ClusterHeader, r: PutResponse): Json {
  return putFields({ header: encodeHeader(cluster, r.header.revision) }, r);
}

/** DeleteRangeResponse JSON. */
export function encodeDeleteRange(cluster: ClusterHeader, r: DeleteRangeResponse): Json {
  return deleteFields({ header: encodeHeader(cluster, r.header.revision) }, r);
}

/** TxnResponse JSON; responses inside carry only their revision in their header. */
export function encodeTxn(cluster: ClusterHeader, r: TxnResponse): Json {
  return txnFields({ header: encodeHeader(cluster, r.header.revision) }, r);
}

/** CompactionResponse JSON. */
export function encodeCompaction(cluster: ClusterHeader, revision: number): Json {
  return { header: encodeHeader(cluster, revision) };
}
