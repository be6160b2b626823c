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
