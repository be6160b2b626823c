/**
 * Result shapes of the client (camelCase) and their decoding from the /v1 JSON of the server
 * (src/api/codec/v1.ts: snake_case, UTF-8 text, base64 with `<field>_encoding` for bytes that are
 * not UTF-8). Revisions follow etcd v3: `revision` is the store revision a response was served
 * at; a key's `createRevision` is the revision of its creation (since its last delete),
 * `modRevision` of its last change, `version` counts its changes since creation (1 = created).
 */
import { CairnClientError } from "./errors.ts";

/** One key-value pair (etcd mvccpb.KeyValue). */
export interface KeyValue {
  /** The key as text (UTF-8; a key that is not UTF-8, only writable through /v3, is decoded lossily). */
  key: string;
  /** The value as UTF-8 text (lossy for binary values; use {@link valueBytes}). Empty for keys-only reads and delete events. */
  value: string;
  /** The value's exact bytes. */
  valueBytes: Uint8Array;
  /** Content-Type the value was written with, when one was given. */
  contentType?: string;
  /** Revision of the key's creation (0 in a delete event's kv, as etcd). */
  createRevision: number;
  /** Revision of the key's last modification (for a delete event: the delete's revision). */
  modRevision: number;
  /** Number of changes since creation: 1 after the first put; 0 in a delete event. */
  version: number;
  /** Lease the key is attached to, 0 for none. */
  lease: number;
}

/** Answer of {@link CairnClient.get}. */
export interface GetResult {
  /** Store revision the read was served at. */
  revision: number;
  /** The key, or undefined when it does not exist (at that revision). */
  kv: KeyValue | undefined;
}

/** Answer of {@link CairnClient.getPrefix} and of txn reads. */
export interface RangeResult {
  /** Store revision the read was served at. */
  revision: number;
  /** Keys in key order (or in the order asked for). */
  kvs: KeyValue[];
  /** True when `limit` cut the answer short. */
  more: boolean;
  /** Number of keys in the range (not limited by `limit`). */
  count: number;
}

/** Answer of {@link CairnClient.put}. */
export interface PutResult {
  /** Revision of the write (the key's new modRevision). */
  revision: number;
  /** The key before the write, when `prevKv` was asked for and the key existed. */
  prevKv?: KeyValue;
}

/** Answer of {@link CairnClient.delete}. */
export interface DeleteResult {
  /** Store revision after the delete (unchanged when nothing was deleted). */
  revision: number;
  /** Number of keys deleted. */
  deleted: number;
  /** The deleted keys, when `prevKv` was asked for. */
  prevKvs?: KeyValue[];
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** UTF-8 bytes of text. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Text of UTF-8 bytes (invalid sequences become U+FFFD). */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bad(what: string): CairnClientError {
  return new CairnClientError("bad_response", `the server's answer has no valid ${what}`);
}

/** A JSON object field as a number. @throws CairnClientError "bad_response" */
export function num(o: Record<string, unknown>, field: string, fallback?: number): number {
  const v = o[field];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw bad(field);
}

/** A value that must be a JSON object. @throws CairnClientError "bad_response" */
export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  throw bad(what);
}

/** A /v1 KV JSON object as a {@link KeyValue}. @throws CairnClientError "bad_response" */
export function decodeKv(json: unknown): KeyValue {
  const o = obj(json, "kv");
  if (typeof o.key !== "string") throw bad("kv.key");
  const key = o.key_encoding === "base64" ? text(fromBase64(o.key)) : o.key;
  let valueBytes: Uint8Array;
  let value: string;
  if (typeof o.value !== "string") {
    valueBytes = new Uint8Array(0);
    value = "";
  } else if (o.value_encoding === "base64") {
    valueBytes = fromBase64(o.value);
    value = text(valueBytes);
  } else {
    value = o.value;
    valueBytes = utf8(value);
  }
  const kv: KeyValue = {
    key,
    value,
    valueBytes,
    createRevision: num(o, "create_revision", 0),
    modRevision: num(o, "mod_revision", 0),
    version: num(o, "version", 0),
    lease: num(o, "lease", 0),
  };
  if (typeof o.content_type === "string") kv.contentType = o.content_type;
  return kv;
}

/** `{"revision","kvs","more","count"}` as a {@link RangeResult}. */
export function decodeRange(json: unknown, revision?: number): RangeResult {
  const o = obj(json, "range");
  const kvs = Array.isArray(o.kvs) ? o.kvs.map(decodeKv) : [];
  return {
    revision: revision ?? num(o, "revision"),
    kvs,
    more: o.more === true,
    count: num(o, "count", kvs.length),
  };
}

/** `{"revision","prev_kv"?}` as a {@link PutResult}. */
export function decodePut(json: unknown, revision?: number): PutResult {
  const o = obj(json, "put");
  const out: PutResult = { revision: revision ?? num(o, "revision") };
  if (o.prev_kv !== undefined) out.prevKv = decodeKv(o.prev_kv);
  return out;
}

/** `{"revision","deleted","prev_kvs"?}` as a {@link DeleteResult}. */
export function decodeDelete(json: unknown, revision?: number): DeleteResult {
  const o = obj(json, "delete");
  const out: DeleteResult = { revision: revision ?? num(o, "revision"), deleted: num(o, "deleted", 0) };
  if (Array.isArray(o.prev_kvs)) out.prevKvs = o.prev_kvs.map(decodeKv);
  return out;
}
