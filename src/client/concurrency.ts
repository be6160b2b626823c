/**
 * Locks and elections built on the client's KV, txn, lease and watch calls, exactly as etcd's
 * clientv3/concurrency does them (etcd v3.5 client/v3/concurrency: session.go, mutex.go,
 * election.go, key.go). They need no server support beyond /v1.
 *
 * Key layout (the same as etcd's, so Cairn's and etcd's clients of the same name exclude each
 * other): the waiters and the holder of lock or election `name` are the keys `name/<lease id in
 * lowercase hex, no padding>` (etcd `fmt.Sprintf("%s%x", pfx, lease)`), each attached to its
 * session's lease; the key with the lowest create_revision holds the lock (leads the election).
 * These helpers interoperate with a server-side lock / election API only if that API uses this
 * same layout; Cairn's /v1/locks and /v3/lock routes are separate work and are not used here.
 *
 * Fencing: a lock holder's fencing token is its key's create_revision (strictly increasing from
 * one holder to the next). A lock alone is not safe when a holder pauses past its lease TTL (the
 * lease expires, another client acquires the lock, the paused one resumes believing it still holds
 * it: Jepsen's etcd 3.4.3 analysis). Pass the token to the protected resource and have it refuse
 * tokens lower than one it has seen, or guard Cairn writes with `mutex.ownerCompare()` in a txn.
 */
import type { CairnClient } from "./client.ts";
import { CairnClientError, isClientError } from "./errors.ts";
import type { Lease } from "./lease.ts";
import { abortedError } from "./transport.ts";
import { type Compare, compare, op } from "./txn.ts";
import type { KeyValue } from "./types.ts";
import type { Watch } from "./watch.ts";

/** Options of a session. */
export interface SessionOptions {
  /** TTL of the session's lease in seconds (default 60, etcd's default). */
  ttl?: number;
  /** Use this lease instead of granting one (it should be kept alive). */
  lease?: Lease;
}

/**
 * A lease kept alive on behalf of locks and elections (etcd concurrency.Session). When the lease
 * is lost, every lock and candidacy held with it is gone: `done` aborts.
 */
export class Session {
  /** Aborted when the session's lease ends (lost, revoked or closed). */
  readonly done: AbortSignal;

  private constructor(
    readonly client: CairnClient,
    readonly lease: Lease,
  ) {
    const ac = new AbortController();
    this.done = ac.signal;
    void lease.ended.then((end) => ac.abort(end));
  }

  /** Grants the lease (or adopts `opts.lease`). @throws as CairnClient.grant */
  static async create(client: CairnClient, opts: SessionOptions = {}): Promise<Session> {
    const lease = opts.lease ?? (await client.grant(opts.ttl ?? 60));
    return new Session(client, lease);
  }

  /** The lease id. */
  get leaseId(): number {
    return this.lease.id;
  }

  /** True when the lease was lost (expired, not renewed in time) rather than closed. */
  get lost(): boolean {
    const r = this.lease.endedWith?.reason;
    return r === "not_found" || r === "keepalive_timeout";
  }

  /** Revokes the lease: every key of the session (locks held, candidacies) is deleted. */
  async close(): Promise<void> {
    await this.lease.revoke();
  }

  /** Stops keep-alive without revoking (etcd Session.Orphan): the keys expire after the TTL. */
  orphan(): void {
    this.lease.close();
  }
}

/** The signal that aborts waits of `session` work: the caller's signal, or the session ending. */
function waitSignal(session: Session, signal: AbortSignal | undefined): AbortSignal {
  return signal ? AbortSignal.any([session.done, signal]) : session.done;
}

/** The error for an aborted wait: session_expired when the session ended, else aborted. */
function waitError(session: Session, err: unknown): unknown {
  if (session.done.aborted && (isClientError(err, "aborted") || isClientError(err, "closed"))) {
    return new CairnClientError("session_expired", `the session's lease ${session.lease.idHex} ended`, {
      cause: err,
    });
  }
  return err;
}

/**
 * Resolves when `key` is deleted after `afterRevision` (etcd waitDelete: a watch from the read's
 * revision). After a compaction it checks whether the key still exists and watches again.
 * @throws CairnClientError "aborted" (signal), "closed", the watch's error
 */
