/**
 * The cluster half of a member's service: runtime membership changes (etcd's MemberAdd, MemberRemove,
 * MemberUpdate, MemberPromote; one at a time, refused when they would cost the quorum,
 * member-checks.ts) and leadership transfer (etcd MoveLeader; a leader's hand-over before a
 * graceful stop). Changes are proposed through Raft on the leader and resolve once applied here.
 * The node (node.ts) owns the Raft core and calls in here.
 */
import type { Logger } from "pino";
import type { CommandResult } from "../mvcc/types.ts";
import type { RaftCore, RaftStatus } from "../raft/core.ts";
import { type ConfChange, ConfChangeType } from "../raft/types.ts";
import { CairnError } from "../util/errors.ts";
import { REQUEST_TIMEOUT_MS } from "../util/limits.ts";
import { memberIdFor } from "./ids.ts";
import { checkCanAddVoter, checkCanPromote, checkCanRemove, checkPeerUrlsFree } from "./member-checks.ts";
import type { Membership } from "./membership.ts";
import { type ConfMember, type Proposal, ProposalKind } from "./proposal.ts";
import type { MemberAddRequest, MemberChangeResult } from "./service.ts";
import { confMemberContext } from "./state-machine.ts";
import type { WaitRegistry } from "./waiters.ts";

/** Polling interval while waiting for a leadership change (ms). */
const LEADER_POLL_MS = 10;

/** What the cluster service needs from its node. */
export interface NodeClusterDeps {
  clusterId: string;
  memberId: string;
  electionTimeoutMs: number;
  membership: Membership;
  raft: RaftCore;
  /** Proposals waiting to be applied, by sequence number (a ConfChange resolves through it). */
  proposals: WaitRegistry<CommandResult>;
  /** Proposes a normal entry and resolves once it is applied. */
  propose: (p: Proposal) => Promise<CommandResult>;
  /** The next proposal sequence number of this member. */
  nextSeq: () => number;
  /** The current leader's id, "" when none is known. */
  leader: () => string;
  stopped: () => boolean;
  /** Runs the ready loop soon. */
  schedule: () => void;
  /** @throws CairnError "stopped" when the member is shutting down */
  assertRunning: () => void;
  logger: Logger;
}

/** Membership changes and leadership transfer of one member. */
export class NodeCluster {
  constructor(private readonly deps: NodeClusterDeps) {}

  /**
   * etcd MemberAdd: a voter, or a learner with `isLearner`; the new member's id derives from its
   * peer URLs and the time.
   * @throws CairnError "leader_changed", "member_exists" (a peer URL in use), "unhealthy_cluster", "timeout"
   */
  async memberAdd(req: MemberAddRequest): Promise<MemberChangeResult> {
    const status = this.leaderStatus();
    checkPeerUrlsFree(this.deps.membership, req.peerUrls);
    if (!req.isLearner) checkCanAddVoter(this.deps.membership, status);
    let id = memberIdFor(req.peerUrls, `${this.deps.clusterId}${Date.now()}`);
    while (this.deps.membership.get(id) || this.deps.membership.isRemoved(id)) {
      id = memberIdFor(req.peerUrls, `${this.deps.clusterId}${Date.now()}${this.deps.nextSeq()}`);
    }
    const member: ConfMember = { id, name: "", peerUrls: [...req.peerUrls], isLearner: req.isLearner };
    const type = req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
    await this.proposeConfChange(type, member);
    const added = this.deps.membership.list().find((m) => m.id === id);
    return { ...(added ? { member: added } : {}), members: this.deps.membership.list() };
  }

  /** etcd MemberRemove. @throws CairnError "leader_changed", "member_not_found", "unhealthy_cluster", "timeout" */
  async memberRemove(id: string): Promise<MemberChangeResult> {
    checkCanRemove(this.deps.membership, this.leaderStatus(), id);
    const m = this.deps.membership.get(id)!;
    await this.proposeConfChange(ConfChangeType.RemoveNode, this.confMember(id, m.isLearner));
    return { members: this.deps.membership.list() };
  }

  /** etcd MemberUpdate (new peer URLs). @throws CairnError "leader_changed", "member_not_found", "member_exists" (a peer URL in use) */
  async memberUpdate(id: string, peerUrls: string[]): Promise<MemberChangeResult> {
    this.leaderStatus();
    if (!this.deps.membership.get(id))
      throw new CairnError("member_not_found", `etcdserver: member not found: ${id}`);
    checkPeerUrlsFree(this.deps.membership, peerUrls, id);
    await this.deps.propose({
      kind: ProposalKind.MemberPeerUrls,
      origin: this.deps.memberId,
      seq: this.deps.nextSeq(),
      update: { memberId: id, peerUrls: [...peerUrls] },
    });
    return { members: this.deps.membership.list() };
  }

