/**
 * RaftCore: the application's handle on one Raft member (etcd-io/raft RawNode). Pure and
 * synchronous: no I/O, timers, clock or Math.random. The application drives it:
 *
 *   tick() every heartbeat interval; step(msg) for every message from a peer;
 *   propose(data) / readIndex(ctx) for clients; then
 *   while (hasReady()) { rd = ready(); persist rd.hardState, rd.snapshot, rd.entries;
 *     send rd.messages; apply rd.snapshot then rd.committedEntries; advance(rd); }
 *
 * Ready contract (types.ts Ready): nothing in `messages` may leave before `hardState`, `snapshot`
 * and `entries` of the same Ready are durable (a vote response must not leave before the vote is on
 * disk, §5.2; an append response not before the entries, §5.3). Between ready() and advance() no
 * further Ready is produced (hasReady() is false); step/tick/propose may still be called.
 *
 * Committed entries include the leader's empty no-op entries (data of length 0): skip them.
 * The leader counts its own log for commitment only once its entries are durable (advance()).
 */
import { assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";
import type { RaftConfig, RaftInitialState } from "./config.ts";
import { makeMessage } from "./message.ts";
import { Raft } from "./raft.ts";
import { type RaftStatus, raftStatus } from "./status.ts";
import {
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  type Snapshot,
  type SoftState,
} from "./types.ts";

export type { RaftConfig, RaftInitialState, RaftLogger } from "./config.ts";
export type { ProgressStatus, RaftStatus } from "./status.ts";

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

/** One Raft member: the pure state machine plus the Ready/advance hand-off. */
export class RaftCore {
  private readonly raft: Raft;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | null = null;

  /**
   * @param config see {@link RaftConfig}
   * @param initial persisted state to restart from (see {@link RaftInitialState})
   * @throws AssertionError on an invalid configuration or inconsistent persisted state
   */
  constructor(config: RaftConfig, initial: RaftInitialState) {
    this.raft = new Raft(config, initial);
    this.prevHardState = initial.hardState ? { ...initial.hardState } : { term: 0, vote: "", commit: 0 };
    this.prevSoftState = this.raft.softState();
  }

  /** One logical clock tick (election timeout on followers, heartbeats on the leader; §5.2). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Steps a message from a peer (or a local one such as MsgHup). Messages of a higher term make
   * this member a follower first; lower-term messages are dropped (§5.1).
   * @throws AssertionError on a broken invariant (e.g. an append that would truncate a committed entry)
   */
  step(msg: Message): void {
    this.raft.step(msg);
  }

  /**
   * Proposes one Normal entry per element of `data`. On the leader they are appended at once and
   * go out to followers with the next Ready, batched into as few MsgApp as maxAppendBytes allows;
   * on a follower they are forwarded to the leader in a MsgProp (and may be lost with it: the
   * application retries on timeout). Commitment is observed through committedEntries.
   * @throws CairnError("no_leader") when no leader is known (the proposal is dropped)
   */
  propose(data: Uint8Array[]): void {
    if (data.length === 0) return;
    if (this.raft.lead === "") throw new CairnError("no_leader", "etcdserver: no leader");
    const entries = data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d }));
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.Prop, from: id, to: id, entries }));
  }

  /**
   * Requests a read index (Raft thesis §6.4). On the leader: once an entry of its term is
   * committed, the commit index is recorded and confirmed by a quorum of heartbeat responses
   * carrying `requestCtx` (several requests share one round); then a ReadState {index, requestCtx}
   * appears in a Ready. A single-voter leader answers at once. On a follower the request is
   * forwarded to the leader and the answer arrives as a ReadState as well. Requests are not
   * answered when leadership is lost or messages are dropped: the application retries on timeout.
   * @throws CairnError("no_leader") when no leader is known
   */
  readIndex(requestCtx: Uint8Array): void {
    if (this.raft.lead === "") throw new CairnError("no_leader", "etcdserver: no leader");
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.ReadIndex, from: id, to: id, context: requestCtx }));
  }

  /** True when a Ready with something to do is available. Always false between ready() and advance(). */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.pendingSnapshot !== null ||
      r.log.stableIndex < r.log.lastIndex() ||
      r.log.hasNextCommittedEntries() ||
      (r.role === "leader" && (r.needBcastAppend || r.needReadHeartbeat)) ||
      !sameHardState(r.hardState(), this.prevHardState) ||
      !sameSoftState(r.softState(), this.prevSoftState)
    );
  }

  /**
   * Takes what the application must do next (see the Ready contract above). Broadcasts batched
   * since the last Ready (appends, ReadIndex heartbeat rounds) are built now.
   * @throws AssertionError when the previous Ready was not advanced
   */
  ready(): Ready {
    assert(this.outstanding === null, "raft: ready() called before advance() of the previous Ready");
    const r = this.raft;
    if (r.role === "leader") {
      if (r.needReadHeartbeat) r.bcastHeartbeat();
      if (r.needBcastAppend) r.bcastAppend();
    }
    r.needReadHeartbeat = false;
    r.needBcastAppend = false;

    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.readStates = [];
    if (r.log.pendingSnapshot) rd.snapshot = r.log.pendingSnapshot;
    const ss = r.softState();
    if (!sameSoftState(ss, this.prevSoftState)) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!sameHardState(hs, this.prevHardState)) {
      rd.hardState = hs;
      this.prevHardState = hs;
    }
    if (rd.snapshot) {
      const first = rd.entries[0];
      assert(
        !first || first.index === rd.snapshot.metadata.index + 1,
        "raft: Ready entries do not follow snapshot",
      );
    }
    this.outstanding = rd;
    return rd;
  }

  /**
   * The application handled `rd`: its entries and snapshot are durable, its snapshot and committed
   * entries applied (the applied index becomes the last committed entry given, or the snapshot
   * index). On the leader, its own durable entries now count for commitment.
   * @throws AssertionError when `rd` is not the Ready last returned by ready()
   */
  advance(rd: Ready): void {
    assert(rd === this.outstanding, "raft: advance() with a Ready that is not the outstanding one");
    this.outstanding = null;
    const log = this.raft.log;
    if (rd.snapshot) {
      const index = rd.snapshot.metadata.index;
      log.stableSnapshotTo(index);
      if (index > log.applied) log.appliedTo(index);
    }
    log.stableTo(rd.entries);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) log.appliedTo(lastCommitted.index);
    this.raft.leaderStable();
  }

  /**
   * The application saved `snapshot` (its state machine at `snapshot.metadata.index`, which must be
   * <= the applied index). Raft keeps it to send to followers that need compacted entries (§7) and
   * drops entries <= index - snapshotCatchUpEntries from memory. An older snapshot is ignored.
   * @throws AssertionError when the snapshot is beyond the applied index or its term disagrees with the log
   */
  compact(snapshot: Snapshot): void {
    this.raft.compact(snapshot);
  }

  /** The transport could not deliver to `peer`: its progress goes back to probing (etcd MsgUnreachable). */
  reportUnreachable(peer: NodeId): void {
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: peer, to: id }));
  }

  /** Sending a snapshot to `peer` finished (`ok`) or failed; the leader resumes probing it. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: peer, to: id, reject: !ok }));
  }

  /** Starts an election now (PreVote first when enabled). No-op on a leader or a non-voter. */
  campaign(): void {
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.Hup, from: id, to: id }));
  }

  /** A snapshot of this member's state (see {@link RaftStatus}). */
  status(): RaftStatus {
    return raftStatus(this.raft);
  }

  /**
   * Term of the entry at `index` held in memory (or the compaction point), undefined otherwise.
   * For diagnostics and invariant checks (tests, simulation).
   */
  logTerm(index: number): number | undefined {
    return this.raft.log.term(index);
  }
}