async function waitDelete(
  client: CairnClient,
  key: string,
  afterRevision: number,
  signal: AbortSignal,
): Promise<void> {
  let from = afterRevision + 1;
  for (;;) {
    if (signal.aborted) throw abortedError();
    let deleted = false;
    const w: Watch = client.openWatch(
      key,
      { startRevision: from, filters: ["noput"], signal },
      (_rev, events) => {
        if (events.some((e) => e.type === "delete")) {
          deleted = true;
          w.cancel();
        }
      },
    );
    const end = await w.done;
    if (deleted) return;
    if (signal.aborted) throw abortedError();
    if (end.reason === "compacted") {
      const g = await client.get(key);
      if (!g.kv) return;
      from = g.revision + 1;
      continue;
    }
    if (end.reason === "error") throw end.error;
    throw new CairnClientError("closed", "the client was closed while waiting");
  }
}

/**
 * Waits until no key under `prefix` with create_revision <= maxCreateRevision is left (etcd
 * waitDeletes: repeatedly wait for the deletion of the last such key).
 */
async function waitDeletes(
  client: CairnClient,
  prefix: string,
  maxCreateRevision: number,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal.aborted) throw abortedError();
    // etcd asks for WithLastCreate + WithMaxCreateRev; /v1 has no max_create_revision, so the
    // keys come sorted by create revision, newest first, and the filter runs here.
    const r = await client.getPrefix(prefix, {
      keysOnly: true,
      sort: { target: "create", order: "descend" },
    });
    const last = r.kvs.find((kv) => kv.createRevision <= maxCreateRevision);
    if (!last) return;
    await waitDelete(client, last.key, r.revision, signal);
  }
}

/** The key under `prefix` with the lowest create revision (etcd WithFirstCreate), if any. */
async function firstCreated(client: CairnClient, prefix: string, keysOnly: boolean) {
  const r = await client.getPrefix(prefix, {
    limit: 1,
    keysOnly,
    sort: { target: "create", order: "ascend" },
  });
  return { revision: r.revision, kv: r.kvs[0] };
}

/**
 * A distributed mutex (etcd concurrency.Mutex). lock() creates `name/<lease hex>` with the
 * session's lease in a txn if absent (reusing it when this session already waits or holds), then
 * waits for the deletion of every key under `name/` with a lower create revision. The holder is
 * the key with the lowest create revision; its create revision is the fencing token.
 */
export class Mutex {
  private readonly pfx: string;
  private myKey = "";
  private myRev = -1;
  /** Store revision at which the lock was known held (etcd Mutex.Header). */
  headerRevision = 0;

  /** @param name lock name; keys are `name/<lease hex>` */
  constructor(
    private readonly client: CairnClient,
    readonly session: Session,
    name: string,
  ) {
    this.pfx = `${name}/`;
  }

  /** The lock key while waiting or holding, "" otherwise. */
  get key(): string {
    return this.myKey;
  }

  /** The fencing token: the lock key's create revision (-1 when not held). */
  get fencingToken(): number {
    return this.myRev;
  }

  /**
   * A compare that holds only while this mutex holds the lock (etcd Mutex.IsOwner): put it in the
   * compares of a txn to make writes conditional on still holding it.
   */
  ownerCompare(): Compare {
    return compare.createRevision(this.myKey, "=", this.myRev);
  }

  /** Creates (or finds) this session's key and reads the current holder. */
  private async tryAcquire(): Promise<{ revision: number; ownerRevision: number | undefined }> {
    const lease = this.session.lease;
    const myKey = this.pfx + lease.idHex;
    // Repeating this txn is harmless: a second run finds the key and reads it (failure branch).
    const r = await this.client.txn(
      {
        compare: [compare.createRevision(myKey, "=", 0)],
        success: [op.put(myKey, "", { lease: lease.id })],
        failure: [op.get(myKey)],
      },
      { idempotent: true },
    );
    let myRev = r.revision;
    if (!r.succeeded) {
      const g = r.responses[0];
      const kv = g?.type === "get" ? g.kvs[0] : undefined;
      if (!kv) throw new CairnClientError("session_expired", `lock key ${myKey} vanished while acquiring`);
      myRev = kv.createRevision;
    }
    this.myKey = myKey;
    this.myRev = myRev;
    const owner = await firstCreated(this.client, this.pfx, true);
    return { revision: r.revision, ownerRevision: owner.kv?.createRevision };
  }

