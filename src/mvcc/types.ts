/**
 * Requests and responses of the key-value state machine, with etcd v3 semantics
 * (etcd api/etcdserverpb/rpc.proto, mvccpb/kv.proto), in JS types: bytes are Uint8Array,
 * int64 are numbers (revisions stay far below 2^53), fields absent mean etcd's default.
 */

/** A key-value pair at one revision (etcd mvccpb.KeyValue). */
export interface KeyValue {
  key: Uint8Array;
  /** Revision of the last creation of this key (0 after delete). */
  createRevision: number;
  /** Revision of the last modification. */
  modRevision: number;
  /** Number of modifications since creation (1 after create). */
  version: number;
  value: Uint8Array;
  /** Lease id attached, 0 for none. */
  lease: number;
  /** Cairn extension: the Content-Type given on PUT /v1/kv (absent if none). Not part of etcd's API. */
  contentType?: string;
}

/** Header of every response: the store revision after the operation (etcd ResponseHeader.revision). */
export interface ResponseHeader {
  revision: number;
}

export type SortOrder = "NONE" | "ASCEND" | "DESCEND";
export type SortTarget = "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";

/**
 * Range request. `rangeEnd` absent/empty: the single key `key`. `rangeEnd` = [0x00]: every key >= `key`.
 * Otherwise keys in [key, rangeEnd). `key` = [0x00] with `rangeEnd` = [0x00]: all keys.
 */
export interface RangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** Most keys returned; 0 or absent = no limit. */
  limit?: number;
  /** Revision to read at; 0 or absent = current. Below the compacted revision: error "compacted". */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  /** True when `limit` cut the result. */
  more: boolean;
  /** Number of keys in the range (before limit). */
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  /**
   * Lease id to attach, 0 for none. The lease must exist (CairnError "lease_not_found" otherwise,
   * etcd ErrLeaseNotFound); the key leaves its previous lease, and is deleted when this one is
   * revoked or expires.
   */
  lease?: number;
  prevKv?: boolean;
  /** Keep the current value (etcd ignore_value); fails with key_not_found if absent. */
  ignoreValue?: boolean;
  /** Keep the current lease (etcd ignore_lease). */
  ignoreLease?: boolean;
  /** Cairn extension: stored with the value, see KeyValue.contentType. */
  contentType?: string;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export type CompareTarget = "VERSION" | "CREATE" | "MOD" | "VALUE" | "LEASE";
export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

/**
 * One txn comparison (etcd Compare). The field matching `target` holds the operand:
 * version, createRevision, modRevision, value or lease. With `rangeEnd`, every key in the range
 * must satisfy it. A missing key has version/createRevision/modRevision/lease 0 and compares
 * false for VALUE (etcd behaviour).
 */
export interface Compare {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  target: CompareTarget;
  result: CompareResult;
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: number;
}

export type RequestOp =
  | { requestRange: RangeRequest }
  | { requestPut: PutRequest }
  | { requestDeleteRange: DeleteRangeRequest }
  | { requestTxn: TxnRequest };

export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

/**
 * Grant of a lease as the state machine applies it (etcd LeaseGrantRequest after etcdserver's
 * LeaseGrant picked an id). The proposing member has already chosen the id (when the client gave
 * 0) and raised the TTL to the minimum (etcd lessor minLeaseTTL), so applying it is deterministic.
 */
export interface LeaseGrantRequest {
  /** Lease id, 1 ..= 2^53-1 (Cairn keeps ids exact as JSON numbers; etcd allows any int64). */
  id: number;
  /** Granted TTL in seconds, 1 ..= MAX_LEASE_TTL_SECONDS (already at least the minimum TTL). */
  ttl: number;
}

/** etcd LeaseGrantResponse: the id and the TTL granted (seconds). A grant does not move the revision. */
export interface LeaseGrantResponse {
  header: ResponseHeader;
  id: number;
  ttl: number;
}

/**
 * Revoke of a lease (etcd LeaseRevokeRequest): by a client, or by the leader when the lease expired.
 * Deletes every key attached to the lease in one revision (one DELETE event per key).
 */
export interface LeaseRevokeRequest {
  id: number;
}

/** etcd LeaseRevokeResponse: header.revision is the revision after the keys were deleted. */
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

/** A lease in the replicated state (etcd lease.Lease without its expiry, which only the leader keeps). */
export interface LeaseInfo {
  id: number;
  /** Granted TTL in seconds. */
  ttl: number;
  /** Keys attached to the lease (keys that exist and were last put with it), sorted by bytes. */
  keys: Uint8Array[];
}

/** A replicated command: what a log entry's data decodes to (see mvcc/command.ts). */
export type Command =
  | { op: "put"; req: PutRequest }
  | { op: "deleteRange"; req: DeleteRangeRequest }
  | { op: "txn"; req: TxnRequest }
  | { op: "compact"; req: CompactionRequest }
  | { op: "leaseGrant"; req: LeaseGrantRequest }
  | { op: "leaseRevoke"; req: LeaseRevokeRequest };

/** Result of applying a command (the response matching its op), or the typed error it raised. */
export type CommandResult =
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | CompactionResponse
  | LeaseGrantResponse
  | LeaseRevokeResponse;

/** Kind of a watch event (etcd mvccpb.Event.EventType). */
export type EventType = "PUT" | "DELETE";

/**
 * One change of one key (etcd mvccpb.Event).
 * - PUT: `kv` is the key as the put left it.
 * - DELETE: `kv` carries only `key` and `modRevision` (the revision of the delete); the other
 *   fields are 0 / empty, as etcd sends a delete.
 * - `prevKv`: the key just before this change (at revision - 1), absent when it did not exist.
 *   Watchers that did not ask for prev_kv get events without it.
 */
export interface WatchEvent {
  type: EventType;
  kv: KeyValue;
  prevKv?: KeyValue;
}

/**
 * The events of one revision (one put, delete or txn), sorted by key (byte order). Cairn keeps
 * no sub-revisions (see store.ts), so a txn's events come in key order, live and replayed alike.
 */
export interface RevisionEvents {
  revision: number;
  events: WatchEvent[];
}
