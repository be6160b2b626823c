/**
 * What a leader knows about one follower's log (etcd-io/raft tracker/progress.go and its
 * design doc "Progress"): Figure 2's matchIndex / nextIndex plus a flow-control state.
 *
 * - probe: the leader does not know where the logs match; it sends one MsgApp at a time
 *   (waiting for its answer or a heartbeat response) and backs `next` off on rejection.
 * - replicate: logs match up to `match`; the leader streams entries and advances `next`
 *   optimistically, with at most `inflights.capacity` MsgApp unacknowledged (pipelining).
 * - snapshot: the follower needs entries the leader has compacted; a MsgSnap is in flight and
 *   nothing else is sent until it is reported done.
 *
 * Invariant (asserted): match < next.
 */
import { assert } from "../util/assert.ts";
import { Inflights } from "./inflights.ts";

/** Flow-control state of a follower's progress. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one peer's log. */
export class Progress {
  /** Highest index known to be replicated on the peer (Figure 2 matchIndex). */
  match = 0;
  /** Index of the next entry to send (Figure 2 nextIndex). */
  next: number;
  state: ProgressState = "probe";
  /** In snapshot state: index of the snapshot sent. */
  pendingSnapshot = 0;
  /** In probe state: a MsgApp with entries is out; wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Heard from the peer since the last CheckQuorum round (or since this term started). */
  recentActive = false;
  /** Leader tick at which the peer was last heard from (or this progress was created by a leader). */
  lastActiveTick = 0;
  readonly inflights: Inflights;

  /**
   * @param next first index to send (leader's last index + 1 at election)
   * @param maxInflight most pipelined MsgApp
   * @param isLearner learners receive entries but do not vote or count for quorum
   */
  constructor(
    next: number,
    maxInflight: number,
    readonly isLearner: boolean,
  ) {
    assert(next >= 1, "progress: next %s < 1", next);
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Back to probing: the next MsgApp starts right after `match` (or after a snapshot just sent). */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  /** Logs match up to `match`: stream from match + 1. */
  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  /** A snapshot at `snapshotIndex` is being sent. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
  }

  /**
   * The peer acknowledged entries up to `index`. Returns true when `match` moved forward.
   */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.probeSent = false;
    this.checkInvariant();
    return true;
  }

  /** A MsgApp ending at `lastIndex` was sent in replicate state: advance `next` optimistically. */
  sentEntries(lastIndex: number): void {
    if (this.state === "replicate") {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex);
    } else {
      assert(this.state === "probe", "progress: sending entries in state %s", this.state);
      this.probeSent = true;
    }
    this.checkInvariant();
  }

  /**
   * The peer rejected the MsgApp whose previous index was `rejected`, hinting that logs may match
   * at `matchHint`. Returns false for a stale rejection (etcd Progress.MaybeDecrTo; fast back-off
   * as suggested at the end of §5.3).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probes go out one at a time: a rejection of anything but next - 1 is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    this.checkInvariant();
    return true;
  }

  /** True when no MsgApp with entries may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  private checkInvariant(): void {
    assert(this.match < this.next, "progress: match %s >= next %s", this.match, this.next);
  }
}
