/**
 * A read-only view of a Raft member for `endpoint status`, metrics and tests (etcd-io/raft
 * status.go).
 */
import type { ProgressState } from "./progress.ts";
import type { Raft } from "./raft.ts";
import type { ConfState, NodeId, RaftRole } from "./types.ts";

/** The leader's view of one member's log. */
export interface ProgressStatus {
  /** Highest index known replicated on the member. */
  match: number;
  /** Next index to send it. */
  next: number;
  state: ProgressState;
  isLearner: boolean;
  /** MsgApp in flight (replicate state). */
  inflight: number;
  recentActive: boolean;
}

/** Status of one member. All indexes are Raft log indexes. */
export interface RaftStatus {
  id: NodeId;
  term: number;
  /** Vote in `term`, "" none. */
  vote: NodeId;
  /** Commit index. */
  commit: number;
  /** Applied index (as reported by advance()). */
  applied: number;
  /** Term of the entry at the applied index (a snapshot's term when it is the applied point); 0 while a received snapshot is not yet applied. */
  appliedTerm: number;
  /** Last log index. */
  lastIndex: number;
  /** Index of the newest snapshot held, 0 if none. */
  snapshotIndex: number;
  /** First index still held in memory. */
  firstIndex: number;
  /** Leader of `term`, "" when unknown. */
  leader: NodeId;
  role: RaftRole;
  confState: ConfState;
  /** Only on the leader: every member's progress (including the leader's own). */
  progress?: Map<NodeId, ProgressStatus>;
}

/** Builds the status of `raft`. */
export function raftStatus(raft: Raft): RaftStatus {
  const log = raft.log;
  const status: RaftStatus = {
    id: raft.id,
    term: raft.term,
    vote: raft.vote,
    commit: log.committed,
    applied: log.applied,
    appliedTerm: log.term(log.applied) ?? 0,
    lastIndex: log.lastIndex(),
    snapshotIndex: log.snapshot?.metadata.index ?? 0,
    firstIndex: log.firstIndex(),
    leader: raft.lead,
    role: raft.role,
    confState: raft.tracker.conf(),
  };
  if (raft.role === "leader") {
    status.progress = new Map();
    for (const [id, pr] of raft.tracker.progress) {
      status.progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        isLearner: pr.isLearner,
        inflight: pr.inflights.count(),
        recentActive: pr.recentActive,
      });
    }
  }
  return status;
}
