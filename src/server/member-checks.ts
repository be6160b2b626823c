/**
 * The checks a leader runs before it proposes a membership change, so that a change that would
 * break the cluster is refused with an explanation instead of committed (etcd
 * etcdserver/server.go mayAddMember, mayRemoveMember, mayPromoteMember with --strict-reconfig-check,
 * which etcd 3.4 enables by default). Pure: they read the member table and the leader's progress.
 */
import type { RaftStatus } from "../raft/core.ts";
import { CairnError } from "../util/errors.ts";
import type { Membership } from "./membership.ts";

/** A learner may be promoted once its match index is at least this fraction of the leader's (etcd: 90%). */
const LEARNER_READY_FRACTION = 0.9;

/** Voters needed for a quorum of `n` voters (§5.2: a majority). */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Voters the leader heard from within the last election timeout, counting itself (Raft progress recentActive). */
function activeVoters(status: RaftStatus): number {
  let n = 0;
  for (const id of status.confState.voters) {
    if (id === status.id || status.progress?.get(id)?.recentActive) n++;
  }
  return n;
}

/**
 * Peer URLs may not be used by another member.
 * @throws CairnError "member_exists" naming the member that uses one of them
 */
export function checkPeerUrlsFree(members: Membership, peerUrls: readonly string[], exceptId?: string): void {
  for (const url of peerUrls) {
    const owner = members.byPeerUrl(url);
    if (owner && owner.id !== exceptId) {
      throw new CairnError(
        "member_exists",
        `etcdserver: peerURL exists: ${url} is already used by member ${owner.id}`,
      );
    }
  }
}

/**
 * Adding a voter makes the quorum larger: the started, connected voters must still be a quorum of
 * the new voter count, or the cluster would stop until the new member starts (etcd
 * ErrNotEnoughStartedMembers / ErrUnhealthy).
 * @throws CairnError "unhealthy_cluster"
 */
export function checkCanAddVoter(members: Membership, status: RaftStatus): void {
  const voters = status.confState.voters.length + 1;
  const started = status.confState.voters.filter((id) => members.get(id)?.started).length;
  const active = activeVoters(status);
  const usable = Math.min(started, active);
  if (usable < quorumOf(voters)) {
    throw new CairnError(
      "unhealthy_cluster",
      `etcdserver: unhealthy cluster: adding a voter makes the quorum ${quorumOf(voters)} of ${voters}, but only ` +
        `${usable} voters are started and connected; start the missing members first, or add the new one as a learner (--learner)`,
    );
  }
}

/**
 * Removing a voter must leave a quorum of the remaining voters connected to the leader.
 * @throws CairnError "member_not_found", "unhealthy_cluster"
 */
export function checkCanRemove(members: Membership, status: RaftStatus, id: string): void {
  const member = members.get(id);
  if (!member) throw new CairnError("member_not_found", `etcdserver: member not found: ${id}`);
  if (member.isLearner) return;
  const voters = status.confState.voters.length - 1;
  if (voters === 0) {
    throw new CairnError(
      "unhealthy_cluster",
      "etcdserver: cannot remove the last voting member of the cluster",
    );
  }
  const active = activeVoters(status) - (id === status.id || status.progress?.get(id)?.recentActive ? 1 : 0);
  if (active < quorumOf(voters)) {
    throw new CairnError(
      "unhealthy_cluster",
      `etcdserver: unhealthy cluster: after removing ${id}, ${active} of the remaining ${voters} voters are ` +
        `connected, fewer than the quorum of ${quorumOf(voters)}; bring members back first`,
    );
  }
}

/**
 * Only a learner that has caught up with the leader may become a voter.
 * @throws CairnError "member_not_found", "learner_not_ready", "unhealthy_cluster"
 */
export function checkCanPromote(members: Membership, status: RaftStatus, id: string): void {
  const member = members.get(id);
  if (!member) throw new CairnError("member_not_found", `etcdserver: member not found: ${id}`);
  if (!member.isLearner) {
    throw new CairnError(
      "learner_not_ready",
      `etcdserver: can only promote a learner member; ${id} is a voter`,
    );
  }
  const match = status.progress?.get(id)?.match ?? 0;
  if (match < status.lastIndex * LEARNER_READY_FRACTION) {
    throw new CairnError(
      "learner_not_ready",
      `etcdserver: can only promote a learner member which is in sync with leader: ${id} has index ${match} ` +
        `of the leader's ${status.lastIndex}; retry once it has caught up`,
    );
  }
  const started = status.confState.voters.filter((v) => members.get(v)?.started).length + 1;
  if (Math.min(started, activeVoters(status) + 1) < quorumOf(status.confState.voters.length + 1)) {
    throw new CairnError(
      "unhealthy_cluster",
      "etcdserver: unhealthy cluster: promoting would leave too few started, connected voters for a quorum",
    );
  }
}
