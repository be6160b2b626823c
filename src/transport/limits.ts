/**
 * Limits and timings of the peer transport, with their units and reasons. Shared limits (queue
 * length per peer) live in src/util/limits.ts.
 */

/**
 * Largest frame on a message stream (bytes of one msgpack batch). A single MsgApp carries at most
 * MAX_APPEND_BYTES (1 MiB) of entries plus one over-limit entry (up to the max request bytes), so
 * 16 MiB leaves ample room while stopping a corrupt length prefix from allocating gigabytes.
 */
export const MAX_STREAM_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Largest first frame of a snapshot request: the MsgSnap itself with empty `snapshot.data` (its
 * metadata: index, term, conf state). The state bytes follow as chunks (MAX_SNAPSHOT_CHUNK_BYTES
 * each), so this only has to hold a membership list; 1 MiB is thousands of times that.
 */
export const MAX_SNAPSHOT_MESSAGE_BYTES = 1024 * 1024;

/**
 * Largest piece of snapshot state in one data frame of a snapshot request (bytes). The sender slices
 * larger chunks to it; the receiver hands them to onSnapshot one at a time, so each side holds about
 * one chunk (plus HTTP/2's flow-control window) whatever the size of the state. 1 MiB matches the
 * per-stream window (HTTP2_INITIAL_WINDOW_BYTES): one chunk per round trip, few frames per GiB.
 */
export const MAX_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/**
 * Largest state (bytes of `snapshot.data`) one snapshot request may stream. etcd's largest
 * recommended backend quota is 8 GiB; 64 GiB is far above any real Cairn state and stops a broken
 * or looping sender from filling the receiver's disk. A larger stream is refused with 413.
 */
export const MAX_SNAPSHOT_DATA_BYTES = 64 * 1024 * 1024 * 1024;

/**
 * Largest state a transport without `onSnapshot` collects in memory into `snapshot.data` before
 * calling onMessage (bytes; unit tests and in-process paths only). A larger one is refused with 413
 * and reported failed to its sender (onSnapshotSent(peer, false)).
 */
export const MAX_BUFFERED_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/**
 * Target bytes of one batch frame on a stream: the sender stops adding messages to a batch past it
 * (estimate), so one frame never approaches MAX_STREAM_FRAME_BYTES and heartbeats are not held
 * behind a huge write.
 */
export const BATCH_TARGET_BYTES = 4 * 1024 * 1024;

/** Most messages in one batch frame (bounds the decode work of one frame on the receiver). */
export const MAX_BATCH_MESSAGES = 1024;

/** Longest wait for a TCP+TLS+HTTP/2 connection to a peer before it counts as unreachable (ms). etcd: DefaultDialTimeout 1 s. */
export const DEFAULT_DIAL_TIMEOUT_MS = 1_000;

/** First back-off after a failed connection to a peer (ms); etcd rafthttp retries streams every 100 ms. */
export const DEFAULT_RECONNECT_MIN_MS = 100;

/** Longest back-off between reconnection attempts to a peer (ms); doubling from the minimum stops here. */
export const DEFAULT_RECONNECT_MAX_MS = 2_000;

/**
 * Interval of HTTP/2 PINGs on a peer session (ms). A ping not acknowledged by the next interval
 * marks the session dead (a frozen or partitioned peer whose TCP connection stays open), like
 * etcd's ConnReadTimeout (5 s) on its stream reader.
 */
export const DEFAULT_PING_INTERVAL_MS = 2_500;

/**
 * Idle time after which an in-flight snapshot request is abandoned as failed (ms), on both sides:
 * each cancels a request on which nothing was sent or received for this long. On the sender: a
 * receiver that stopped taking chunks, or did not answer after the last one. On the receiver: a
 * sender that stalled, or an onSnapshot that spent that long on one chunk (its data stream then
 * throws) or resolving after the last one. Progress, however slow, keeps a request alive.
 */
export const SNAPSHOT_IDLE_TIMEOUT_MS = 30_000;

/** Longest wait of probeClusterId for an answer (ms) before resolving null. */
export const PROBE_TIMEOUT_MS = 1_000;

/** Largest body of a GET /cairn/cluster answer read by probeClusterId (bytes). */
export const MAX_PROBE_RESPONSE_BYTES = 64 * 1024;

/** HTTP/2 initial flow-control window per stream (bytes): 1 MiB lets one MsgApp go out in one round trip (default is 64 KiB). */
export const HTTP2_INITIAL_WINDOW_BYTES = 1024 * 1024;

/**
 * HTTP/2 connection-level receive window of the peer listener (bytes). The default (64 KiB) would
 * cap one peer's upload at 64 KiB per round trip whatever the per-stream window; 4 MiB keeps a
 * snapshot and the message stream flowing on links with real latency.
 */
export const HTTP2_CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Whether Http2Session.setLocalWindowSize may be used. Under Bun 1.4 raising the connection window
 * of a server session stalls the connection at the first megabyte (checked on loopback with Bun
 * 1.4.5), so Bun keeps the default windows.
 */
export const CAN_SET_HTTP2_WINDOW = process.versions.bun === undefined;
