/**
 * Distributed locks and leader elections on top of one member's KvService, with the semantics of
 * etcd's v3lock and v3election services (etcd server/etcdserver/api/v3lock, v3election, built on
 * client/v3/concurrency Mutex and Election). Nothing here is replicated state of its own: a lock
 * or a candidacy is one key with a lease, and who holds it follows from create revisions.
 *
 * The rule (etcd concurrency): a contender for NAME writes the key `NAME/<lease id in hex>` with
 * its lease (or finds it already written by the same lease), then waits until its key has the
 * lowest create_revision under the prefix `NAME/`. It does not poll: it watches the one key with
 * the next-lower create revision until that key is deleted (released, or its lease expired), then
 * looks again (etcd waitDeletes). Contenders are therefore served in the order of their keys'
 * create revisions, and every waiter watches exactly one key (no thundering herd).
 *
 * Fencing: the create_revision of the lock key is the fencing token. It is strictly greater for
 * every later holder (a later holder's key was created after every earlier holder's key), so a
 * protected resource that refuses tokens lower than the highest it has seen, or a txn that
 * compares the lock key's create_revision, stays safe when a holder pauses past its lease
 * (docs/locks.md).
 *
 * Bounds: at most MAX_LOCK_WAITERS lock/campaign calls and MAX_ELECTION_OBSERVERS observers per
 * member (too_many_requests past them); every wait ends at its timeout (deadline_exceeded) or when
 * its caller's AbortSignal fires (the HTTP client went away), and a wait that ends so deletes the
 * key it created and closes its watch.
 */
import { prefixEnd } from "../mvcc/keys.ts";
import type { KeyValue, RangeRequest, RangeResponse, TxnResponse } from "../mvcc/types.ts";
import { assert } from "../util/assert.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { MAX_ELECTION_OBSERVERS, MAX_LOCK_WAIT_MS, MAX_LOCK_WAITERS } from "../util/limits.ts";
import type { KvService } from "./service.ts";

/** How long one lock or campaign call may wait, and what else ends it. */
export interface WaitOptions {
  /** Longest wait in ms, 1 ..= MAX_LOCK_WAIT_MS. At the end the call fails with deadline_exceeded. */
  timeoutMs: number;
  /** Ends the wait early (the HTTP client went away); the call then fails with deadline_exceeded. */
  signal?: AbortSignal;
}

/** A lock held (etcd v3lockpb.LockResponse plus what Cairn adds). */
export interface LockHeld {
  /** The lock key `NAME/<lease hex>`: give it to {@link LockService.unlock}. */
  key: Uint8Array;
  /**
   * Header revision of the answer (etcd LockResponse.header.revision; etcdctl's ETCD_LOCK_REV): the
   * revision at which the lock was seen held. Strictly greater for every later holder.
   */
  revision: number;
  /** create_revision of the lock key: the fencing token (strictly greater for every later holder). */
  fencingToken: number;
  /** The lease the key is attached to. */
  lease: number;
}

/** etcd v3electionpb.LeaderKey: what identifies one candidacy (returned by campaign). */
export interface LeaderKey {
  /** The election name. */
  name: Uint8Array;
  /** The candidate's key `NAME/<lease hex>`. */
  key: Uint8Array;
  /** create_revision of the key: proclaim and resign act only while the key still has it. */
  rev: number;
  /** The lease the key is attached to. */
  lease: number;
}

/** A campaign won (etcd CampaignResponse). */
export interface CampaignWon {
  /**
   * Header revision (etcd: the revision of the campaign's own txn, i.e. when the candidate's key
   * was written, not when it became leader).
   */
  revision: number;
  leader: LeaderKey;
}

/** One state of an election as observe() reports it. */
export interface ObservedLeader {
  /** Revision of the observation (for a proclaim: the revision of the put). */
  revision: number;
  /** The leader's key-value (its value is the proclaimed value); undefined = no leader now. */
  kv: KeyValue | undefined;
}

const SLASH = 0x2f;
const EMPTY = new Uint8Array(0);

/** `NAME/` as bytes. */
function prefixOf(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length + 1);
  out.set(name);
  out[name.length] = SLASH;
  return out;
}

/** `NAME/<lease id in lowercase hex>` (etcd: fmt.Sprintf("%s%x", pfx, lease)). */
export function contenderKey(name: Uint8Array, lease: number): Uint8Array {
  const prefix = prefixOf(name);
  const hex = new TextEncoder().encode(lease.toString(16));
  const out = new Uint8Array(prefix.length + hex.length);
  out.set(prefix);
  out.set(hex, prefix.length);
  return out;
}

