/**
 * Transactions (etcd's mini-transactions: compares AND-ed, then the success or the failure ops,
 * all in one revision) in the shape of POST /v1/txn (src/api/routes/v1-txn.schema.ts), with
 * builders in the style of clientv3's `Compare(ModRevision(k), "=", 5)` and `OpPut(k, v)`.
 */
import { CairnClientError } from "./errors.ts";
import {
  type DeleteResult,
  decodeDelete,
  decodePut,
  decodeRange,
  num,
  obj,
  type PutResult,
  type RangeResult,
} from "./types.ts";

/** What a compare looks at (etcd Compare.target). */
export type CompareTarget = "value" | "version" | "createRevision" | "modRevision" | "lease";
/** How it compares (etcd Compare.result). */
export type CompareOp = "=" | "!=" | "<" | ">";

/**
 * One comparison. `value` is a string for target "value" and a number otherwise (a revision, a
 * version, a lease id; createRevision 0 = "the key does not exist"). With `prefix` or `rangeEnd`
 * it must hold for every key of the range.
 */
export interface Compare {
  key: string;
  target: CompareTarget;
  result: CompareOp;
  value: string | number;
  prefix?: boolean;
  rangeEnd?: string;
}

/** Write `value` (UTF-8 text; /v1 transactions carry text values) at `key`. */
export interface PutOp {
  put: { key: string; value: string; lease?: number; prevKv?: boolean; contentType?: string };
}
/** Read a key, a prefix or [key, rangeEnd). `revision` reads the past. */
export interface GetOp {
  get: {
    key: string;
    prefix?: boolean;
    rangeEnd?: string;
    limit?: number;
    keysOnly?: boolean;
    countOnly?: boolean;
    revision?: number;
  };
}
/** Delete a key, a prefix or [key, rangeEnd). */
export interface DeleteOp {
  delete: { key: string; prefix?: boolean; rangeEnd?: string; prevKv?: boolean };
}
/** One operation of a branch. */
export type TxnOp = PutOp | GetOp | DeleteOp;

/** A transaction: when every compare holds, `success` runs, else `failure`. */
export interface TxnRequest {
  compare?: Compare[];
  success?: TxnOp[];
  failure?: TxnOp[];
}

/** The result of one op of the branch that ran, in order. */
export type TxnOpResult =
  | ({ type: "put" } & PutResult)
  | ({ type: "get" } & RangeResult)
  | ({ type: "delete" } & DeleteResult);

/** Answer of {@link CairnClient.txn}. */
export interface TxnResult {
  /** Store revision after the txn (the revision of its writes, if any). */
  revision: number;
  /** True when every compare held (the success branch ran). */
  succeeded: boolean;
  responses: TxnOpResult[];
}

function cmp(target: CompareTarget) {
  return (
    key: string,
    result: CompareOp,
    value: string | number,
    range?: { prefix?: boolean; rangeEnd?: string },
  ): Compare => ({
    key,
    target,
    result,
    value,
    ...range,
  });
}

/** Compare builders: `compare.createRevision("lock/a", "=", 0)` (key absent), `compare.modRevision(k, "=", 42)`. */
export const compare = {
  value: cmp("value") as (
    key: string,
    result: CompareOp,
    value: string,
    range?: { prefix?: boolean; rangeEnd?: string },
  ) => Compare,
  version: cmp("version") as (
    key: string,
    result: CompareOp,
    value: number,
    range?: { prefix?: boolean; rangeEnd?: string },
  ) => Compare,
  createRevision: cmp("createRevision") as (
    key: string,
    result: CompareOp,
    value: number,
    range?: { prefix?: boolean; rangeEnd?: string },
  ) => Compare,
  modRevision: cmp("modRevision") as (
    key: string,
    result: CompareOp,
    value: number,
    range?: { prefix?: boolean; rangeEnd?: string },
  ) => Compare,
  lease: cmp("lease") as (
    key: string,
    result: CompareOp,
    value: number,
    range?: { prefix?: boolean; rangeEnd?: string },
  ) => Compare,
};

