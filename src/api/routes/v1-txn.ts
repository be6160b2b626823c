/**
 * POST /v1/txn: etcd's mini-transaction (compare, then success or failure ops) in the native
 * JSON shape of the API contract. The body is checked with a zod schema, then converted to the
 * state machine's TxnRequest; nothing is proposed unless the whole request is valid.
 */
import type { Context, Hono } from "hono";
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from "../../mvcc/types.ts";
import { invalidArgument } from "../../util/errors.ts";
import { MAX_RANGE_LIMIT } from "../../util/limits.ts";
import { readJsonBody } from "../body.ts";
import { NO_END, prefixRangeEnd, utf8 } from "../bytes.ts";
import { deleteBody, putBody, rangeBody } from "../codec/v1.ts";
import type { ApiDeps } from "../deps.ts";
import { checkKey } from "../keys.ts";
import { consistencyParam } from "../query.ts";
import { checkTxnRequest } from "../txn-check.ts";
import { validateValue } from "../value-validation.ts";
import { type CompareJson, type OpJson, txnSchema } from "./v1-txn.schema.ts";

const TARGETS: Record<CompareJson["target"], CompareTarget> = {
  value: "VALUE",
  version: "VERSION",
  create_revision: "CREATE",
  mod_revision: "MOD",
  lease: "LEASE",
};
const RESULTS: Record<CompareJson["result"], CompareResult> = {
  "=": "EQUAL",
  "!=": "NOT_EQUAL",
  "<": "LESS",
  ">": "GREATER",
};

/** key + prefix/range_end → [key, rangeEnd) with the /v1 rules (empty key only for a range). */
function keyRange(
  at: string,
  keyText: string,
  prefix: boolean | undefined,
  rangeEndText: string | undefined,
): { key: Uint8Array; rangeEnd?: Uint8Array } {
  const key = utf8(keyText);
  if (prefix && rangeEndText !== undefined) throw invalidArgument(`${at}: use prefix or range_end, not both`);
  if (!prefix && rangeEndText === undefined) {
    checkKey(key, `${at}.key`);
    return { key };
  }
  checkKey(key, `${at}.key`, true);
  if (prefix)
    return key.length === 0 ? { key: NO_END, rangeEnd: NO_END } : { key, rangeEnd: prefixRangeEnd(key) };
  const rangeEnd = utf8(rangeEndText!);
  checkKey(rangeEnd, `${at}.range_end`);
  return { key: key.length === 0 ? NO_END : key, rangeEnd };
}

function toCompare(cmp: CompareJson, at: string): Compare {
  const out: Compare = {
    ...keyRange(at, cmp.key, cmp.prefix, cmp.range_end),
    target: TARGETS[cmp.target],
    result: RESULTS[cmp.result],
  };
  const operand = cmp[cmp.target];
  if (operand === undefined)
    throw invalidArgument(`${at}.${cmp.target} is required for target ${cmp.target}`);
  switch (cmp.target) {
    case "value":
      out.value = utf8(cmp.value!);
      break;
    case "version":
      out.version = cmp.version!;
      break;
    case "create_revision":
      out.createRevision = cmp.create_revision!;
      break;
    case "mod_revision":
      out.modRevision = cmp.mod_revision!;
      break;
    case "lease":
      out.lease = cmp.lease!;
      break;
  }
  return out;
}

function toOp(op: OpJson, at: string): RequestOp {
  if (op.put) {
    const p = op.put;
    const key = utf8(p.key);
    checkKey(key, `${at}.put.key`);
    const value = utf8(p.value);
    validateValue(p.content_type, value, `${at}.put.value`);
    const req: PutRequest = { key, value };
    if (p.lease) req.lease = p.lease;
    if (p.prev_kv) req.prevKv = true;
    if (p.content_type !== undefined) req.contentType = p.content_type;
    return { requestPut: req };
  }
  if (op.get) {
    const g = op.get;
    if (g.limit !== undefined && g.limit > MAX_RANGE_LIMIT) {
      throw invalidArgument(`${at}.get.limit ${g.limit} is over the maximum of ${MAX_RANGE_LIMIT}`);
    }
    const req: RangeRequest = { ...keyRange(`${at}.get`, g.key, g.prefix, g.range_end) };
    if (req.rangeEnd) req.limit = g.limit || MAX_RANGE_LIMIT;
    if (g.rev) req.revision = g.rev;
    if (g.keys_only) req.keysOnly = true;
    if (g.count_only) req.countOnly = true;
    return { requestRange: req };
  }
  const d = op.delete!;
  const req: DeleteRangeRequest = { ...keyRange(`${at}.delete`, d.key, d.prefix, d.range_end) };
  if (d.prev_kv) req.prevKv = true;
  return { requestDeleteRange: req };
}

function isReadOnly(req: TxnRequest): boolean {
  return [...req.success, ...req.failure].every((op) => "requestRange" in op);
}

async function postTxn(c: Context, deps: ApiDeps): Promise<Response> {
  const q = c.req.url.indexOf("?") < 0 ? {} : c.req.query();
  for (const name of Object.keys(q)) {
    if (name !== "consistency")
      throw invalidArgument(`unknown query parameter ${name} (allowed: consistency)`);
  }
  const consistency = consistencyParam(q.consistency);
  const body = txnSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const req: TxnRequest = {
    compare: body.compare.map((cmp, i) => toCompare(cmp, `compare[${i}]`)),
    success: body.success.map((op, i) => toOp(op, `success[${i}]`)),
    failure: body.failure.map((op, i) => toOp(op, `failure[${i}]`)),
  };
  checkTxnRequest(req);
  const resp = await deps.kv.txn(req, isReadOnly(req) ? consistency : undefined);
  const taken = resp.succeeded ? body.success : body.failure;
  const revision = resp.header.revision;
  const responses = resp.responses.map((r, i) => {
    if ("responsePut" in r) return { put: putBody(r.responsePut, r.responsePut.header.revision || revision) };
    if ("responseRange" in r) return { get: rangeBody(r.responseRange, taken[i]?.get?.keys_only === true) };
    if ("responseDeleteRange" in r) {
      return { delete: deleteBody(r.responseDeleteRange, taken[i]?.delete?.prev_kv === true) };
    }
    throw new Error("/v1/txn: nested txn response without a nested txn request");
  });
  return c.json({ revision, succeeded: resp.succeeded, responses });
}

/** Registers POST /v1/txn on `app`. */
export function registerV1Txn(app: Hono, deps: ApiDeps): void {
  app.post("/v1/txn", (c) => postTxn(c, deps));
}
