/**
 * The /v1 operations the CLI uses, on top of {@link FailoverClient}. Each returns the answer in
 * the contract's JSON shape (snake_case), which the formatters print.
 *
 * Keys that cannot travel in a URL path (a "." or ".." segment, see kv-path.ts) are sent as a
 * one-operation POST /v1/txn instead; the result is reshaped to the path API's answer.
 */
import { CairnError } from "../util/errors.ts";
import {
  type DeleteJson,
  DeleteSchema,
  HealthSchema,
  type MembersJson,
  MembersSchema,
  MetaSchema,
  type PutJson,
  PutSchema,
  parseAnswer,
  type RangeJson,
  RangeSchema,
  type StatusJson,
  StatusSchema,
  type TxnJson,
  TxnSchema,
} from "./api-schemas.ts";
import type { FailoverClient, HttpResponse } from "./http-client.ts";
import { keyFitsPath, kvPath } from "./kv-path.ts";

/** Options of a put (etcdctl put flags). */
export interface PutOptions {
  /** Lease id as a decimal string (the contract's query form). */
  lease?: string;
  prevKv?: boolean;
  /** Content-Type stored with the value; absent means none. */
  contentType?: string;
}

/** Options of a get / range (etcdctl get flags). */
export interface GetOptions {
  prefix?: boolean;
  /** Exclusive end of the range (etcdctl get KEY RANGE_END). */
  rangeEnd?: string;
  limit?: number;
  rev?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  consistency?: "linearizable" | "serializable";
}

/** Options of a delete (etcdctl del flags). */
export interface DeleteOptions {
  prefix?: boolean;
  prevKv?: boolean;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === false) continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** Decodes bytes as UTF-8, or throws when they are not valid UTF-8 (txn values are JSON strings). */
function utf8OrThrow(value: Uint8Array, why: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(value);
  } catch {
    throw new CairnError("invalid_argument", `value is not valid UTF-8, which ${why} requires`);
  }
}

/** PUT /v1/kv/{key}. A value never gets a Content-Type unless `contentType` is given. */
export async function putKey(
  client: FailoverClient,
  key: string,
  value: Uint8Array,
  opts: PutOptions = {},
): Promise<PutJson> {
  if (!keyFitsPath(key)) {
    const op = {
      key,
      value: utf8OrThrow(value, "a key with a '.' or '..' segment"),
      ...(opts.lease !== undefined ? { lease: Number(opts.lease) } : {}),
      ...(opts.contentType !== undefined ? { content_type: opts.contentType } : {}),
      ...(opts.prevKv ? { prev_kv: true } : {}),
    };
    const t = await txn(client, { compare: [], success: [{ put: op }], failure: [] }, "write");
    const r = t.responses[0];
    if (!r?.put) throw new Error("unexpected answer to txn put: no put response");
    return { revision: t.revision, ...(r.put.prev_kv ? { prev_kv: r.put.prev_kv } : {}) };
  }
  const res = await client.request({
    method: "PUT",
    path: kvPath(key) + query({ lease: opts.lease, prev_kv: opts.prevKv }),
    headers: opts.contentType !== undefined ? { "content-type": opts.contentType } : {},
    body: value,
    kind: "write",
  });
  return parseAnswer(PutSchema, res.body, `PUT ${key}`);
}

/** True when a get addresses a range rather than one key. */
function isRange(opts: GetOptions): boolean {
  return opts.prefix === true || opts.rangeEnd !== undefined;
}

/**
 * Reads one key (GET ?meta=true) or a range (GET ?prefix=true / range_end=...). A missing single
 * key gives an empty result, as etcdctl prints nothing for it.
 */
export async function getKeys(
  client: FailoverClient,
  key: string,
  opts: GetOptions = {},
): Promise<RangeJson> {
  if (!keyFitsPath(key) || (opts.rangeEnd !== undefined && !keyFitsPath(opts.rangeEnd))) {
    const op = {
      key,
      ...(opts.prefix ? { prefix: true } : {}),
      ...(opts.rangeEnd !== undefined ? { range_end: opts.rangeEnd } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.keysOnly ? { keys_only: true } : {}),
      ...(opts.countOnly ? { count_only: true } : {}),
      ...(opts.rev !== undefined ? { rev: opts.rev } : {}),
    };
    const t = await txn(client, { compare: [], success: [{ get: op }], failure: [] }, "read");
    const r = t.responses[0];
    if (!r?.get) throw new Error("unexpected answer to txn get: no get response");
    return {
      revision: t.revision,
      kvs: r.get.kvs,
      more: r.get.more ?? false,
      count: r.get.count ?? r.get.kvs.length,
    };
  }
  const common = { rev: opts.rev, consistency: opts.consistency };
  if (isRange(opts)) {
    const res = await client.request({
      method: "GET",
      path:
        kvPath(key) +
        query({
          prefix: opts.prefix,
          range_end: opts.rangeEnd,
          limit: opts.limit,
          keys_only: opts.keysOnly,
          count_only: opts.countOnly,
          ...common,
        }),
      kind: "read",
    });
    return parseAnswer(RangeSchema, res.body, `GET ${key}`);
  }
  let res: HttpResponse;
  try {
    res = await client.request({
      method: "GET",
      path: kvPath(key) + query({ meta: true, ...common }),
      kind: "read",
    });
  } catch (e) {
    if (e instanceof CairnError && e.code === "key_not_found") {
      const rev = Number(e.details?.revision);
      return {
        ...(Number.isFinite(rev) && rev > 0 ? { revision: rev } : {}),
        kvs: [],
        more: false,
        count: 0,
      };
    }
    throw e;
  }
  const meta = parseAnswer(MetaSchema, res.body, `GET ${key}`);
  const kv = { ...meta.kv };
  if (opts.keysOnly) delete kv.value;
  return { revision: meta.revision, kvs: opts.countOnly ? [] : [kv], more: false, count: 1 };
}

