/**
 * Native key-value routes: GET/PUT/DELETE /v1/kv/{key} (the API contract "Native /v1").
 * Keys are UTF-8 in the path after /v1/kv/, percent-decoded (`/v1/kv//a/b` is key "/a/b").
 * GET is the hot path: no schema library, no re-serialization of values (raw bytes out).
 * GET with wait=true is a long-poll for changes instead (v1-kv-wait.ts).
 */
import type { Context, Hono } from "hono";
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  SortOrder,
  SortTarget,
} from "../../mvcc/types.ts";
import { CairnError, invalidArgument } from "../../util/errors.ts";
import { MAX_RANGE_LIMIT } from "../../util/limits.ts";
import { readBodyBytes } from "../body.ts";
import { NO_END, prefixRangeEnd, utf8 } from "../bytes.ts";
import { deleteBody, kvToJson, putBody, rangeBody } from "../codec/v1.ts";
import {
  conditionalTxn,
  conditionCompares,
  preconditionFailed,
  rejectConditionOnRange,
} from "../conditional.ts";
import type { ApiDeps } from "../deps.ts";
import { checkKey, keyFromUrl } from "../keys.ts";
import { boolParam, consistencyParam, enumParam, intParam, parseEntityTag } from "../query.ts";
import { validateValue } from "../value-validation.ts";
import { isLongPoll, longPoll, WAIT_PARAMS } from "./v1-kv-wait.ts";

const MOUNT = "/v1/kv";
const NO_QUERY: Record<string, string> = {};

const GET_PARAMS = new Set([
  "rev",
  "consistency",
  "meta",
  "prefix",
  "range_end",
  "limit",
  "keys_only",
  "count_only",
  "sort_order",
  "sort_target",
  ...WAIT_PARAMS,
]);
const PUT_PARAMS = new Set(["lease", "prev_kv"]);
const DELETE_PARAMS = new Set(["prefix", "range_end", "prev_kv"]);

/** The query of `c` as a record, rejecting parameters the route does not know (typos fail loudly). */
function queryOf(c: Context, allowed: ReadonlySet<string>): Record<string, string> {
  if (c.req.url.indexOf("?") < 0) return NO_QUERY;
  const q = c.req.query();
  for (const name of Object.keys(q)) {
    if (!allowed.has(name)) {
      throw invalidArgument(`unknown query parameter ${name} (allowed: ${[...allowed].join(", ")})`);
    }
  }
  return q;
}

/** Key range of a request: the key, or [key, range_end) / the prefix when asked. */
interface KeyRange {
  keyText: string;
  key: Uint8Array;
  /** Absent for a single key. */
  rangeEnd?: Uint8Array;
}

/**
 * The key or range a /v1/kv URL addresses. An empty key is allowed only with prefix=true
 * (every key) or range_end (from the first key).
 */
function keyRangeOf(c: Context, q: Record<string, string>): KeyRange {
  const keyText = keyFromUrl(c.req.url, MOUNT);
  const key = utf8(keyText);
  const prefix = boolParam(q.prefix, "prefix");
  const rangeEndText = q.range_end;
  if (prefix && rangeEndText !== undefined) throw invalidArgument("use prefix=true or range_end, not both");
  if (!prefix && rangeEndText === undefined) {
    checkKey(key);
    return { keyText, key };
  }
  checkKey(key, "key", true);
  if (prefix) {
    return key.length === 0
      ? { keyText, key: NO_END, rangeEnd: NO_END }
      : { keyText, key, rangeEnd: prefixRangeEnd(key) };
  }
  const rangeEnd = utf8(rangeEndText!);
  checkKey(rangeEnd, "range_end");
  return { keyText, key: key.length === 0 ? NO_END : key, rangeEnd };
}

const SORT_ORDERS = ["ascend", "descend"] as const;
const SORT_TARGETS = ["key", "version", "create", "mod", "value"] as const;

