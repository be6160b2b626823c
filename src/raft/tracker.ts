/**
 * The configuration (voters, learners) and, on a leader, the progress of every member; on a
 * candidate, the votes received (etcd-io/raft tracker/tracker.go). Quorum decisions consult voters
 * only; learners get entries but never count for commitment or elections.
 */
import { AssertionError } from "../util/assert.ts";
import { Progress } from "./progress.ts";
import { committedIndex, type VoteResult, voteResult } from "./quorum.ts";
import type { ConfState, NodeId } from "./types.ts";

/** Configuration, per-member progress and votes of one Raft member. */
export class ProgressTracker {
  private confState: ConfState;
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  /**
   * @param confState voters and learners (disjoint, no duplicates)
   * @param maxInflight most pipelined MsgApp per follower
   * @throws AssertionError on overlapping or duplicated members
   */
  constructor(
    confState: ConfState,
    private readonly maxInflight: number,
  ) {
    this.confState = ProgressTracker.checked(confState);
    this.resetProgress(1, 0, "");
  }

  private static checked(cs: ConfState): ConfState {
    const all = [...cs.voters, ...cs.learners];
    if (new Set(all).size !== all.length)
      throw new AssertionError(`tracker: duplicate or overlapping members in ${JSON.stringify(cs)}`);
    return { voters: [...cs.voters].sort(), learners: [...cs.learners].sort() };
  }

  /** A copy of the current configuration (voters and learners sorted). */
  conf(): ConfState {
    return { voters: [...this.confState.voters], learners: [...this.confState.learners] };
  }

  /** Voters, sorted. */
  voters(): readonly NodeId[] {
    return this.confState.voters;
  }

  /** True when `id` is a voter. */
  isVoter(id: NodeId): boolean {
    return this.confState.voters.includes(id);
  }

  /** True when `id` is a learner. */
  isLearner(id: NodeId): boolean {
    return this.confState.learners.includes(id);
  }

  /** True when the only voter is `id` (a single-voter cluster decides alone). */
  isSingleton(id: NodeId): boolean {
    return this.confState.voters.length === 1 && this.confState.voters[0] === id;
  }

  /**
   * Replaces the configuration (snapshot restore; later, applied membership changes) and resets
   * progress as {@link resetProgress} does.
   */
  setConf(cs: ConfState, nextIndex: number, selfMatch: number, selfId: NodeId): void {
    this.confState = ProgressTracker.checked(cs);
    this.resetProgress(nextIndex, selfMatch, selfId);
  }

  /**
   * Switches to `cs` after an applied membership change, keeping the progress of members that
   * stay in the same role. A new member (or a promoted learner, whose match is kept) starts
   * probing at `nextIndex`; a removed member's progress and vote are dropped.
   */
  applyConf(cs: ConfState, nextIndex: number, nowTick: number): void {
    this.confState = ProgressTracker.checked(cs);
    const old = new Map(this.progress);
    this.progress.clear();
    const place = (id: NodeId, isLearner: boolean) => {
      const prev = old.get(id);
      if (prev && prev.isLearner === isLearner) {
        this.progress.set(id, prev);
        return;
      }
      const pr = new Progress(Math.max(nextIndex, (prev?.match ?? 0) + 1), this.maxInflight, isLearner);
      if (prev) pr.maybeUpdate(prev.match);
      // A member just added gets one election timeout before CheckQuorum counts it.
      pr.recentActive = true;
      pr.lastActiveTick = nowTick;
      this.progress.set(id, pr);
    };
    for (const id of this.confState.voters) place(id, false);
    for (const id of this.confState.learners) place(id, true);
    for (const id of this.votes.keys()) if (!this.progress.has(id)) this.votes.delete(id);
  }

  /**
   * Fresh progress for every member (at a term change): next = `nextIndex`, match = 0, except
   * `selfId` whose match is `selfMatch`.
   */
  resetProgress(nextIndex: number, selfMatch: number, selfId: NodeId): void {
    this.progress.clear();
    for (const id of this.confState.voters)
      this.progress.set(id, new Progress(nextIndex, this.maxInflight, false));
    for (const id of this.confState.learners)
      this.progress.set(id, new Progress(nextIndex, this.maxInflight, true));
    const self = this.progress.get(selfId);
    if (self) self.maybeUpdate(selfMatch);
  }

  /** Highest index replicated on a quorum of voters (§5.3). */
  committed(): number {
    return committedIndex(this.confState.voters, this.matchOf);
  }

  /** Match index of a voter, 0 when unknown (one function for every {@link committed} call). */
  private readonly matchOf = (id: NodeId): number => this.progress.get(id)?.match ?? 0;

  /** Forgets all votes (new election). */
  resetVotes(): void {
    this.votes.clear();
  }

  /** Records `id`'s vote (first answer wins, as etcd) and returns the tally. */
  recordVote(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return this.tally();
  }

  /** Current election tally among voters. */
  tally(): VoteResult {
    return voteResult(this.confState.voters, this.votes);
  }

  /** Votes granted and rejected so far (for logs). */
  voteCounts(): { granted: number; rejected: number } {
    let granted = 0;
    let rejected = 0;
    for (const v of this.votes.values()) v ? granted++ : rejected++;
    return { granted, rejected };
  }

  /**
   * CheckQuorum per tick: true when a quorum of voters (counting `selfId`) was heard from at or
   * after tick `sinceTick`.
   */
  quorumActiveSince(selfId: NodeId, sinceTick: number): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.confState.voters) {
      const pr = this.progress.get(id);
      active.set(id, id === selfId || (pr !== undefined && pr.lastActiveTick >= sinceTick));
    }
    return voteResult(this.confState.voters, active) === "won";
  }

  /** CheckQuorum per election timeout: true when a quorum of voters (counting `selfId`) was recently active. */
  quorumActive(selfId: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.confState.voters) {
      const pr = this.progress.get(id);
      active.set(id, id === selfId || (pr?.recentActive ?? false));
    }
    return voteResult(this.confState.voters, active) === "won";
  }
}