  /**
   * Takes the lock if it is free, without waiting (etcd Mutex.TryLock).
   * @returns true when held; false when another session holds it (this session's key is removed)
   * @throws CairnClientError "lease_not_found" (session lease gone), retry errors
   */
  async tryLock(): Promise<boolean> {
    const r = await this.tryAcquire();
    if (r.ownerRevision === undefined || r.ownerRevision === this.myRev) {
      this.headerRevision = r.revision;
      return true;
    }
    await this.client.delete(this.myKey, { idempotent: true });
    this.myKey = "";
    this.myRev = -1;
    return false;
  }

  /**
   * Waits until the lock is held (etcd Mutex.Lock). Reentrant for the same session.
   * @throws CairnClientError "session_expired" (the session's lease ended while waiting, or the key
   *   is gone afterwards), "aborted" (signal; the wait is abandoned and the key removed), retry errors
   */
  async lock(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const r = await this.tryAcquire();
    if (r.ownerRevision === undefined || r.ownerRevision === this.myRev) {
      this.headerRevision = r.revision;
      return;
    }
    const signal = waitSignal(this.session, opts.signal);
    try {
      await waitDeletes(this.client, this.pfx, this.myRev - 1, signal);
    } catch (err) {
      await this.unlock().catch(() => {});
      throw waitError(this.session, err);
    }
    // The session may have expired meanwhile: the key must still be there (etcd does the same).
    const g = await this.client.get(this.myKey);
    if (!g.kv || g.kv.createRevision !== this.myRev) {
      this.myKey = "";
      this.myRev = -1;
      throw new CairnClientError("session_expired", "the lock key is gone (its session's lease ended)");
    }
    this.headerRevision = g.revision;
  }

  /** Releases the lock (deletes this session's key; safe to repeat). @throws retry errors */
  async unlock(): Promise<void> {
    if (this.myKey === "") return;
    await this.client.delete(this.myKey, { idempotent: true });
    this.myKey = "";
    this.myRev = -1;
  }
}

/** A running observation of an election's leader. */
export interface Observation {
  /** Stops observing. */
  cancel(): void;
  /** Resolves when observing stopped (cancel, signal, client closed, or an error). */
  done: Promise<{ error?: unknown }>;
}

/**
 * Leader election (etcd concurrency.Election): candidates are the keys `name/<lease hex>` holding
 * their proposal; the leader is the candidate with the lowest create revision.
 */
export class Election {
  private readonly pfx: string;
  private leaderKey = "";
  private leaderRev = -1;
  private leaderSession: Session | undefined;
  /** Store revision at which leadership was known (etcd Election.Header). */
  headerRevision = 0;

  /** @param session needed to campaign; observers and leader() work without */
  constructor(
    private readonly client: CairnClient,
    name: string,
    readonly session?: Session,
  ) {
    this.pfx = `${name}/`;
  }

  /** This candidate's key ("" when not campaigning). */
  get key(): string {
    return this.leaderKey;
  }

  /** Create revision of this candidate's key (-1 when not campaigning): a fencing token for its term. */
  get revision(): number {
    return this.leaderRev;
  }

  /** True after campaign() resolved and until resign() or loss of the session. */
  get isLeader(): boolean {
    return this.leaderSession !== undefined && !this.leaderSession.done.aborted;
  }

  /**
   * Puts this session's candidacy with `value` and waits until elected (etcd Election.Campaign).
   * @throws CairnClientError "invalid_argument" without a session, "session_expired", "aborted"
   *   (signal: the candidacy is withdrawn), retry errors
   */
  async campaign(value: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const s = this.session;
    if (!s)
      throw new CairnClientError(
        "invalid_argument",
        "campaign needs a session: client.election(name, session)",
      );
    const k = this.pfx + s.lease.idHex;
    const r = await this.client.txn(
      {
        compare: [compare.createRevision(k, "=", 0)],
        success: [op.put(k, value, { lease: s.lease.id })],
        failure: [op.get(k)],
      },
      { idempotent: true },
    );
    this.leaderKey = k;
    this.leaderRev = r.revision;
    this.leaderSession = s;
    if (!r.succeeded) {
      const g = r.responses[0];
      const kv = g?.type === "get" ? g.kvs[0] : undefined;
      if (!kv) throw new CairnClientError("session_expired", `candidate key ${k} vanished while campaigning`);
      this.leaderRev = kv.createRevision;
      if (kv.value !== value) {
        try {
          await this.proclaim(value);
        } catch (err) {
          await this.resign().catch(() => {});
          throw err;
        }
      }
    }
    const signal = waitSignal(s, opts.signal);
    try {
      await waitDeletes(this.client, this.pfx, this.leaderRev - 1, signal);
    } catch (err) {
      if (opts.signal?.aborted) await this.resign().catch(() => {});
      else this.leaderSession = undefined;
      throw waitError(s, err);
    }
    this.headerRevision = r.revision;
  }