/** Op builders: `op.put(k, v, {lease})`, `op.get(k, {prefix: true})`, `op.delete(k)`. */
export const op = {
  put: (key: string, value: string, opts: Omit<PutOp["put"], "key" | "value"> = {}): PutOp => ({
    put: { key, value, ...opts },
  }),
  get: (key: string, opts: Omit<GetOp["get"], "key"> = {}): GetOp => ({ get: { key, ...opts } }),
  delete: (key: string, opts: Omit<DeleteOp["delete"], "key"> = {}): DeleteOp => ({
    delete: { key, ...opts },
  }),
};

const TARGET_JSON: Record<CompareTarget, string> = {
  value: "value",
  version: "version",
  createRevision: "create_revision",
  modRevision: "mod_revision",
  lease: "lease",
};

function compareJson(c: Compare, at: string): Record<string, unknown> {
  const target = TARGET_JSON[c.target];
  if (target === undefined)
    throw new CairnClientError("invalid_argument", `${at}: unknown target ${c.target}`);
  if (c.target === "value" ? typeof c.value !== "string" : typeof c.value !== "number") {
    throw new CairnClientError(
      "invalid_argument",
      `${at}: the value of a ${c.target} compare must be a ${c.target === "value" ? "string" : "number"}`,
    );
  }
  const out: Record<string, unknown> = { key: c.key, target, result: c.result, [target]: c.value };
  if (c.prefix) out.prefix = true;
  if (c.rangeEnd !== undefined) out.range_end = c.rangeEnd;
  return out;
}

function opJson(o: TxnOp): Record<string, unknown> {
  if ("put" in o) {
    const p = o.put;
    const out: Record<string, unknown> = { key: p.key, value: p.value };
    if (p.lease) out.lease = p.lease;
    if (p.prevKv) out.prev_kv = true;
    if (p.contentType !== undefined) out.content_type = p.contentType;
    return { put: out };
  }
  if ("get" in o) {
    const g = o.get;
    const out: Record<string, unknown> = { key: g.key };
    if (g.prefix) out.prefix = true;
    if (g.rangeEnd !== undefined) out.range_end = g.rangeEnd;
    if (g.limit) out.limit = g.limit;
    if (g.keysOnly) out.keys_only = true;
    if (g.countOnly) out.count_only = true;
    if (g.revision) out.rev = g.revision;
    return { get: out };
  }
  const d = o.delete;
  const out: Record<string, unknown> = { key: d.key };
  if (d.prefix) out.prefix = true;
  if (d.rangeEnd !== undefined) out.range_end = d.rangeEnd;
  if (d.prevKv) out.prev_kv = true;
  return { delete: out };
}

/** The POST /v1/txn body of a request. @throws CairnClientError "invalid_argument" */
export function txnJson(req: TxnRequest): { compare: unknown[]; success: unknown[]; failure: unknown[] } {
  return {
    compare: (req.compare ?? []).map((c, i) => compareJson(c, `compare[${i}]`)),
    success: (req.success ?? []).map(opJson),
    failure: (req.failure ?? []).map(opJson),
  };
}

/** True when no op of either branch writes (then the txn is a read, retried like one). */
export function isReadOnly(req: TxnRequest): boolean {
  return [...(req.success ?? []), ...(req.failure ?? [])].every((o) => "get" in o);
}

/** The POST /v1/txn answer as a {@link TxnResult}. */
export function decodeTxn(json: unknown): TxnResult {
  const o = obj(json, "txn");
  const revision = num(o, "revision");
  const responses = (Array.isArray(o.responses) ? o.responses : []).map((r): TxnOpResult => {
    const x = obj(r, "txn response");
    if (x.put !== undefined)
      return { type: "put", ...decodePut(x.put, num(obj(x.put, "put"), "revision", revision)) };
    if (x.get !== undefined) return { type: "get", ...decodeRange(x.get, revision) };
    return { type: "delete", ...decodeDelete(x.delete, revision) };
  });
  return { revision, succeeded: o.succeeded === true, responses };
}
