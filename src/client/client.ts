/**
 * CairnClient: the TypeScript SDK of Cairn's native /v1 API (README "Using it"), with etcd v3
 * semantics. See index.ts for the overview; every method documents its errors.
 */

import { MAX_KEY_BYTES } from "../util/limits.ts";
import { Election, Mutex, Session, type SessionOptions } from "./concurrency.ts";
import { type ConfigListener, ConfigView, type ConfigViewOptions } from "./config-view.ts";
import { CairnClientError, isClientError } from "./errors.ts";
import {
  decodeGrant,
  keepAliveLease,
  Lease,
  type LeaseTimeToLive,
  leaseTimeToLive,
  revokeLease,
} from "./lease.ts";
import {
  type Discovery,
  type DiscoveryListener,
  discover,
  type RegisterOptions,
  Registration,
} from "./registry.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS, type HttpRequest, type RetryOptions, Transport } from "./transport.ts";
import { decodeTxn, isReadOnly, type TxnRequest, type TxnResult, txnJson } from "./txn.ts";
import {
  type DeleteResult,
  decodeDelete,
  decodeKv,
  decodePut,
  decodeRange,
  type GetResult,
  num,
  obj,
  type PutResult,
  type RangeResult,
  utf8,
} from "./types.ts";
import {
  DEFAULT_WATCH_IDLE_TIMEOUT_MS,
  eventSink,
  Watch,
  type WatchEnd,
  type WatchNotice,
  type WatchOptions,
  type WatchSink,
} from "./watch.ts";

/** Options of {@link CairnClient}. */
export interface CairnClientOptions {
  /**
   * Client URLs of members (`--advertise-client-urls`), e.g. ["http://127.0.0.1:2379",
   * "http://127.0.0.1:22379"]. Calls go to one endpoint until it fails, then to the next.
   */
  endpoints: string[];
  /** Deadline of one attempt in ms (default 10 000, above the server's 7 s request timeout). */
  requestTimeoutMs?: number;
  /** Retry policy: attempts, back-off, random source (see RetryOptions). */
  retry?: RetryOptions;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /**
   * A watch stream that receives no byte (event or heartbeat) for this long is dropped and resumed
   * on the next endpoint (default 15 000 ms, three server heartbeats).
   */
  watchIdleTimeoutMs?: number;
}

/** Options of {@link CairnClient.put}. */
export interface PutOptions {
  /** Attach the key to this lease (it is deleted when the lease ends). */
  lease?: number;
  /** Return the key as it was before (`prevKv`). */
  prevKv?: boolean;
  /** Write only if the key's modRevision is this (compare-and-swap; `If-Match: "N"`). */
  ifMatchRevision?: number;
  /** Write only if the key does not exist (`If-None-Match: *`). */
  ifAbsent?: boolean;
  /**
   * Content-Type stored with the value; `application/json`, YAML and TOML types are checked by the
   * server (invalid_value with line and column when they do not parse).
   */
  contentType?: string;
}

/** Options of {@link CairnClient.get}. */
export interface GetOptions {
  /** Read the key as of this revision (must not be compacted). */
  revision?: number;
  /** Serve from the member's local state without a ReadIndex round (may be stale). */
  serializable?: boolean;
}

/** Sort of a range read (etcd SortTarget / SortOrder). */
export interface SortOptions {
  target: "key" | "version" | "create" | "mod" | "value";
  order: "ascend" | "descend";
}

/** Options of {@link CairnClient.getPrefix}. */
export interface GetPrefixOptions extends GetOptions {
  /** At most this many keys (the server's maximum is 100 000). */
  limit?: number;
  /** Leave values out. */
  keysOnly?: boolean;
  /** Only count. */
  countOnly?: boolean;
  sort?: SortOptions;
}

/** Options of {@link CairnClient.delete}. */
export interface DeleteOptions {
  /** Delete every key starting with `key`. */
  prefix?: boolean;
  /** Return the deleted keys. */
  prevKv?: boolean;
  /** Delete only if the key's modRevision is this (single key). */
  ifMatchRevision?: number;
  /**
   * Declare the delete safe to repeat (e.g. deleting a key only this process writes), so that it
   * is retried like a read after an unknown outcome instead of failing with unknown_outcome.
   */
  idempotent?: boolean;
}

/** Options of {@link CairnClient.txn}. */
export interface TxnOptions {
  /** For a read-only txn: serve it from the member's local state. */
  serializable?: boolean;
  /**
   * Declare a txn with writes safe to repeat (e.g. a create-if-absent of a key only this process
   * writes, whose failure branch reads the key), so it is retried like a read. A read-only txn is
   * always retried.
   */
  idempotent?: boolean;
}

