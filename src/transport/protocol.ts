/**
 * Wire constants of the peer protocol (HTTP/2 paths and headers). Every request carries the
 * sender's cluster id and member id; the receiver refuses a different cluster id with 412, as etcd
 * rafthttp does ("request cluster ID mismatch", header X-Etcd-Cluster-ID).
 */

/** Long-lived request: body is a sequence of frames (4-byte big-endian length + msgpack array of messages). */
export const RAFT_STREAM_PATH = "/cairn/raft/stream";
/**
 * One MsgSnap per request, its state streamed in chunks (src/transport/snapshot-wire.ts): body =
 * one frame holding an array of exactly one MsgSnap with empty `snapshot.data`, then data frames
 * (4-byte length, 1-byte kind: 0x01 chunk of state bytes, 0x02 end with the total byte count and
 * CRC-32 of the state), then the end of the request body. Answered 200 once the receiver staged the
 * state and handed the message to Raft; 400 malformed, truncated or corrupt; 413 too large; 500 the
 * receiver could not stage it; 503 dropped by a test failpoint.
 */
export const RAFT_SNAPSHOT_PATH = "/cairn/raft/snapshot";
/**
 * GET: `{"clusterId": string, "memberId": string, "members": PeerMember[]}` of the answering member
 * (a joining member learns its id and the cluster's members from it, etcd /members).
 */
export const CLUSTER_PATH = "/cairn/cluster";

/** Header: cluster id of the sender (request) or of the answering member (response). */
export const CLUSTER_ID_HEADER = "x-cairn-cluster-id";
/** Header: member id of the sender (request) or of the answering member (response). */
export const MEMBER_ID_HEADER = "x-cairn-member-id";

/** Body of the 410 answer to a removed member (etcd rafthttp's text): the sender stops for good. */
export const MEMBER_REMOVED_MESSAGE = "the member has been permanently removed from the cluster";

/** Body of the 412 answer to a request from another cluster (etcd rafthttp's text). */
export const CLUSTER_ID_MISMATCH_MESSAGE = "request cluster ID mismatch";

/** Content type of frame bodies. */
export const FRAME_CONTENT_TYPE = "application/x-cairn-raft-frames";
