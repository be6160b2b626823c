/**
 * JSON shapes of the native /v1 API (the API contract, snake_case as etcd names fields).
 * KV: {"key","key_encoding"?,"value"?,"value_encoding"?,"content_type"?,"create_revision",
 * "mod_revision","version","lease"}. Keys and values are UTF-8 text; bytes that are not valid
 * UTF-8 (only writable through /v3) are sent as base64 with "<field>_encoding":"base64".
 */
import type { DeleteRangeResponse, KeyValue, PutResponse, RangeResponse } from "../../mvcc/types.ts";
import { toBase64, tryDecodeUtf8 } from "../bytes.ts";

/** JSON of one key-value pair. */
export interface KvJson {
  key: string;
  key_encoding?: "base64";
  value?: string;
  value_encoding?: "base64";
  content_type?: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease: number;
}

/**
 * One KeyValue as /v1 JSON.
 * @param keysOnly omit the value (keys_only reads)
 */
export function kvToJson(kv: KeyValue, keysOnly = false): KvJson {
  const out: Partial<KvJson> = {};
  const key = tryDecodeUtf8(kv.key);
  if (key === undefined) {
    out.key = toBase64(kv.key);
    out.key_encoding = "base64";
  } else {
    out.key = key;
  }
  if (!keysOnly) {
    const value = tryDecodeUtf8(kv.value);
    if (value === undefined) {
      out.value = toBase64(kv.value);
      out.value_encoding = "base64";
    } else {
      out.value = value;
    }
  }
  if (kv.contentType !== undefined) out.content_type = kv.contentType;
  out.create_revision = kv.createRevision;
  out.mod_revision = kv.modRevision;
  out.version = kv.version;
  out.lease = kv.lease;
  return out as KvJson;
}

/** `{"kvs","more","count"}` of a range (listing, txn get). */
export function rangeBody(resp: RangeResponse, keysOnly: boolean) {
  return {
    kvs: resp.kvs.map((kv) => kvToJson(kv, keysOnly)),
    more: resp.more,
    count: resp.count,
  };
}

/** `{"revision","prev_kv"?}` of a put. */
export function putBody(resp: PutResponse, revision: number) {
  return resp.prevKv ? { revision, prev_kv: kvToJson(resp.prevKv) } : { revision };
}

/** `{"deleted","prev_kvs"?}` of a delete; prev_kvs only when they were asked for. */
export function deleteBody(resp: DeleteRangeResponse, withPrevKvs: boolean) {
  return withPrevKvs
    ? { deleted: resp.deleted, prev_kvs: resp.prevKvs.map((kv) => kvToJson(kv)) }
    : { deleted: resp.deleted };
}
