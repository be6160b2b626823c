/**
 * Majority quorums over the voters of one configuration (Raft paper §5.2 elections, §5.3/§5.4
 * commitment; etcd-io/raft quorum/majority.go). Learners never appear here. Joint consensus
 * (§6) will combine two of these; nothing below assumes a single configuration is the only one.
 */
import type { NodeId } from "./types.ts";

/** Outcome of an election tally. */
export type VoteResult = "won" | "lost" | "pending";

/** Smallest number of voters that is a majority of `voterCount`. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * Highest index replicated on a majority of `voters`, given each voter's match index
 * (missing = 0). An empty voter set commits nothing (returns 0).
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] ?? 0;
}

/**
 * Tally of `votes` (true = granted) among `voters` (§5.2): won with a majority of grants, lost
 * when a majority can no longer be reached, pending otherwise. Votes of non-voters are ignored.
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return "won";
  if (granted + missing >= q) return "pending";
  return "lost";
}