/** True when `key` is `prefix` followed by at least one byte. */
function isUnder(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** etcd clientv3.WithFirstCreate on a prefix: the key with the lowest create revision. */
function firstCreate(prefix: Uint8Array): RangeRequest {
  return { key: prefix, rangeEnd: prefixEnd(prefix), sortTarget: "CREATE", sortOrder: "ASCEND", limit: 1 };
}

/** The range response at `index` of a txn's responses. */
function rangeAt(resp: TxnResponse, index: number): RangeResponse {
  const op = resp.responses[index];
  assert(op !== undefined && "responseRange" in op, "locks: txn response without its range");
  return op.responseRange;
}

/** A lease id the state machine accepts: 1 ..= 2^53-1. */
function checkLease(lease: number): void {
  if (!Number.isSafeInteger(lease) || lease < 1) {
    throw invalidArgument(`lease must be a lease id from 1 to 2^53-1, got ${lease}`);
  }
}

/** A counter of slots: taking one past `max` throws too_many_requests. */
class Slots {
  private used = 0;
  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** @returns the release function (idempotent) @throws CairnError "too_many_requests" */
  take(): () => void {
    if (this.used >= this.max) {
      throw new CairnError("too_many_requests", `etcdserver: too many requests (${this.max} ${this.what})`);
    }
    this.used++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.used--;
      }
    };
  }
}

/** A contender key just written (or found) by LockService.contend, for its `wait` step. */
interface Contender {
  /** `name/`: the contenders' common prefix. */
  prefix: Uint8Array;
  /** `name/<lease hex>`. */
  key: Uint8Array;
  /** The key's create revision: the lock's fencing token, the candidate's place in line. */
  rev: number;
  /** True when this call created the key (false: the lease held it already). */
  created: boolean;
  /** The create-or-read txn's answer (its range results: the key when it existed, then the owner). */
  resp: TxnResponse;
  deadline: Deadline;
}

/** One bounded wait: a signal that fires at the timeout or when the caller's signal does. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort: () => void;

  constructor(private readonly opts: WaitOptions) {
    const ms = opts.timeoutMs;
    if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_LOCK_WAIT_MS) {
      throw invalidArgument(`timeout must be 1 to ${MAX_LOCK_WAIT_MS} ms, got ${ms}`);
    }
    this.timer = setTimeout(
      () =>
        this.controller.abort(
          new CairnError("deadline_exceeded", `context deadline exceeded: not acquired within ${ms} ms`),
        ),
      ms,
    );
    this.onCallerAbort = () =>
      this.controller.abort(new CairnError("deadline_exceeded", "context canceled: the client went away"));
    if (opts.signal?.aborted) this.onCallerAbort();
    else opts.signal?.addEventListener("abort", this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the reason once the wait is over. */
  check(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason as CairnError;
  }

  /** Throws when the caller's own signal fired (its client went away). */
  checkCaller(): void {
    if (this.opts.signal?.aborted)
      throw new CairnError("deadline_exceeded", "context canceled: the client went away");
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener("abort", this.onCallerAbort);
  }
}

/** Limits of a {@link LockService} (tests make them small). */
export interface LockServiceLimits {
  /** Most lock + campaign calls in progress (default MAX_LOCK_WAITERS). */
  maxWaiters?: number;
  /** Most observers (default MAX_ELECTION_OBSERVERS). */
  maxObservers?: number;
}

/** Locks and elections of one member (see the module comment). One per API app. */
export class LockService {
  private readonly waiters: Slots;
  private readonly observers: Slots;

  constructor(
    private readonly kv: KvService,
    limits: LockServiceLimits = {},
  ) {
    this.waiters = new Slots(limits.maxWaiters ?? MAX_LOCK_WAITERS, "lock and campaign waiters");
    this.observers = new Slots(limits.maxObservers ?? MAX_ELECTION_OBSERVERS, "election observers");
  }

  /** Lock and campaign calls in progress (for tests and status). */
  get waiterCount(): number {
    return this.waiters.inUse;
  }

  /** Observers in progress. */
  get observerCount(): number {
    return this.observers.inUse;
  }