  /**
   * Sets a new value as leader without another election (etcd Election.Proclaim). A write: not
   * retried after an unknown outcome.
   * @throws CairnClientError "not_leader" (not campaigning, or no longer the leader's key),
   *   "unknown_outcome", retry errors
   */
  async proclaim(value: string): Promise<void> {
    const s = this.leaderSession;
    if (!s) throw new CairnClientError("not_leader", "election: not leader");
    const r = await this.client.txn({
      compare: [compare.createRevision(this.leaderKey, "=", this.leaderRev)],
      success: [op.put(this.leaderKey, value, { lease: s.lease.id })],
    });
    if (!r.succeeded) {
      this.leaderKey = "";
      throw new CairnClientError("not_leader", "election: not leader");
    }
    this.headerRevision = r.revision;
  }

  /** Gives up leadership or candidacy (etcd Election.Resign; safe to repeat). @throws retry errors */
  async resign(): Promise<void> {
    if (!this.leaderSession) return;
    const r = await this.client.txn(
      {
        compare: [compare.createRevision(this.leaderKey, "=", this.leaderRev)],
        success: [op.delete(this.leaderKey)],
      },
      { idempotent: true },
    );
    this.headerRevision = r.revision;
    this.leaderKey = "";
    this.leaderRev = -1;
    this.leaderSession = undefined;
  }

  /**
   * The current leader's key and value (etcd Election.Leader).
   * @throws CairnClientError "no_leader_elected" when nobody campaigns, retry errors
   */
  async leader(): Promise<KeyValue> {
    const r = await firstCreated(this.client, this.pfx, false);
    if (!r.kv) throw new CairnClientError("no_leader_elected", "election: no leader");
    return r.kv;
  }

  /**
   * Calls `onLeader` with the leader's key-value now and whenever the leader or its value changes
   * (etcd Election.Observe): read the first-created key (or wait for the first put under the
   * prefix), report it, follow that key's puts until it is deleted, then start over.
   */
  observe(onLeader: (kv: KeyValue) => void, opts: { signal?: AbortSignal } = {}): Observation {
    const ac = new AbortController();
    const signal = opts.signal ? AbortSignal.any([ac.signal, opts.signal]) : ac.signal;
    const untrack = this.client.track(() => ac.abort());
    const done = this.observeLoop(onLeader, signal).then(
      () => ({}),
      (error: unknown) => (signal.aborted || isClientError(error, "closed") ? {} : { error }),
    );
    void done.finally(untrack);
    return { cancel: () => ac.abort(), done };
  }

  private async observeLoop(onLeader: (kv: KeyValue) => void, signal: AbortSignal): Promise<void> {
    let lastModRevision = 0;
    const emit = (kv: KeyValue) => {
      if (kv.modRevision === lastModRevision) return;
      lastModRevision = kv.modRevision;
      onLeader(kv);
    };
    while (!signal.aborted) {
      const first = await firstCreated(this.client, this.pfx, false);
      let kv = first.kv;
      let from = first.revision + 1;
      if (!kv) {
        // Wait for the first put under the prefix (only puts: a delete would make it spin).
        let found: KeyValue | undefined;
        const w: Watch = this.client.openWatch(
          this.pfx,
          { prefix: true, startRevision: from, signal },
          (_r, events) => {
            const put = events.find((e) => e.type === "put");
            if (put && !found) {
              found = put.kv;
              w.cancel();
            }
          },
        );
        const end = await w.done;
        if (!found) {
          if (end.reason === "compacted") continue;
          if (end.reason === "error") throw end.error;
          return;
        }
        kv = found;
        from = found.modRevision + 1;
      }
      emit(kv);
      const key = kv.key;
      let deleted = false;
      const w: Watch = this.client.openWatch(key, { startRevision: from, signal }, (_r, events) => {
        for (const e of events) {
          if (e.type === "delete") {
            deleted = true;
            w.cancel();
            return;
          }
          emit(e.kv);
        }
      });
      const end = await w.done;
      if (deleted || end.reason === "compacted") continue;
      if (end.reason === "error") throw end.error;
      return;
    }
  }
}
