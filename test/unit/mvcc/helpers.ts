/** Shared helpers of the MVCC unit tests: byte/string conversion and short request builders. */
import { KvStore } from "../../../src/mvcc/store.ts";
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  TxnRequest,
  TxnResponse,
} from "../../../src/mvcc/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `s`. */
export function b(s: string): Uint8Array {
  return encoder.encode(s);
}

/** UTF-8 text of `bytes`. */
export function str(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Puts `key` = `value` with extra request fields. */
export function put(
  store: KvStore,
  key: string,
  value: string,
  extra: Partial<PutRequest> = {},
): PutResponse {
  return store.apply({ op: "put", req: { key: b(key), value: b(value), ...extra } }) as PutResponse;
}

/** Deletes `key` (or [key, end) with `end`; end "\0" = to the end). */
export function del(store: KvStore, key: string, end?: string, extra: Partial<DeleteRangeRequest> = {}) {
  const req: DeleteRangeRequest = { key: b(key), ...extra };
  if (end !== undefined) req.rangeEnd = b(end);
  return store.apply({ op: "deleteRange", req }) as DeleteRangeResponse;
}

/** Ranges `key` (or [key, end)) with extra request fields. */
export function get(
  store: KvStore,
  key: string,
  end?: string,
  extra: Partial<RangeRequest> = {},
): RangeResponse {
  const req: RangeRequest = { key: b(key), ...extra };
  if (end !== undefined) req.rangeEnd = b(end);
  return store.range(req);
}

/** Applies a txn. */
export function txn(store: KvStore, req: Partial<TxnRequest>): TxnResponse {
  return store.apply({
    op: "txn",
    req: { compare: req.compare ?? [], success: req.success ?? [], failure: req.failure ?? [] },
  }) as TxnResponse;
}

/** Txn op builders. */
export const op = {
  put: (key: string, value: string, extra: Partial<PutRequest> = {}): RequestOp => ({
    requestPut: { key: b(key), value: b(value), ...extra },
  }),
  del: (key: string, end?: string, extra: Partial<DeleteRangeRequest> = {}): RequestOp => ({
    requestDeleteRange:
      end === undefined ? { key: b(key), ...extra } : { key: b(key), rangeEnd: b(end), ...extra },
  }),
  range: (key: string, end?: string, extra: Partial<RangeRequest> = {}): RequestOp => ({
    requestRange: end === undefined ? { key: b(key), ...extra } : { key: b(key), rangeEnd: b(end), ...extra },
  }),
  txn: (req: Partial<TxnRequest>): RequestOp => ({
    requestTxn: { compare: req.compare ?? [], success: req.success ?? [], failure: req.failure ?? [] },
  }),
};

/** `[key, value]` text pairs of range results, in order. */
export function pairs(kvs: KeyValue[]): [string, string][] {
  return kvs.map((kv) => [str(kv.key), str(kv.value)]);
}

/** Keys (text) of range results, in order. */
export function keys(kvs: KeyValue[]): string[] {
  return kvs.map((kv) => str(kv.key));
}

/** Runs `fn` and returns the CairnError code it throws (fails when it does not throw). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `not a CairnError: ${String(err)}`;
  }
  throw new Error("expected an error");
}

/** A fresh store. */
export function newStore(): KvStore {
  return new KvStore();
}

/** Grants lease `id` (TTL in seconds); a put may name a lease only once it exists (etcd). */
export function grantLease(store: KvStore, id: number, ttl = 60): void {
  store.apply({ op: "leaseGrant", req: { id, ttl } });
}

export { seededRandom } from "../../../src/util/random.ts";