/** Options of {@link CairnClient.grant}. */
export interface GrantOptions {
  /** Lease id to use (default: a random one chosen by the client, see grant). */
  id?: number;
  /** Keep the lease alive automatically (default true). */
  keepAlive?: boolean;
}

/** A member as GET /v1/cluster/members lists it. */
export interface Member {
  /** 16 hex digits. */
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  started: boolean;
}

/** GET /v1/status of one member (etcd `endpoint status` plus Cairn's history figures). */
export interface EndpointStatus {
  endpoint: string;
  clusterId: string;
  memberId: string;
  name: string;
  version: string;
  /** Leader's member id, "" when none is known. */
  leader: string;
  isLeader: boolean;
  isLearner: boolean;
  raftTerm: number;
  raftIndex: number;
  commitIndex: number;
  appliedIndex: number;
  revision: number;
  compactRevision: number;
  historyEntries: number;
  historyBytes: number;
  keys: number;
  leases: number;
  dbSize: number;
  errors: string[];
}

/** A lock held through {@link CairnClient.lock}. */
export interface LockHandle {
  /** The lock key, `name/<lease hex>`. */
  key: string;
  /**
   * Fencing token: the key's create revision, larger for every later holder. Hand it to the
   * resource you protect, which refuses tokens lower than the highest it has seen.
   */
  fencingToken: number;
  /** The mutex (ownerCompare() guards Cairn writes by ownership). */
  mutex: Mutex;
  /** The session (lease) holding the lock; `session.done` aborts if it is lost. */
  session: Session;
  /** Releases the lock and closes (revokes) the session. */
  release(): Promise<void>;
}

/** Largest lease id (ids travel as JSON numbers). */
const MAX_LEASE_ID = Number.MAX_SAFE_INTEGER;
/** Grants retried with a fresh random id after lease_exists (a collision), at most. */
const GRANT_ID_COLLISION_RETRIES = 3;

function keyPath(key: string): string {
  return `/v1/kv/${encodeURIComponent(key)}`;
}

function withQuery(path: string, q: URLSearchParams): string {
  const s = q.toString();
  return s === "" ? path : `${path}?${s}`;
}

function checkKey(key: string, what: string): void {
  if (typeof key !== "string" || key === "") {
    throw new CairnClientError("invalid_argument", `${what}: key is required`);
  }
}

/** A random lease id in 1 ..= 2^53-1 from crypto (not the injectable jitter source: ids must not collide between clients). */
function randomLeaseId(): number {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  const id = (words[0]! & 0x1fffff) * 2 ** 32 + words[1]!;
  return id === 0 || id > MAX_LEASE_ID ? 1 : id;
}

/**
 * A client of a Cairn cluster. One instance per process is enough: it is cheap, calls run
 * concurrently, and close() ends every watch and keep-alive it started.
 *
 * Failover and retries: calls go to one endpoint until it fails (connection error or a 503/429
 * retryable answer), then to the next. Reads, watches, status, keep-alive, time-to-live and
 * read-only txns are retried with exponential back-off and jitter, up to `retry.maxAttempts`.
 * Writes (put, delete, txn with writes, grant without retry-safety, proclaim) are retried only when
 * the failed attempt provably had no effect (connection refused, or no_leader /
 * leader_transferring / too_many_requests answers: the member refused before proposing);
 * otherwise they fail with code "unknown_outcome".
 */
export class CairnClient {
  /** The HTTP layer (endpoints, retry policy). */
  readonly transport: Transport;
  private readonly watchIdleTimeoutMs: number;
  private readonly watches = new Set<Watch>();
  private readonly leases = new Set<Lease>();
  private readonly closers = new Set<() => void>();

