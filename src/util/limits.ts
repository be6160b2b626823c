/**
 * Every limit of Cairn in one place, with its unit in the name and the reason for its value.
 * Limits that are also flags (e.g. --max-request-bytes) have their default here.
 */

/** Default of `--max-request-bytes`: etcd's default (1.5 MiB), embedded.go DefaultMaxRequestBytes. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** Longest key in bytes. etcd has no separate key limit; 32 KiB keeps the key index small and is far above real keys. */
export const MAX_KEY_BYTES = 32 * 1024;

/** Default `--heartbeat-interval` in ms (etcd default 100). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 100;

/** Default `--election-timeout` in ms (etcd default 1000). */
export const DEFAULT_ELECTION_TIMEOUT_MS = 1000;

/** Default `--snapshot-count`: applied entries between snapshots (etcd 3.5 default 100000; 3.4: 100000). */
export const DEFAULT_SNAPSHOT_COUNT = 100_000;

/** Entries kept in the Raft log after a snapshot so slow followers catch up without a snapshot (etcd: SnapshotCatchUpEntries). */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5_000;

/** Most bytes of entries in one append message (etcd-io/raft MaxSizePerMsg, etcd uses 1 MiB). */
export const MAX_APPEND_BYTES = 1024 * 1024;

/** Most append messages in flight to one follower (etcd: maxInflightMsgs = 4096 / 8 = 512). */
export const MAX_INFLIGHT_APPENDS = 256;

/** Most proposals waiting for their apply on one node; past it, new writes get 503 "too many requests". */
export const MAX_PENDING_PROPOSALS = 10_000;

/** Most messages queued to one peer before new ones are dropped (Raft retries). etcd: streamBufSize = 4096. */
export const MAX_PEER_QUEUE_MESSAGES = 4096;

/** Longest wait of a request for a leader before 503 no_leader (ms). */
export const NO_LEADER_WAIT_MS = 3_000;

/** Longest wait of a write or linearizable read for its apply before 503 timeout (ms). etcd: 5s + 2 * election timeout. */
export const REQUEST_TIMEOUT_MS = 7_000;

/** Largest range `limit` and the default cap of entries in one range response. */
export const MAX_RANGE_LIMIT = 100_000;

/**
 * Most bytes of events (approximate: keys, values, prev values, ~160 B per event) buffered for
 * one watcher and not yet taken by its consumer. When live events would go past it, the watcher
 * is cancelled with "resume from revision N": writes never wait for a watcher and a slow one
 * holds at most this much (one revision larger than it still fits into an empty buffer). 1 MiB
 * absorbs bursts of thousands of typical config events while a healthy stream drains; 10,000
 * idle watchers hold nothing. Catching up from history reads in steps of half of it.
 */
export const MAX_WATCH_BUFFER_BYTES = 1024 * 1024;

/**
 * Most watchers on one member; past it new watches get 429 too_many_requests. The benchmark
 * target is 10,000 SSE watchers per member; each costs about 1 KiB idle plus its connection,
 * and every write is matched against the range watchers, so 100,000 keeps that bounded.
 */
export const MAX_WATCHERS = 100_000;

/**
 * Most watches on one `POST /v3/watch` stream (etcd multiplexes watches on one stream and has no
 * limit). All share one connection's buffers; past it a create is answered with canceled.
 */
export const MAX_WATCHES_PER_STREAM = 1_000;

/**
 * Default interval (ms) of periodic progress notifications to quiet watchers that asked for them
 * (etcd's is 10 min, --experimental-watch-progress-notify-interval). 10 s keeps the resume
 * revision (SSE Last-Event-ID) of a quiet watcher fresh, so a reconnect rarely lands below an
 * automatic compaction, at the cost of one small message per quiet watcher per interval.
 */
export const DEFAULT_WATCH_PROGRESS_INTERVAL_MS = 10_000;

/**
 * Interval (ms) of the `: heartbeat` comment on idle SSE watch streams: well below common proxy
 * idle timeouts (nginx 60 s, Cloudflare 100 s), and it lets the server notice a gone client.
 */
export const DEFAULT_WATCH_HEARTBEAT_MS = 5_000;

/** Default wait (ms) of a long-poll `GET /v1/kv/{key}?wait=true` with no timeout_ms. */
export const DEFAULT_LONG_POLL_TIMEOUT_MS = 30_000;