  /**
   * Acquires lock `name` for `lease` (etcd v3lock Lock = concurrency.Mutex.Lock): writes
   * `name/<lease hex>` with the lease unless the lease already has that key (then the same key
   * is used again, as etcd does), and waits until it has the lowest create revision under
   * `name/`. A wait that fails (timeout, caller gone, error) deletes the key this call wrote.
   * Each read while waiting also checks the key is still there: gone means its lease expired
   * meanwhile (etcd 3.5 reads it once more after waiting).
   * @param name lock name (any bytes, may be empty as in etcd)
   * @throws CairnError "too_many_requests" (MAX_LOCK_WAITERS), "lease_not_found", "deadline_exceeded"
   *   (timeout or caller gone), "session_expired" (the key vanished while waiting),
   *   "invalid_argument", retryable errors of the KvService
   */
  async lock(name: Uint8Array, lease: number, opts: WaitOptions): Promise<LockHeld> {
    return this.contend(name, lease, EMPTY, opts, true, async (c) => {
      const owner = rangeAt(c.resp, 1).kvs[0];
      let revision = c.resp.header.revision;
      if (owner !== undefined && owner.createRevision !== c.rev) {
        revision = await this.waitTurn(c.prefix, c.key, c.rev, c.deadline);
      }
      return { key: c.key, revision, fencingToken: c.rev, lease };
    });
  }

  /**
   * Releases a lock (etcd v3lock Unlock): deletes `key`. Deleting a key that is already gone is
   * not an error (the lock was lost: its lease expired).
   * @returns the header revision and whether a key was deleted
   * @throws CairnError "invalid_argument" (empty key), retryable errors
   */
  async unlock(key: Uint8Array): Promise<{ revision: number; deleted: boolean }> {
    if (key.length === 0) throw invalidArgument("etcdserver: key is not provided");
    const resp = await this.kv.deleteRange({ key });
    return { revision: resp.header.revision, deleted: resp.deleted > 0 };
  }

  /**
   * Campaigns in election `name` (etcd v3election Campaign = concurrency.Election.Campaign): writes
   * `name/<lease hex>` = `value` with the lease (an existing key of the same lease is kept and its
   * value proclaimed when it differs), then waits until it leads (lowest create revision under
   * `name/`; the read that finds it leading also finds its key still there, or fails with
   * session_expired). A wait that fails deletes the key this call wrote.
   * @returns the leader key and the header revision of the campaign's txn (etcd's)
   * @throws CairnError as {@link lock}
   */
  async campaign(
    name: Uint8Array,
    lease: number,
    value: Uint8Array,
    opts: WaitOptions,
  ): Promise<CampaignWon> {
    return this.contend(name, lease, value, opts, false, async (c) => {
      const leader: LeaderKey = { name, key: c.key, rev: c.rev, lease };
      const existing = c.created ? undefined : rangeAt(c.resp, 0).kvs[0]!;
      if (existing && !bytesEqual(existing.value, value)) await this.proclaim(leader, value);
      await this.waitTurn(c.prefix, c.key, c.rev, c.deadline);
      return { revision: c.resp.header.revision, leader };
    });
  }

  /**
   * The steps lock and campaign share (etcd concurrency.Mutex.Lock / Election.Campaign): take a
   * waiter slot, create the contender key `name/<lease hex>` = `value` with the lease unless it
   * exists (then it is read instead; with `readOwner`, the txn also reads the key with the lowest
   * create revision under `name/`), and run `wait` with the outcome. When `wait` fails, or the
   * caller left by the time it returns, a key this call created is deleted again.
   * @throws CairnError "too_many_requests", "lease_not_found", "invalid_argument", "deadline_exceeded",
   *   whatever `wait` throws, retryable errors of the KvService
   */
  private async contend<T>(
    name: Uint8Array,
    lease: number,
    value: Uint8Array,
    opts: WaitOptions,
    readOwner: boolean,
    wait: (c: Contender) => Promise<T>,
  ): Promise<T> {
    checkLease(lease);
    const deadline = new Deadline(opts);
    let release: (() => void) | undefined;
    try {
      release = this.waiters.take();
      const prefix = prefixOf(name);
      const key = contenderKey(name, lease);
      const owner = readOwner ? [{ requestRange: firstCreate(prefix) }] : [];
      const resp = await this.kv.txn({
        compare: [{ key, target: "CREATE", result: "EQUAL", createRevision: 0 }],
        success: [{ requestPut: { key, value, lease } }, ...owner],
        failure: [{ requestRange: { key } }, ...owner],
      });
      const created = resp.succeeded;
      const rev = created ? resp.header.revision : rangeAt(resp, 0).kvs[0]!.createRevision;
      try {
        const result = await wait({ prefix, key, rev, created, resp, deadline });
        // The caller left while the txn or the last read ran: nobody will learn of this hold.
        if (created) deadline.checkCaller();
        return result;
      } catch (err) {
        if (created) await this.deleteIfCreatedAt(key, rev);
        throw err;
      }
    } finally {
      deadline.dispose();
      release?.();
    }
  }