  /** etcd MemberPromote of a caught-up learner. @throws CairnError "leader_changed", "member_not_found", "learner_not_ready", "unhealthy_cluster" */
  async memberPromote(id: string): Promise<MemberChangeResult> {
    checkCanPromote(this.deps.membership, this.leaderStatus(), id);
    await this.proposeConfChange(ConfChangeType.AddNode, this.confMember(id, false));
    return { members: this.deps.membership.list() };
  }

  /**
   * etcd MoveLeader: leadership to voter `targetId` (Raft thesis §3.10), resolved once it leads.
   * @throws CairnError "leader_changed", "member_not_found", "invalid_argument" (a learner), "timeout"
   */
  async moveLeader(targetId: string): Promise<void> {
    const status = this.leaderStatus();
    if (targetId === this.deps.memberId) return;
    if (!this.deps.membership.get(targetId)) {
      throw new CairnError("member_not_found", `etcdserver: member not found: ${targetId}`);
    }
    if (!status.confState.voters.includes(targetId)) {
      throw new CairnError(
        "invalid_argument",
        `etcdserver: ${targetId} is a learner; leadership goes to voters only`,
      );
    }
    this.deps.raft.transferLeader(targetId);
    this.deps.schedule();
    if (!(await this.waitForLeaderChange(targetId, 2 * this.deps.electionTimeoutMs))) {
      throw new CairnError("timeout", "etcdserver: request timed out, leader transfer took too long");
    }
  }

  /** The ConfChange context of existing member `id` (checked to exist), as a voter or a learner. */
  private confMember(id: string, isLearner: boolean): ConfMember {
    const m = this.deps.membership.get(id)!;
    return { id, name: m.name, peerUrls: [...m.peerUrls], isLearner };
  }

  /** Raft status on the leader. @throws CairnError "leader_changed" on a member that is not the leader */
  private leaderStatus(): RaftStatus {
    this.deps.assertRunning();
    const status = this.deps.raft.status();
    if (status.role !== "leader") {
      throw new CairnError("leader_changed", "etcdserver: not leader; send membership changes to the leader");
    }
    return status;
  }

  /** Proposes a ConfChange for `member` and resolves when this member has applied it. */
  private async proposeConfChange(type: ConfChange["type"], member: ConfMember): Promise<void> {
    this.deps.assertRunning();
    const seq = this.deps.nextSeq();
    const context = confMemberContext(this.deps.memberId, seq, member);
    const done = this.deps.proposals.wait(seq, REQUEST_TIMEOUT_MS, "etcdserver: request timed out");
    try {
      this.deps.raft.proposeConfChange({ type, nodeId: member.id, context });
    } catch (err) {
      this.deps.proposals.reject(seq, err as Error);
    }
    this.deps.schedule();
    await done;
  }

  /** Waits until `target` (or, with "", anyone else than this member) leads; false after `timeoutMs`. */
  private async waitForLeaderChange(target: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const done = () =>
      target === ""
        ? this.deps.leader() !== "" && this.deps.leader() !== this.deps.memberId
        : this.deps.leader() === target;
    while (!done()) {
      if (Date.now() > deadline || this.deps.stopped()) return false;
      await new Promise((r) => setTimeout(r, LEADER_POLL_MS));
    }
    return true;
  }

  /**
   * Graceful stop of a leader: transfers leadership to the connected voter with the highest match
   * index and waits up to an election timeout for it to lead, so clients see no election gap (etcd
   * does the same on a graceful stop). A no-op on a follower.
   */
  async handOverLeadershipBeforeStop(): Promise<void> {
    const status = this.deps.raft.status();
    if (status.role !== "leader" || !status.progress) return;
    let best: { id: string; match: number } | null = null;
    for (const id of status.confState.voters) {
      const pr = status.progress.get(id);
      if (id === this.deps.memberId || !pr?.recentActive) continue;
      if (!best || pr.match > best.match) best = { id, match: pr.match };
    }
    if (!best) return;
    this.deps.logger.info({ transferee: best.id }, "stopping: handing leadership over");
    this.deps.raft.transferLeader(best.id);
    this.deps.schedule();
    const ok = await this.waitForLeaderChange(best.id, this.deps.electionTimeoutMs);
    this.deps.logger.info({ transferee: best.id, ok }, "leadership hand-over before stop finished");
  }
}