  /** @throws CairnClientError "invalid_argument" without endpoints or with a non-http(s) one */
  constructor(opts: CairnClientOptions) {
    this.transport = new Transport({
      endpoints: opts.endpoints,
      requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.watchIdleTimeoutMs = opts.watchIdleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
  }

  /** The endpoint calls currently go to. */
  get endpoint(): string {
    return this.transport.currentEndpoint();
  }

  /**
   * Ends every watch, keep-alive, config view, registration and call of this client (leases are not
   * revoked: they expire after their TTL). Later calls fail with "closed".
   */
  close(): void {
    for (const c of [...this.closers]) c();
    for (const w of [...this.watches]) w.cancel();
    for (const l of [...this.leases]) l.close();
    this.transport.close();
  }

  /** @internal registers a helper's close() with close(); returns the unregister function */
  track(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  private call(req: HttpRequest) {
    return this.transport.json(req);
  }

  // ---- KV -------------------------------------------------------------------------------------

  /**
   * Writes `value` at `key` (etcd Put). A string value is sent as UTF-8; bytes as they are.
   * @returns the revision of the write (and the previous key with prevKv)
   * @throws CairnClientError "precondition_failed" (ifMatchRevision / ifAbsent did not hold;
   *   details.exists, details.mod_revision), "invalid_value" (contentType says JSON/YAML/TOML and
   *   the value does not parse), "lease_not_found", "payload_too_large", "invalid_argument",
   *   "unknown_outcome" (not retried: read the key to find out), retry errors
   */
  async put(key: string, value: string | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    checkKey(key, "put");
    const q = new URLSearchParams();
    if (opts.lease) q.set("lease", String(opts.lease));
    if (opts.prevKv) q.set("prev_kv", "true");
    const headers: Record<string, string> = {};
    if (opts.ifMatchRevision !== undefined) headers["if-match"] = `"${opts.ifMatchRevision}"`;
    if (opts.ifAbsent) headers["if-none-match"] = "*";
    if (opts.contentType !== undefined) headers["content-type"] = opts.contentType;
    const { json } = await this.call({
      method: "PUT",
      path: withQuery(keyPath(key), q),
      body: typeof value === "string" ? utf8(value) : value,
      headers,
      idempotent: false,
      what: `put ${key}`,
    });
    return decodePut(json);
  }

  /**
   * Reads one key (etcd Range on one key); linearizable unless `serializable`.
   * @returns the store revision and the key, `kv` undefined when absent
   * @throws CairnClientError CompactedError (revision compacted), "future_revision", retry errors
   */
  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    checkKey(key, "get");
    const q = new URLSearchParams();
    // A range [key, key + "\0") is exactly the key, and answers with the revision even when the
    // key is absent; a key at the size limit has no such range end, so it is read alone (a 404
    // then leaves the revision unknown: 0).
    const alone = utf8(key).length >= MAX_KEY_BYTES;
    if (alone) q.set("meta", "true");
    else q.set("range_end", `${key}\u0000`);
    if (opts.revision) q.set("rev", String(opts.revision));
    if (opts.serializable) q.set("consistency", "serializable");
    const req: HttpRequest = {
      method: "GET",
      path: withQuery(keyPath(key), q),
      idempotent: true,
      what: `get ${key}`,
    };
    if (alone) {
      try {
        const { json } = await this.call(req);
        const o = obj(json, "get");
        return { revision: num(o, "revision"), kv: decodeKv(o.kv) };
      } catch (err) {
        if (isClientError(err, "key_not_found")) return { revision: 0, kv: undefined };
        throw err;
      }
    }
    const r = decodeRange((await this.call(req)).json);
    return { revision: r.revision, kv: r.kvs[0] };
  }

  /**
   * Reads every key starting with `prefix` ("" = every key), in key order unless sorted.
   * @throws CairnClientError CompactedError, "future_revision", "invalid_argument" (limit over
   *   100 000), retry errors
   */
  async getPrefix(prefix: string, opts: GetPrefixOptions = {}): Promise<RangeResult> {
    const q = new URLSearchParams({ prefix: "true" });
    if (opts.revision) q.set("rev", String(opts.revision));
    if (opts.serializable) q.set("consistency", "serializable");
    if (opts.limit) q.set("limit", String(opts.limit));
    if (opts.keysOnly) q.set("keys_only", "true");
    if (opts.countOnly) q.set("count_only", "true");
    if (opts.sort) {
      q.set("sort_target", opts.sort.target);
      q.set("sort_order", opts.sort.order);
    }
    const { json } = await this.call({
      method: "GET",
      path: withQuery(keyPath(prefix), q),
      idempotent: true,
      what: `get prefix ${prefix}`,
    });
    return decodeRange(json);
  }

  /**
   * Deletes a key, or every key starting with it (`prefix`).
   * @returns the revision after the delete and the number of keys deleted (0 when none existed)
   * @throws CairnClientError "precondition_failed", "invalid_argument", "unknown_outcome" (unless
   *   `idempotent`), retry errors
   */
  async delete(key: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    if (!opts.prefix) checkKey(key, "delete");
    const q = new URLSearchParams();
    if (opts.prefix) q.set("prefix", "true");
    if (opts.prevKv) q.set("prev_kv", "true");
    const headers: Record<string, string> = {};
    if (opts.ifMatchRevision !== undefined) headers["if-match"] = `"${opts.ifMatchRevision}"`;
    const { json } = await this.call({
      method: "DELETE",
      path: withQuery(keyPath(key), q),
      headers,
      idempotent: opts.idempotent === true,
      what: `delete ${key}${opts.prefix ? " (prefix)" : ""}`,
    });
    return decodeDelete(json);
  }

  /** Deletes every key starting with `prefix`; same as delete(prefix, {prefix: true}). */
  deletePrefix(prefix: string, opts: Omit<DeleteOptions, "prefix"> = {}): Promise<DeleteResult> {
    return this.delete(prefix, { ...opts, prefix: true });
  }

  /**
   * Runs a transaction (etcd Txn): compares AND-ed, then the success or failure ops, in one revision.
   * Build it with `compare.*` and `op.*` (txn.ts). A read-only txn is retried like a read.
   * @throws CairnClientError "invalid_argument" (bad compare, duplicate key, too many ops),
   *   "invalid_value", "lease_not_found", "unknown_outcome" (a txn with writes, unless
   *   `idempotent`), retry errors
   */
  async txn(req: TxnRequest, opts: TxnOptions = {}): Promise<TxnResult> {
    const readOnly = isReadOnly(req);
    const q = new URLSearchParams();
    if (readOnly && opts.serializable) q.set("consistency", "serializable");
    const { json } = await this.call({
      method: "POST",
      path: withQuery("/v1/txn", q),
      body: JSON.stringify(txnJson(req)),
      headers: { "content-type": "application/json" },
      idempotent: readOnly || opts.idempotent === true,
      what: "txn",
    });
    return decodeTxn(json);
  }

  /**
   * Compacts history up to `revision` (etcd Compact): reads and watches below it fail with
   * "compacted" afterwards. Retried (a compaction answered "compacted" after a retry whose first
   * attempt may have been applied counts as done).
   * @returns the store revision after the compaction
   * @throws CompactedError (already compacted at or beyond it), "future_revision", retry errors
   */
  async compact(revision: number): Promise<number> {
    try {
      const { json } = await this.call({
        method: "POST",
        path: "/v1/compaction",
        body: JSON.stringify({ revision }),
        headers: { "content-type": "application/json" },
        idempotent: true,
        what: `compaction to ${revision}`,
      });
      return num(obj(json, "compaction"), "revision");
    } catch (err) {
      if (isClientError(err, "compacted") && err.maybeAppliedEarlier) return 0;
      throw err;
    }
  }

  // ---- watch ----------------------------------------------------------------------------------

  /**
   * Watches a key, a prefix or a range (etcd Watch over SSE) and keeps watching across reconnects,
   * endpoint failover and leader changes: each event is delivered once, in revision order, none
   * missed (see watch.ts). With `onEvent`, it is called for each event (awaited when it returns a
   * promise) and, if history was compacted, once with `{type: "compacted", compactRevision}` as the
   * final notice; without it, iterate the returned Watch (`for await`), which throws CompactedError
   * then. Await `watch.ready` to know the watch is established; `watch.done` says how it ended.
   * An exception thrown by `onEvent` ends the watch (done: reason "error").
   */
  watch(key: string, opts?: WatchOptions, onEvent?: (ev: WatchNotice) => void | Promise<void>): Watch {
    return this.openWatch(key, opts ?? {}, onEvent ? eventSink(onEvent) : undefined, (end) => {
      if (end.reason === "compacted" && onEvent) {
        try {
          void onEvent({ type: "compacted", compactRevision: end.compactRevision, error: end.error });
        } catch {
          // the watch has ended anyway
        }
      }
    });
  }

  /** @internal a watch with a per-revision sink (watchConfig, lock and election waits) */
  openWatch(
    key: string,
    opts: WatchOptions,
    sink: WatchSink | undefined,
    onEnd?: (end: WatchEnd) => void,
  ): Watch {
    if (this.transport.isClosed) throw this.transport.closedError();
    const w: Watch = new Watch(this.transport, key, opts, sink, this.watchIdleTimeoutMs, (end) => {
      this.watches.delete(w);
      onEnd?.(end);
    });
    this.watches.add(w);
    return w;
  }

  // ---- leases ---------------------------------------------------------------------------------

  /**
   * Grants a lease of `ttlSeconds` (etcd LeaseGrant; the server raises a TTL below its minimum) and,
   * unless `keepAlive: false`, keeps it alive every TTL/3 until close(), revoke() or loss.
   * The client picks a random id (unless `id` is given), which makes the grant safe to retry: an
   * answer lease_exists after a retry means the earlier attempt created it; a lease_exists on a
   * first attempt (a collision) is retried with another id.
   * @throws CairnClientError "lease_exists" (the given id is taken), "lease_ttl_too_large",
   *   "too_many_requests" (too many leases), retry errors
   */
  async grant(ttlSeconds: number, opts: GrantOptions = {}): Promise<Lease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new CairnClientError(
        "invalid_argument",
        `grant: TTL must be a positive integer of seconds, got ${ttlSeconds}`,
      );
    }
    for (let collisions = 0; ; collisions++) {
      const id = opts.id ?? randomLeaseId();
      const startedMs = Date.now();
      let granted: { id: number; ttl: number };
      try {
        const { json } = await this.call({
          method: "POST",
          path: "/v1/leases",
          body: JSON.stringify({ ttl: ttlSeconds, id }),
          headers: { "content-type": "application/json" },
          idempotent: true,
          what: `grant of lease ${id.toString(16)}`,
        });
        granted = decodeGrant(json);
      } catch (err) {
        if (!isClientError(err, "lease_exists")) throw err;
        if (err.maybeAppliedEarlier) {
          const t = await leaseTimeToLive(this.transport, id, false);
          granted = { id, ttl: t.grantedTtl };
        } else if (opts.id === undefined && collisions < GRANT_ID_COLLISION_RETRIES) {
          continue;
        } else {
          throw err;
        }
      }
      const lease = new Lease(this.transport, granted.id, granted.ttl, opts.keepAlive !== false, startedMs);
      this.leases.add(lease);
      void lease.ended.then(() => this.leases.delete(lease));
      return lease;
    }
  }