  /**
   * Sets the leader's value (etcd Proclaim): puts `value` on `leader.key` with its lease only while
   * the key still has create revision `leader.rev`.
   * @returns the header revision of the put
   * @throws CairnError "election_not_leader" (the key was deleted: resigned, lease expired),
   *   "invalid_argument" (key not under `name/`), "lease_not_found", retryable errors
   */
  async proclaim(leader: LeaderKey, value: Uint8Array): Promise<{ revision: number }> {
    this.checkLeaderKey(leader);
    const resp = await this.kv.txn({
      compare: [{ key: leader.key, target: "CREATE", result: "EQUAL", createRevision: leader.rev }],
      success: [{ requestPut: { key: leader.key, value, lease: leader.lease } }],
      failure: [],
    });
    if (!resp.succeeded) throw new CairnError("election_not_leader", "election: not leader");
    return { revision: resp.header.revision };
  }

  /**
   * Gives up leadership or candidacy (etcd Resign): deletes `leader.key` if it still has create
   * revision `leader.rev`; nothing happens (and no error) otherwise.
   * @returns the header revision and whether the key was deleted
   * @throws CairnError "invalid_argument" (key not under `name/`), retryable errors
   */
  async resign(leader: LeaderKey): Promise<{ revision: number; resigned: boolean }> {
    this.checkLeaderKey(leader);
    const resp = await this.kv.txn({
      compare: [{ key: leader.key, target: "CREATE", result: "EQUAL", createRevision: leader.rev }],
      success: [{ requestDeleteRange: { key: leader.key } }],
      failure: [],
    });
    return { revision: resp.header.revision, resigned: resp.succeeded };
  }

  /**
   * The current leader of `name` (etcd Leader): the key under `name/` with the lowest create
   * revision, read linearizably.
   * @throws CairnError "election_no_leader" when there is no candidate, retryable errors
   */
  async leader(name: Uint8Array): Promise<{ revision: number; kv: KeyValue }> {
    const resp = await this.kv.range(firstCreate(prefixOf(name)), "linearizable");
    const kv = resp.kvs[0];
    if (kv === undefined) throw new CairnError("election_no_leader", "election: no leader");
    return { revision: resp.header.revision, kv };
  }

  /**
   * Follows the leader of `name` (etcd Election.Observe): yields the current leader, then every
   * proclaim of it, then the next leader once its key is deleted, and so on. When there is no
   * candidate it yields `{kv: undefined}` once (Cairn addition; etcd's observe stays silent) and
   * waits for the first put under `name/`. Ends when `signal` aborts; compacted or cancelled
   * watches are reopened from a fresh read.
   * The observer's slot is taken at once and given back when the iteration ends or `signal` aborts.
   * @throws CairnError "too_many_requests" (MAX_ELECTION_OBSERVERS) at once; the iteration throws
   *   the errors of its reads (the stream then ends with them)
   */
  observe(name: Uint8Array, signal: AbortSignal): AsyncGenerator<ObservedLeader, void, undefined> {
    const release = this.observers.take();
    signal.addEventListener("abort", release, { once: true });
    return this.observeLoop(name, signal, () => {
      signal.removeEventListener("abort", release);
      release();
    });
  }

  private async *observeLoop(
    name: Uint8Array,
    signal: AbortSignal,
    release: () => void,
  ): AsyncGenerator<ObservedLeader, void, undefined> {
    try {
      const prefix = prefixOf(name);
      let reportedNone = false;
      while (!signal.aborted) {
        const resp = await this.kv.range(firstCreate(prefix), "linearizable");
        if (signal.aborted) return;
        let kv = resp.kvs[0];
        let revision = resp.header.revision;
        if (kv === undefined) {
          if (!reportedNone) {
            reportedNone = true;
            yield { revision, kv: undefined };
          }
          const first = await this.firstPut(prefix, revision + 1, signal);
          if (first === undefined) continue; // aborted, or the watch ended: read again
          kv = first;
          revision = first.modRevision;
        }
        reportedNone = false;
        yield { revision, kv };
        for await (const put of this.putsUntilDeleted(kv.key, revision + 1, signal)) {
          yield { revision: put.modRevision, kv: put };
        }
      }
    } finally {
      release();
    }
  }

