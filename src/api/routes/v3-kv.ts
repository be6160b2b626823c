/**
 * etcd's JSON gateway: POST /v3/kv/range, /put, /deleterange, /txn, /compaction with the request
 * and response JSON of etcd 3.4's grpc-gateway (see codec/v3.ts), so etcd scripts and
 * side-by-side tests work unchanged. Errors use the gateway's shape (errors.ts).
 */
import type { Context, Hono } from "hono";
import type { KeyValue, RangeResponse } from "../../mvcc/types.ts";
import { readJsonBody } from "../body.ts";
import {
  decodeCompaction,
  decodeDeleteRange,
  decodePut,
  decodeRange,
  decodeTxn,
  encodeCompaction,
  encodeDeleteRange,
  encodePut,
  encodeRange,
  encodeTxn,
  type RangeFilters,
} from "../codec/v3.ts";
import type { ApiDeps } from "../deps.ts";
import { jsonOk } from "../json-response.ts";
import { checkRawTxnDepth, checkTxnRequest } from "../txn-check.ts";
import { compactionSchema, deleteRangeSchema, parsePut, rangeSchema, txnSchema } from "./v3-kv.schema.ts";

/** An empty body is the empty protobuf message on etcd's gateway. */
const EMPTY_MESSAGE = Object.freeze({});

/**
 * etcd apply.go Range: with min/max revision filters the range is read without limit, pruned,
 * then cut to the limit ("more" when cut). "count" stays the count before pruning.
 */
function applyFilters(resp: RangeResponse, filters: RangeFilters, limit: number | undefined): RangeResponse {
  const keep = (kv: KeyValue): boolean =>
    !(filters.maxModRevision && kv.modRevision > filters.maxModRevision) &&
    !(filters.minModRevision && kv.modRevision < filters.minModRevision) &&
    !(filters.maxCreateRevision && kv.createRevision > filters.maxCreateRevision) &&
    !(filters.minCreateRevision && kv.createRevision < filters.minCreateRevision);
  let kvs = resp.kvs.filter(keep);
  let more = false;
  if (limit && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  return { header: resp.header, kvs, more, count: resp.count };
}

async function range(c: Context, deps: ApiDeps): Promise<Response> {
  const { req, serializable, filters } = decodeRange(
    rangeSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE)),
  );
  const consistency = serializable ? "serializable" : "linearizable";
  if (!filters || req.countOnly) {
    const resp = await deps.kv.range(req, consistency);
    return jsonOk(encodeRange(deps.kv.header(), resp));
  }
  const limit = req.limit;
  const resp = await deps.kv.range({ ...req, limit: 0 }, consistency);
  return jsonOk(encodeRange(deps.kv.header(), applyFilters(resp, filters, limit)));
}

async function put(c: Context, deps: ApiDeps): Promise<Response> {
  const req = decodePut(parsePut(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE)));
  const resp = await deps.kv.put(req);
  return jsonOk(encodePut(deps.kv.header(), resp));
}

async function deleteRange(c: Context, deps: ApiDeps): Promise<Response> {
  const req = decodeDeleteRange(
    deleteRangeSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE)),
  );
  const resp = await deps.kv.deleteRange(req);
  return jsonOk(encodeDeleteRange(deps.kv.header(), resp));
}

async function txn(c: Context, deps: ApiDeps): Promise<Response> {
  const raw = await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE);
  checkRawTxnDepth(raw);
  const { req, serializable } = decodeTxn(txnSchema.parse(raw));
  checkTxnRequest(req, "etcdserver: ");
  const resp = await deps.kv.txn(req, serializable ? "serializable" : "linearizable");
  return jsonOk(encodeTxn(deps.kv.header(), resp));
}

async function compaction(c: Context, deps: ApiDeps): Promise<Response> {
  const req = decodeCompaction(
    compactionSchema.parse(await readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE)),
  );
  const resp = await deps.kv.compact(req);
  return jsonOk(encodeCompaction(deps.kv.header(), resp.header.revision));
}

/** Registers the five POST /v3/kv/* routes on `app`. */
export function registerV3Kv(app: Hono, deps: ApiDeps): void {
  app.post("/v3/kv/range", (c) => range(c, deps));
  app.post("/v3/kv/put", (c) => put(c, deps));
  app.post("/v3/kv/deleterange", (c) => deleteRange(c, deps));
  app.post("/v3/kv/txn", (c) => txn(c, deps));
  app.post("/v3/kv/compaction", (c) => compaction(c, deps));
}
