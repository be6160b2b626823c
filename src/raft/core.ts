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
 * A committed ConfChange entry must be handed to applyConfChange() when it is applied, in order.
 * The leader counts its own log for commitment only once its entries are durable (advance()).
 */
import { assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";
import { decodeConfChange, encodeConfChange } from "./conf-change.ts";
import type { RaftConfig, RaftInitialState } from "./config.ts";
import { makeMessage } from "./message.ts";
import { Raft } from "./raft.ts";
import { type RaftStatus, raftStatus } from "./status.ts";
import {
  type ConfChange,
  type ConfState,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
} from "./types.ts";

export type { RaftConfig, RaftInitialState, RaftLogger } from "./config.ts";
export type { ProgressStatus, RaftStatus } from "./status.ts";

/** Empty arrays of a Ready without messages or read states (frozen: a Ready's arrays are read-only). */
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
const NO_READ_STATES: readonly ReadState[] = Object.freeze([]);

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
    this.checkCanPropose();
    const entries = data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d }));
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.Prop, from: id, to: id, entries }));
  }

  /**
   * Proposes one membership change (a ConfChange entry). It takes effect on each member when that
   * member applies the entry and calls {@link applyConfChange}. On a follower it is forwarded to the
   * leader, which drops it (appending an empty entry instead, as etcd-io/raft) when another change is
   * not yet applied; the application then times out.
   * @throws CairnError "no_leader"; "leader_transferring" (see propose); "conf_change_pending" on
   *   the leader while the previous change (or the start of its term) is not yet applied (thesis §4.1)
   */
  proposeConfChange(cc: ConfChange): void {
    this.checkCanPropose();
    if (this.raft.role === "leader" && !this.raft.canProposeConfChange()) {
      throw new CairnError(
        "conf_change_pending",
        "etcdserver: a previous membership change is not applied yet; one change at a time",
      );
    }
    const entries = [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }];
    const id = this.raft.id;
    this.raft.step(makeMessage({ type: MessageType.Prop, from: id, to: id, entries }));
  }

  /**
   * Applies the membership change of a committed ConfChange entry (decode it with
   * {@link decodeConfChangeEntry}); call it when applying that entry, in log order, on every member.
   * @returns the configuration in force from now on (record it with the next snapshot)
   * @throws AssertionError when the change would leave no voter
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Asks the leader to hand leadership over to `transferee` (thesis §3.10): the leader stops taking
   * proposals, catches the transferee up, and sends it MsgTimeoutNow so it campaigns at once; the
   * transfer is abandoned after an election timeout. Watch the soft state for the outcome.
   * @throws CairnError "no_leader" when no leader is known
   */
  transferLeader(transferee: NodeId): void {
    if (this.raft.lead === "") throw new CairnError("no_leader", "etcdserver: no leader");
    const id = this.raft.id;
    const context = new TextEncoder().encode(transferee);
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: id, to: id, context }));
  }

  /** Current term (§5.1); the same as status().term without building a status. */
  get term(): number {
    return this.raft.term;
  }

  /** Commit index (§5.3); the same as status().commit without building a status. */
  get commitIndex(): number {
    return this.raft.log.committed;
  }

  /** The leader's transferee while a leadership transfer is in progress, "" otherwise. */
  get leadTransferee(): NodeId {
    return this.raft.leadTransferee;
  }

  /**
   * @throws CairnError "no_leader" when no leader is known; "leader_transferring" on a leader that
   *   is handing leadership over (etcd ErrProposalDropped; retry against the new leader)
   */
  private checkCanPropose(): void {
    if (this.raft.lead === "") throw new CairnError("no_leader", "etcdserver: no leader");
    if (this.raft.role === "leader" && this.raft.leadTransferee !== "") {
      throw new CairnError("leader_transferring", "etcdserver: leadership transfer in progress, retry");
    }
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
      // Compared field by field: hasReady() runs on every pass of the ready loop and must not allocate.
      r.term !== this.prevHardState.term ||
      r.vote !== this.prevHardState.vote ||
      r.log.committed !== this.prevHardState.commit ||
      r.lead !== this.prevSoftState.leader ||
      r.role !== this.prevSoftState.role
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
      messages: r.msgs.length > 0 ? r.msgs : (NO_MESSAGES as Message[]),
      readStates: r.readStates.length > 0 ? r.readStates : (NO_READ_STATES as ReadState[]),
    };
    // The Ready owns the arrays it hands out; when there was nothing, it gets a shared frozen empty
    // array and Raft keeps its own (saves two allocations on most passes).
    if (r.msgs.length > 0) r.msgs = [];
    if (r.readStates.length > 0) r.readStates = [];
    if (r.log.pendingSnapshot) rd.snapshot = r.log.pendingSnapshot;
    if (r.lead !== this.prevSoftState.leader || r.role !== this.prevSoftState.role) {
      rd.softState = r.softState();
      this.prevSoftState = rd.softState;
    }
    const prevHs = this.prevHardState;
    if (r.term !== prevHs.term || r.vote !== prevHs.vote || r.log.committed !== prevHs.commit) {
      rd.hardState = r.hardState();
      this.prevHardState = rd.hardState;
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

/**
 * The ConfChange carried by a committed entry of type ConfChange.
 * @throws AssertionError when its data is not an encoded ConfChange
 */
export function decodeConfChangeEntry(data: Uint8Array): ConfChange {
  return decodeConfChange(data);
}