  // ---- waiting ------------------------------------------------------------------------------

  /**
   * etcd waitDeletes, for the contender whose key is `key` with create revision `myRev`: until no
   * key under `prefix` has a lower create revision, watch the one just below it until it is
   * deleted. Every read also checks that the contender's own key is still there (etcd 3.5 reads it
   * once more after waiting; here the same read does it).
   * @returns the header revision of the last read (the contender's turn has come)
   * @throws CairnError "session_expired" when its key is gone (its lease expired or was revoked),
   *   "deadline_exceeded" at the deadline
   */
  private async waitTurn(
    prefix: Uint8Array,
    key: Uint8Array,
    myRev: number,
    deadline: Deadline,
  ): Promise<number> {
    for (;;) {
      deadline.check();
      const resp = await this.kv.range(
        {
          key: prefix,
          rangeEnd: prefixEnd(prefix),
          keysOnly: true,
          sortTarget: "CREATE",
          sortOrder: "DESCEND",
        },
        "linearizable",
      );
      deadline.check();
      if (!resp.kvs.some((kv) => kv.createRevision === myRev && bytesEqual(kv.key, key))) {
        throw new CairnError(
          "session_expired",
          "session expired: the key was deleted while waiting (its lease expired or was revoked)",
        );
      }
      const before = resp.kvs.find((kv) => kv.createRevision < myRev);
      if (before === undefined) return resp.header.revision;
      // It exists at header.revision, so its delete is at a later revision.
      await this.waitDelete(before.key, resp.header.revision + 1, deadline.signal);
    }
  }

  /**
   * Watches `key` from `startRevision` until a DELETE event, the signal, or the end of the watch
   * (compacted, cancelled): the caller reads again in every case.
   */
  private async waitDelete(key: Uint8Array, startRevision: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const stream = this.kv.watch({ key, startRevision, filters: ["NOPUT"] });
    const onAbort = () => stream.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const m = await stream.next();
        if (m === undefined || m.kind === "compacted" || m.kind === "cancelled") return;
        if (m.kind === "events" && m.events.some((e) => e.type === "DELETE")) return;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      stream.close();
    }
  }

  /** The first key put under `prefix` from `startRevision` (undefined: aborted or the watch ended). */
  private async firstPut(
    prefix: Uint8Array,
    startRevision: number,
    signal: AbortSignal,
  ): Promise<KeyValue | undefined> {
    if (signal.aborted) return undefined;
    const stream = this.kv.watch({
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      startRevision,
      filters: ["NODELETE"],
    });
    const onAbort = () => stream.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const m = await stream.next();
        if (m === undefined || m.kind === "compacted" || m.kind === "cancelled") return undefined;
        if (m.kind === "events") {
          const put = m.events.find((e) => e.type === "PUT");
          if (put) return put.kv;
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      stream.close();
    }
  }

  /** The puts of `key` from `startRevision` until it is deleted (or the signal, or the watch ends). */
  private async *putsUntilDeleted(
    key: Uint8Array,
    startRevision: number,
    signal: AbortSignal,
  ): AsyncGenerator<KeyValue, void, undefined> {
    if (signal.aborted) return;
    const stream = this.kv.watch({ key, startRevision });
    const onAbort = () => stream.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const m = await stream.next();
        if (m === undefined || m.kind === "compacted" || m.kind === "cancelled") return;
        if (m.kind !== "events") continue;
        for (const e of m.events) {
          if (e.type === "DELETE") return;
          yield e.kv;
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      stream.close();
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** Best-effort delete of a key this call wrote (etcd: Unlock / Resign after a failed wait). */
  private async deleteIfCreatedAt(key: Uint8Array, createRevision: number): Promise<void> {
    try {
      await this.kv.txn({
        compare: [{ key, target: "CREATE", result: "EQUAL", createRevision }],
        success: [{ requestDeleteRange: { key } }],
        failure: [],
      });
    } catch {
      // The cluster is unavailable: the key goes when its lease expires.
    }
  }

  /** @throws CairnError "invalid_argument" unless the leader key is a key under `name/` */
  private checkLeaderKey(leader: LeaderKey): void {
    if (!isUnder(leader.key, prefixOf(leader.name))) {
      throw invalidArgument("leader.key must be a key under the election's name followed by '/'");
    }
    if (!Number.isSafeInteger(leader.rev) || leader.rev < 1) {
      throw invalidArgument("leader.rev must be the create revision of the leader key");
    }
  }
}
