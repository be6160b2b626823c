/**
 * `cairn/client`: the TypeScript client of Cairn (etcd v3 semantics over Cairn's native /v1 HTTP
 * JSON API; runs wherever `fetch` and web streams exist: Node.js 20+, Bun, Deno, workers).
 *
 * ```ts
 * import { CairnClient, compare, op } from "cairn/client";
 *
 * const client = new CairnClient({ endpoints: ["http://127.0.0.1:2379", "http://127.0.0.1:22379"] });
 * const { revision } = await client.put("config/db", JSON.stringify({ pool: 10 }), { contentType: "application/json" });
 * const { kv } = await client.get("config/db");               // kv?.value, kv?.modRevision, ...
 * await client.txn({
 *   compare: [compare.modRevision("config/db", "=", revision)],
 *   success: [op.put("config/db", '{"pool":20}')],
 * });
 * const w = client.watch("config/", { prefix: true }, (ev) => console.log(ev.type, ev));
 * const view = client.watchConfig("config/", (view, changed) => reload(view, changed));
 * const lease = await client.grant(10);                      // kept alive every TTL/3
 * await client.put("services/api/a", "10.0.0.7:8080", { lease: lease.id });
 * const lock = await client.lock("locks/jobs");              // lock.fencingToken
 * await lock.release();
 * client.close();
 * ```
 *
 * Units: TTLs in seconds (as etcd), every other duration in milliseconds; revisions, versions and
 * lease ids are JS numbers (Cairn keeps them at most 2^53-1).
 *
 * Errors: every call rejects with {@link CairnClientError} (`code`: the server's code, e.g.
 * "key_not_found", "precondition_failed", "compacted" (as {@link CompactedError} with
 * `compactRevision`), "no_leader", or a client code: "unknown_outcome", "unavailable",
 * "session_expired", "lease_lost", "not_leader", "no_leader_elected", "closed", "aborted").
 *
 * Retries and idempotency (see transport.ts):
 * - reads (get, getPrefix, read-only txn), watches, status, members, lease keep-alive and
 *   time-to-live are retried on the next endpoint after connection errors and 503/429 retryable
 *   answers, with exponential back-off (50 ms doubling to 2 s, equal jitter, 8 attempts by default);
 * - a write (put, delete, txn with writes, proclaim) is sent again only when the failed attempt
 *   provably had no effect: connection refused / unresolvable host, or the answers no_leader,
 *   leader_transferring, too_many_requests, which src/server/node.ts gives before proposing to
 *   Raft. After anything else (connection lost after sending, timeout, 503 timeout /
 *   leader_changed / stopped) it fails with "unknown_outcome" and is not repeated;
 * - writes that are harmless to repeat are marked so and retried: lease grant with a
 *   client-chosen id (lease_exists after a retry = created by us), revoke (lease_not_found after a
 *   retry = revoked by us), compaction, the create-if-absent txns of locks and elections, unlock
 *   and resign (conditional deletes of our own key); `delete(..., {idempotent: true})` and
 *   `txn(..., {idempotent: true})` let callers do the same for their own such writes.
 *
 * Locks and elections are etcd's clientv3/concurrency recipes on KV + txn + leases + watch
 * (concurrency.ts): keys `name/<lease hex>`, holder = lowest create_revision, fencing token =
 * create_revision. They interoperate with etcd's clients (etcdctl lock/elect) that use the same
 * name, and with Cairn's server-side lock / election routes only if those use the same layout.
 */

export type {
  CairnClientOptions,
  DeleteOptions,
  EndpointStatus,
  GetOptions,
  GetPrefixOptions,
  GrantOptions,
  LockHandle,
  Member,
  PutOptions,
  SortOptions,
  TxnOptions,
} from "./client.ts";
export { CairnClient } from "./client.ts";
export type { Observation, SessionOptions } from "./concurrency.ts";
export { Election, Mutex, Session } from "./concurrency.ts";
export type { ConfigChangeInfo, ConfigListener, ConfigViewOptions } from "./config-view.ts";
export { ConfigView } from "./config-view.ts";
export type { ClientErrorCode, ClientErrorInit, ClientOnlyCode } from "./errors.ts";
export { CairnClientError, CompactedError, isClientError, NO_EFFECT_CODES } from "./errors.ts";
export type { LeaseEnd, LeaseEndReason, LeaseTimeToLive } from "./lease.ts";
export { Lease } from "./lease.ts";
export type { Discovery, DiscoveryListener, RegisterOptions } from "./registry.ts";
export { Registration, SERVICES_PREFIX, serviceKey } from "./registry.ts";
export type { RetryOptions } from "./transport.ts";
export { Backoff, seededRandom } from "./transport.ts";
export type {
  Compare,
  CompareOp,
  CompareTarget,
  DeleteOp,
  GetOp,
  PutOp,
  TxnOp,
  TxnOpResult,
  TxnRequest,
  TxnResult,
} from "./txn.ts";
export { compare, op } from "./txn.ts";
export type { DeleteResult, GetResult, KeyValue, PutResult, RangeResult } from "./types.ts";
export type {
  WatchCompactedNotice,
  WatchEnd,
  WatchEvent,
  WatchFilter,
  WatchNotice,
  WatchOptions,
} from "./watch.ts";
export { Watch } from "./watch.ts";