/** DELETE /v1/kv/{key} (?prefix, ?prev_kv). */
export async function deleteKeys(
  client: FailoverClient,
  key: string,
  opts: DeleteOptions = {},
): Promise<DeleteJson> {
  if (!keyFitsPath(key)) {
    const op = { key, ...(opts.prefix ? { prefix: true } : {}), ...(opts.prevKv ? { prev_kv: true } : {}) };
    const t = await txn(client, { compare: [], success: [{ delete: op }], failure: [] }, "write");
    const r = t.responses[0];
    if (!r?.delete) throw new Error("unexpected answer to txn delete: no delete response");
    return {
      revision: t.revision,
      deleted: r.delete.deleted,
      ...(r.delete.prev_kvs ? { prev_kvs: r.delete.prev_kvs } : {}),
    };
  }
  const res = await client.request({
    method: "DELETE",
    path: kvPath(key) + query({ prefix: opts.prefix, prev_kv: opts.prevKv }),
    kind: "write",
  });
  return parseAnswer(DeleteSchema, res.body, `DELETE ${key}`);
}

/**
 * True when a txn request (contract shape) has only "get" operations, so it may be retried
 * like a read.
 */
export function isReadOnlyTxn(request: unknown): boolean {
  if (request === null || typeof request !== "object") return false;
  const r = request as { success?: unknown; failure?: unknown };
  const ops = [r.success ?? [], r.failure ?? []];
  return ops.every(
    (list) =>
      Array.isArray(list) &&
      list.every(
        (op) => op !== null && typeof op === "object" && "get" in op && Object.keys(op).length === 1,
      ),
  );
}

/** POST /v1/txn with the request as given (the contract's JSON). */
export async function txn(
  client: FailoverClient,
  request: unknown,
  kind: "read" | "write" = isReadOnlyTxn(request) ? "read" : "write",
): Promise<TxnJson> {
  const res = await client.request({
    method: "POST",
    path: "/v1/txn",
    headers: { "content-type": "application/json" },
    body: json(request),
    kind,
  });
  return parseAnswer(TxnSchema, res.body, "POST /v1/txn");
}

/** GET /v1/cluster/members. */
export async function memberList(client: FailoverClient): Promise<MembersJson> {
  const res = await client.request({ method: "GET", path: "/v1/cluster/members", kind: "read" });
  return parseAnswer(MembersSchema, res.body, "GET /v1/cluster/members");
}

/** GET /v1/status of one endpoint (no failover). */
export async function endpointStatus(client: FailoverClient, endpoint: string): Promise<StatusJson> {
  const res = await client.requestOne(endpoint, { method: "GET", path: "/v1/status", kind: "read" });
  return parseAnswer(StatusSchema, res.body, `GET ${endpoint}/v1/status`);
}

/** Health of one endpoint as etcdctl reports it. */
export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  /** Time from request to answer, in ms. */
  tookMs: number;
  /** Why it is unhealthy ("" when healthy). */
  error: string;
}

/**
 * GET /health of one endpoint: healthy when 200 with {"health":"true"}. Never throws: an
 * unreachable endpoint is unhealthy with the connection error as reason.
 * @param now clock in ms (performance.now in production), injected for the duration
 */
export async function endpointHealth(
  client: FailoverClient,
  endpoint: string,
  now: () => number = () => performance.now(),
): Promise<EndpointHealth> {
  const start = now();
  try {
    const res = await client.requestOne(endpoint, {
      method: "GET",
      path: "/health",
      kind: "read",
      acceptStatuses: [503],
    });
    const tookMs = now() - start;
    const body = parseAnswer(HealthSchema, res.body, `GET ${endpoint}/health`);
    const healthy = res.status === 200 && body.health === "true";
    return {
      endpoint,
      health: healthy,
      tookMs,
      error: healthy ? "" : (body.reason ?? `health is ${body.health} (HTTP ${res.status})`),
    };
  } catch (e) {
    return {
      endpoint,
      health: false,
      tookMs: now() - start,
      error: e instanceof Error ? e.message : String(e),
    };
  }
}
