/**
 * Member and cluster ids, derived exactly as etcd derives them at bootstrap so that the same
 * --initial-cluster and --initial-cluster-token give the same ids in Cairn as in etcd
 * (etcd: server/etcdserver/api/membership/member.go computeMemberId with now = nil, and
 * cluster.go RaftCluster.genID). Ids are 64-bit values written as 16 lowercase hex digits.
 */
import { createHash } from "node:crypto";
import { assert } from "../util/assert.ts";

const ID_PATTERN = /^[0-9a-f]{16}$/;

/** First 8 bytes of a SHA-1 digest, as 16 lowercase hex digits (Go: binary.BigEndian.Uint64(hash[:8])). */
function sha1Prefix64(data: Uint8Array | string): string {
  return createHash("sha1").update(data).digest().subarray(0, 8).toString("hex");
}

/**
 * Id of a member from its peer URLs and the cluster token (--initial-cluster-token).
 * Rule (etcd computeMemberId): sort the URL strings, join them with no separator, append the
 * token, SHA-1, take the first 8 bytes big-endian. The URLs must be in canonical form
 * (`scheme://host:port`, no trailing slash) as config.ts produces them; etcd's default member
 * (`http://localhost:2380`, token `etcd-cluster`) gets `8e9e05c52164694d`.
 * @param peerUrls one or more peer URLs of the member (order does not matter)
 * @param token the cluster token
 * @returns 16 lowercase hex digits, never all zeros (0 is Raft's "no node")
 * @throws AssertionError if `peerUrls` is empty or the id would be 0
 */
export function memberIdFor(peerUrls: readonly string[], token: string): string {
  assert(peerUrls.length > 0, "memberIdFor: a member needs at least one peer URL");
  const joined = [...peerUrls].sort().join("");
  const id = sha1Prefix64(joined + token);
  assert(id !== "0000000000000000", "memberIdFor: derived id is 0 (raft.None); change the token");
  return id;
}

/**
 * Id of a cluster from the ids of its initial members.
 * Rule (etcd RaftCluster.genID): sort the member ids numerically, write each as 8 bytes
 * big-endian, concatenate, SHA-1, take the first 8 bytes big-endian. For 16-digit lowercase hex,
 * numeric order equals string order.
 * @param memberIds ids as 16 lowercase hex digits (order does not matter)
 * @returns 16 lowercase hex digits
 * @throws AssertionError if the list is empty or an id is not 16 lowercase hex digits
 */
export function clusterIdFor(memberIds: readonly string[]): string {
  assert(memberIds.length > 0, "clusterIdFor: a cluster needs at least one member");
  for (const id of memberIds) {
    assert(ID_PATTERN.test(id), "clusterIdFor: member id '%s' is not 16 lowercase hex digits", id);
  }
  const sorted = [...memberIds].sort();
  return sha1Prefix64(Buffer.from(sorted.join(""), "hex"));
}
