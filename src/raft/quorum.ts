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
  // Insertion sort, descending, into a reused array: this runs on every append response, and a
  // voter set has a handful of members, so it allocates nothing per call.
  const matches = scratchMatches;
  matches.length = voters.length;
  for (let i = 0; i < voters.length; i++) {
    const m = matchOf(voters[i]!);
    let j = i;
    for (; j > 0 && matches[j - 1]! < m; j--) matches[j] = matches[j - 1]!;
    matches[j] = m;
  }
  return matches[quorumSize(voters.length) - 1]!;
}

/** Work array of {@link committedIndex} (single-threaded: never shared between two calls). */
const scratchMatches: number[] = [];

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