  /**
   * Revokes lease `id`: its keys are deleted in one revision (etcd LeaseRevoke).
   * @returns the store revision after the revoke
   * @throws CairnClientError "lease_not_found", retry errors
   */
  async revoke(id: number): Promise<number> {
    for (const l of this.leases) if (l.id === id) l.close();
    return revokeLease(this.transport, id);
  }

  /** Renews lease `id` once. @returns its TTL in seconds @throws "lease_not_found", retry errors */
  async keepAliveOnce(id: number): Promise<number> {
    return (await keepAliveLease(this.transport, id)).ttl;
  }

  /** Remaining TTL (and keys) of lease `id`. @throws "lease_not_found", retry errors */
  timeToLive(id: number, opts: { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    return leaseTimeToLive(this.transport, id, opts.keys === true);
  }

  /** Every lease of the cluster with its granted TTL. */
  async leaseList(): Promise<{ revision: number; leases: { id: number; grantedTtl: number }[] }> {
    const { json } = await this.call({
      method: "GET",
      path: "/v1/leases",
      idempotent: true,
      what: "lease list",
    });
    const o = obj(json, "lease list");
    const leases = (Array.isArray(o.leases) ? o.leases : []).map((l) => {
      const x = obj(l, "lease");
      return { id: num(x, "id"), grantedTtl: num(x, "granted_ttl") };
    });
    return { revision: num(o, "revision"), leases };
  }

  // ---- cluster --------------------------------------------------------------------------------

  /**
   * GET /v1/status of `endpoint` (one attempt, no failover), or of the current endpoint with
   * failover when absent.
   * @throws CairnClientError "unavailable" when it does not answer, retry errors
   */
  async status(endpoint?: string): Promise<EndpointStatus> {
    let json: unknown;
    let answeredBy: string;
    if (endpoint !== undefined) {
      const t = new Transport({
        endpoints: [endpoint],
        requestTimeoutMs: this.transport.requestTimeoutMs,
        retry: { maxAttempts: 1 },
        fetch: this.transport.fetchFn,
      });
      const r = await t.json({ method: "GET", path: "/v1/status", idempotent: true, what: "status" });
      json = r.json;
      answeredBy = r.res.endpoint;
    } else {
      const r = await this.call({ method: "GET", path: "/v1/status", idempotent: true, what: "status" });
      json = r.json;
      answeredBy = r.res.endpoint;
    }
    const o = obj(json, "status");
    const s = (f: string) => (typeof o[f] === "string" ? (o[f] as string) : "");
    return {
      endpoint: answeredBy,
      clusterId: s("cluster_id"),
      memberId: s("member_id"),
      name: s("name"),
      version: s("version"),
      leader: s("leader"),
      isLeader: o.is_leader === true,
      isLearner: o.is_learner === true,
      raftTerm: num(o, "raft_term", 0),
      raftIndex: num(o, "raft_index", 0),
      commitIndex: num(o, "commit_index", 0),
      appliedIndex: num(o, "applied_index", 0),
      revision: num(o, "revision", 0),
      compactRevision: num(o, "compact_revision", 0),
      historyEntries: num(o, "history_entries", 0),
      historyBytes: num(o, "history_bytes", 0),
      keys: num(o, "keys", 0),
      leases: num(o, "leases", 0),
      dbSize: num(o, "db_size", 0),
      errors: Array.isArray(o.errors) ? o.errors.map(String) : [],
    };
  }

  /** The members of the cluster (GET /v1/cluster/members). @throws retry errors */
  async members(): Promise<Member[]> {
    const { json } = await this.call({
      method: "GET",
      path: "/v1/cluster/members",
      idempotent: true,
      what: "member list",
    });
    const o = obj(json, "members");
    return (Array.isArray(o.members) ? o.members : []).map((m) => {
      const x = obj(m, "member");
      return {
        id: String(x.id),
        name: String(x.name ?? ""),
        peerUrls: Array.isArray(x.peer_urls) ? x.peer_urls.map(String) : [],
        clientUrls: Array.isArray(x.client_urls) ? x.client_urls.map(String) : [],
        isLearner: x.is_learner === true,
        started: x.started === true,
      };
    });
  }

  // ---- coordination ---------------------------------------------------------------------------

  /**
   * A session: a lease kept alive for locks and elections (etcd concurrency.NewSession; default
   * TTL 60 s). Closing the session revokes the lease, releasing every lock and candidacy held
   * with it.
   */
  session(opts: SessionOptions = {}): Promise<Session> {
    return Session.create(this, opts);
  }

  /** A mutex on `name` for `session` (etcd concurrency.NewMutex; keys `name/<lease hex>`). */
  mutex(session: Session, name: string): Mutex {
    return new Mutex(this, session, name);
  }

  /**
   * Acquires the lock `name` with a new session (etcd `etcdctl lock`): resolves when held.
   * @returns the held lock: `key`, `fencingToken` (its create revision), release()
   * @throws CairnClientError "session_expired", "aborted", retry errors
   */
  async lock(name: string, opts: SessionOptions & { signal?: AbortSignal } = {}): Promise<LockHandle> {
    const session = await this.session(opts);
    const mutex = this.mutex(session, name);
    try {
      await mutex.lock(opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      await session.close().catch(() => {});
      throw err;
    }
    return {
      key: mutex.key,
      fencingToken: mutex.fencingToken,
      mutex,
      session,
      release: async () => {
        try {
          await mutex.unlock();
        } finally {
          await session.close().catch(() => {});
        }
      },
    };
  }

  /**
   * An election on `name` (etcd concurrency.NewElection; keys `name/<lease hex>`). Campaigning
   * needs a session; observing and leader() do not.
   */
  election(name: string, session?: Session): Election {
    return new Election(this, name, session);
  }

  // ---- config and services --------------------------------------------------------------------

  /**
   * A local materialized view of every key under `prefix` (key → value), kept current for hot
   * reload: read at revision R, watch from R + 1; after a compaction the prefix is read again and
   * only the keys that differ are reported. `onChange(view, changedKeys, info)` is called after the
   * first read (every key counts as changed) and after every revision that changed something.
   */
  watchConfig(prefix: string, onChange: ConfigListener, opts: ConfigViewOptions = {}): ConfigView {
    return new ConfigView(this, prefix, onChange, opts);
  }

  /**
   * Registers a service instance: puts `services/<service>/<instanceId>` = value under a lease of
   * `ttl` seconds (default 10) kept alive; if the lease is lost, a new one is granted and the key
   * put again. close() revokes the lease (the key disappears at once).
   */
  register(service: string, instanceId: string, value: string, opts: RegisterOptions = {}): Registration {
    return new Registration(this, service, instanceId, value, opts);
  }

  /**
   * Discovers the instances of `service`: a watchConfig of `services/<service>/`, reported as
   * instanceId → value.
   */
  discover(service: string, onChange: DiscoveryListener, opts: ConfigViewOptions = {}): Discovery {
    return discover(this, service, onChange, opts);
  }
}