async function getKv(c: Context, deps: ApiDeps): Promise<Response> {
  const q = queryOf(c, GET_PARAMS);
  const range = keyRangeOf(c, q);
  if (q !== NO_QUERY && isLongPoll(q)) return longPoll(c, deps, range, q);
  const consistency = consistencyParam(q.consistency);
  const revision = intParam(q.rev, "rev");

  if (range.rangeEnd === undefined) {
    const req: RangeRequest = { key: range.key };
    if (revision) req.revision = revision;
    const resp = await deps.kv.range(req, consistency);
    const kv = resp.kvs[0];
    if (!kv) {
      throw new CairnError(
        "key_not_found",
        revision
          ? `key "${range.keyText}" not found at revision ${revision}`
          : `key "${range.keyText}" not found`,
      );
    }
    if (boolParam(q.meta, "meta")) return c.json({ revision: resp.header.revision, kv: kvToJson(kv) });
    const etag = `"${kv.modRevision}"`;
    const headers: Record<string, string> = {
      "content-type": kv.contentType ?? "application/octet-stream",
      etag,
      "x-cairn-revision": String(resp.header.revision),
      "x-cairn-create-revision": String(kv.createRevision),
      "x-cairn-mod-revision": String(kv.modRevision),
      "x-cairn-version": String(kv.version),
      "x-cairn-lease": String(kv.lease),
    };
    const ifNoneMatch = c.req.header("if-none-match");
    if (
      ifNoneMatch !== undefined &&
      (ifNoneMatch.trim() === "*" || ifNoneMatch.split(",").some((t) => t.trim() === etag))
    ) {
      return c.body(null, 304, headers);
    }
    return c.body(kv.value as Uint8Array<ArrayBuffer>, 200, headers);
  }

  const limit = intParam(q.limit, "limit");
  if (limit !== undefined && limit > MAX_RANGE_LIMIT) {
    throw invalidArgument(`limit ${limit} is over the maximum of ${MAX_RANGE_LIMIT}`);
  }
  const keysOnly = boolParam(q.keys_only, "keys_only");
  const countOnly = boolParam(q.count_only, "count_only");
  const sortOrder = enumParam(q.sort_order, "sort_order", SORT_ORDERS);
  const sortTarget = enumParam(q.sort_target, "sort_target", SORT_TARGETS);
  const req: RangeRequest = { key: range.key, rangeEnd: range.rangeEnd, limit: limit || MAX_RANGE_LIMIT };
  if (revision) req.revision = revision;
  if (keysOnly) req.keysOnly = true;
  if (countOnly) req.countOnly = true;
  if (sortOrder || sortTarget) {
    req.sortOrder = (sortOrder ?? "ascend").toUpperCase() as SortOrder;
    req.sortTarget = (sortTarget ?? "key").toUpperCase() as SortTarget;
  }
  const resp = await deps.kv.range(req, consistency);
  return c.json({ revision: resp.header.revision, ...rangeBody(resp, keysOnly) });
}

async function putKv(c: Context, deps: ApiDeps): Promise<Response> {
  const q = queryOf(c, PUT_PARAMS);
  const keyText = keyFromUrl(c.req.url, MOUNT);
  const key = utf8(keyText);
  checkKey(key);
  const lease = intParam(q.lease, "lease");
  const prevKv = boolParam(q.prev_kv, "prev_kv");
  const ifMatch = parseEntityTag(c.req.header("if-match"), "If-Match");
  const ifNoneMatch = parseEntityTag(c.req.header("if-none-match"), "If-None-Match");
  const contentType = c.req.header("content-type");
  const value = await readBodyBytes(c, deps.maxRequestBytes);
  validateValue(contentType, value);

  const req: PutRequest = { key, value };
  if (lease) req.lease = lease;
  if (prevKv) req.prevKv = true;
  if (contentType !== undefined) req.contentType = contentType;

  const compares = conditionCompares(key, ifMatch, ifNoneMatch);
  if (compares.length === 0) {
    const resp = await deps.kv.put(req);
    return c.json(putBody(resp, resp.header.revision));
  }
  const resp = await deps.kv.txn(conditionalTxn(key, compares, { requestPut: req }));
  if (!resp.succeeded) throw preconditionFailed(resp, keyText, ifMatch, ifNoneMatch);
  const op = resp.responses[0];
  if (!op || !("responsePut" in op)) throw new Error("conditional put: txn response lacks its put");
  return c.json(putBody(op.responsePut, resp.header.revision));
}

async function deleteKv(c: Context, deps: ApiDeps): Promise<Response> {
  const q = queryOf(c, DELETE_PARAMS);
  const range = keyRangeOf(c, q);
  const prevKv = boolParam(q.prev_kv, "prev_kv");
  const ifMatch = parseEntityTag(c.req.header("if-match"), "If-Match");
  const ifNoneMatch = parseEntityTag(c.req.header("if-none-match"), "If-None-Match");

  const req: DeleteRangeRequest = { key: range.key };
  if (range.rangeEnd) req.rangeEnd = range.rangeEnd;
  if (prevKv) req.prevKv = true;

  const compares = conditionCompares(range.key, ifMatch, ifNoneMatch);
  if (compares.length === 0) {
    const resp = await deps.kv.deleteRange(req);
    return c.json({ revision: resp.header.revision, ...deleteBody(resp, prevKv) });
  }
  if (range.rangeEnd) rejectConditionOnRange();
  const resp = await deps.kv.txn(conditionalTxn(range.key, compares, { requestDeleteRange: req }));
  if (!resp.succeeded) throw preconditionFailed(resp, range.keyText, ifMatch, ifNoneMatch);
  const op = resp.responses[0];
  if (!op || !("responseDeleteRange" in op))
    throw new Error("conditional delete: txn response lacks its delete");
  return c.json({ revision: resp.header.revision, ...deleteBody(op.responseDeleteRange, prevKv) });
}

/** Registers GET, PUT and DELETE /v1/kv/* on `app` (HEAD is served by GET without a body). */
export function registerV1Kv(app: Hono, deps: ApiDeps): void {
  app.get(`${MOUNT}/*`, (c) => getKv(c, deps));
  app.put(`${MOUNT}/*`, (c) => putKv(c, deps));
  app.delete(`${MOUNT}/*`, (c) => deleteKv(c, deps));
}