/** Longest wait (ms) a long-poll may ask for (timeout_ms): 5 min; proxies in between may cut earlier. */
export const MAX_LONG_POLL_TIMEOUT_MS = 300_000;

/**
 * Most events in one long-poll answer (whole revisions; one larger revision is still sent whole).
 * The answer's revision tells where to continue, so a client far behind pages through history.
 */
export const MAX_LONG_POLL_EVENTS = 1_000;

/**
 * Largest lease TTL in seconds (etcd lease.MaxLeaseTTL = 9,000,000,000 s, about 285 years); a grant
 * above it fails with lease_ttl_too_large.
 */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

/**
 * Most leases in the state; past it a grant gets 429 too_many_requests ("etcdserver: too many
 * leases"). etcd has no limit; every lease costs ~200 B on every member plus its keys, and a new
 * leader renews every one of them at once, so one million keeps both bounded.
 */
export const MAX_LEASES = 1_000_000;

/**
 * Most expired leases the leader proposes to revoke per second (etcd lessor leaseRevokeRate =
 * 1000), so a mass expiry does not flood the log; the rest follow in the next checks.
 */
export const LEASE_REVOKES_PER_SECOND = 1_000;

/**
 * Wait (ms) before the leader proposes the revoke of an expired lease again when the first
 * proposal did not remove it (etcd 3.4 lessor expiredLeaseRetryInterval = 3 s).
 */
export const LEASE_EXPIRED_RETRY_MS = 3_000;

/**
 * Interval (ms) of the revision-mode auto compactor's checks (etcd v3compactor revInterval = 5 min):
 * every interval the leader compacts to (current revision - retention) if that moved.
 */
export const AUTO_COMPACTION_REVISION_INTERVAL_MS = 5 * 60_000;

/**
 * Longest compaction interval (ms) of the periodic auto compactor (etcd v3compactor: a retention
 * above one hour compacts every hour, sampling revisions every tenth of it).
 */
export const AUTO_COMPACTION_MAX_INTERVAL_MS = 60 * 60_000;

/**
 * Most lock and campaign requests in progress on one member (POST /v1/locks, /v3/lock/lock,
 * campaigns). Each holds one watch and one pending HTTP request while it waits; past it a new one
 * gets 429 too_many_requests at once, before any key is written. etcd's v3lock has no limit.
 */
export const MAX_LOCK_WAITERS = 10_000;

/**
 * Default wait (ms) of a lock or campaign request that gives no timeout (/v1 `timeout_ms`, /v3
 * `Grpc-Timeout`). At the end the waiter's key is deleted and the answer is deadline_exceeded.
 */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

/** Longest wait (ms) a lock or campaign request may ask for: 5 min, as a long-poll. */
export const MAX_LOCK_WAIT_MS = 300_000;

/**
 * Most election observers (GET /v1/elections/{name}/observe, POST /v3/election/observe) on one
 * member. Each holds one watch and one stream until its client leaves; past it 429.
 */
export const MAX_ELECTION_OBSERVERS = 10_000;

/**
 * Target bytes of one frame of a streamed state snapshot (src/mvcc/snapshot.ts): a frame is closed
 * once it reaches this, so it holds this much plus at most one history entry. Snapshots are written,
 * sent and restored one frame at a time, so memory for a snapshot stays near this whatever the
 * state's size. A frame is encoded in one synchronous step on the member's event loop while it goes
 * on serving: 64 KiB takes under a millisecond (a 27 MB state: 430 frames, 0.7 ms the slowest),
 * where 1 MiB frames took up to 5 ms each and doubled the put p99 at 64 clients during a snapshot.
 */
export const SNAPSHOT_FRAME_TARGET_BYTES = 64 * 1024;

/**
 * Largest frame a snapshot decoder accepts (bytes): the frame target plus one history entry, whose
 * value is bounded by --max-request-bytes; 64 MiB also stops a corrupt length prefix from
 * allocating gigabytes.
 */
export const MAX_SNAPSHOT_FRAME_BYTES = 64 * 1024 * 1024;

/** Bytes of one chunk when snapshot data is read back from storage (a file read or a memory slice). */
export const SNAPSHOT_READ_CHUNK_BYTES = 1024 * 1024;
