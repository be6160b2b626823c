/**
 * One simulated Cairn member: the glue of src/server/node.ts (CairnNode) replayed on the simulated
 * clock, around the real RaftCore, the real replicated state machine (src/server/state-machine.ts
 * ReplicatedState: KvStore + member table + apply of committed entries), proposal envelope and
 * bootstrap log, with a {@link SimDisk} for storage. Leases and automatic compaction, which the
 * real node drives from its clock, are not simulated.
 *
 * The ready loop follows CairnNode.runReadyLoop step by step:
 *   take a Ready → soft state → (leader) send messages → save and restore a snapshot →
 *   start the append (entries + hard state, fsync unless commit-only) → apply committed entries and
 *   feed ReadStates while it is in flight → wait for the append → (follower) send messages →
 *   advance → snapshot every `snapshotCount` applied entries (metadata from the applied state; none
 *   while a leader's snapshot received meanwhile is not applied yet).
 * A leader's MsgSnap carries a fresh snapshot of its applied state (CairnNode.withCurrentSnapshots).
 * Disk steps take a simulated latency; messages, ticks and client calls keep arriving meanwhile.
 * A crash drops everything but the disk; {@link start} recovers from it.
 *
 * Client calls go to {@link KvNode.requests} (requests.ts), one instance per process.
 */
import type { KvStore } from "../../../src/mvcc/store.ts";
import { RaftCore, type RaftStatus } from "../../../src/raft/core.ts";
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  type Snapshot,
  type SoftState,
} from "../../../src/raft/types.ts";
import type { Membership } from "../../../src/server/membership.ts";
import { bootstrapLog, ReplicatedState } from "../../../src/server/state-machine.ts";
import type { PersistedState } from "../../../src/storage/types.ts";
import { assert } from "../../../src/util/assert.ts";
import { crc32 } from "../../../src/util/crc.ts";
import { CairnError } from "../../../src/util/errors.ts";
import type { Rng } from "../rng.ts";
import { type SimConfig, TIMING } from "./config.ts";
import { type DiskStep, SimDisk } from "./disk.ts";
import { NodeRequests } from "./requests.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

export type { Answer } from "./requests.ts";

/** What a member reports to the cluster (network, invariants, trace). */
export interface NodeHooks {
  sched: Scheduler;
  trace: Trace;
  send(from: KvNode, msgs: Message[]): void;
  /** Entries about to be written to this member's log (a committed entry must never change). */
  onPersist(node: KvNode, entries: readonly Entry[]): void;
  /** An entry applied on this member, before its effects. */
  onApply(node: KvNode, entry: Entry): void;
  /** This member's state machine at `index` (after an apply or a snapshot restore). */
  onStateDigest(node: KvNode, index: number, digest: number): void;
  /** State recovered from the disk at a start. */
  onRecovered(node: KvNode, state: PersistedState): void;
  onReadRoundStart(node: KvNode, ctxKey: string): void;
  onReadRoundAnswered(node: KvNode, ctxKey: string, index: number): void;
  /** Latency of one disk step (ms). */
  diskLatencyMs(): number;
}

/** Label of a member id in traces: n<decimal>. */
export function label(id: NodeId): string {
  return `n${Number.parseInt(id, 16)}`;
}

/** A simulated member (one data dir; a process that crashes and restarts on it). */
export class KvNode {
  readonly disk: SimDisk;
  /** Incremented at every start; callbacks of an older incarnation do nothing. */
  incarnation = 0;
  up = false;
  /** Stopped for good (applied its own removal, or refused by a peer as removed). */
  removed = false;
  core!: RaftCore;
  /** The replicated state machine of this process (the real one). */
  state!: ReplicatedState;
  appliedIndex = 0;
  softState: SoftState = { leader: "", role: "follower" };
  readonly name: string;
  /** Set when Raft may have changed (a message, tick or disk step): the cluster re-checks this member. */
  dirty = false;
  /** Requests waiting on this process (replaced at every start). */
  requests!: NodeRequests;
  private snapshotIndex = 0;
  /** Term of the entry at appliedIndex (or of the restored snapshot): Raft's log may have moved past it. */
  private appliedTerm = 0;
  /** Voters and learners as of appliedIndex. */
  private appliedConf: ConfState = { voters: [], learners: [] };
  private lastHardState: HardState = { term: 0, vote: "", commit: 0 };
  private busy = false;
  private stopAfterReady = false;
  private readonly tickMs: number;

  constructor(
    readonly id: NodeId,
    private readonly cfg: SimConfig,
    private readonly hooks: NodeHooks,
    private readonly rng: Rng,
    private readonly initialMembers: { id: string; name: string; peerUrls: string[] }[],
    readonly joining: boolean,
  ) {
    this.name = label(id);
    this.disk = new SimDisk(hooks.sched, cfg.segmentBytes, cfg.writebackMs, cfg.bug === "fsyncIsNoop");
    this.tickMs = TIMING.tickMs + rng.int(-1, 1);
  }

  private get sched(): Scheduler {
    return this.hooks.sched;
  }

  /** The MVCC store of this process. */
  get kv(): KvStore {
    return this.state.kv;
  }

  /** The member table of this process. */
  get membership(): Membership {
    return this.state.membership;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /**
   * Starts a process on the disk (CairnNode.start): recovery, bootstrap log of a new data dir,
   * RaftCore (PreVote and CheckQuorum on, as the real node), snapshot restore, ticker, publish.
   * @throws StorageCorruptError when the disk cannot be recovered (reported as a violation)
   */
  start(): void {
    assert(!this.up && !this.removed, `${this.name}: start while up or removed`);
    this.incarnation++;
    const inc = this.incarnation;
    this.up = true;
    this.busy = false;
    this.stopAfterReady = false;
    this.softState = { leader: "", role: "follower" };
    const node = this;
    this.requests = new NodeRequests({
      id: this.id,
      sched: this.sched,
      bug: this.cfg.bug,
      get core() {
        return node.core;
      },
      get kv() {
        return node.kv;
      },
      appliedIndex: () => this.appliedIndex,
      leaderKnown: () => this.softState.leader !== "",
      alive: () => this.up && this.incarnation === inc,
      onReadRoundStart: (key) => this.hooks.onReadRoundStart(this, key),
      onReadRoundAnswered: (key, index) => this.hooks.onReadRoundAnswered(this, key, index),
      // The real node passes 8 random bytes; here they come from the seed.
      readCtxPrefix: Uint8Array.from({ length: 8 }, () => this.rng.int(0, 255)),
    });
    let persisted = this.disk.open();
    const isNew = !persisted.hardState && !persisted.snapshot && persisted.entries.length === 0;
    if (isNew && !this.joining) {
      this.disk.appendDurably(...bootstrapLog(this.initialMembers));
      persisted = this.disk.open();
    }
    this.hooks.onRecovered(this, persisted);
    this.state = new ReplicatedState();
    this.appliedTerm = 0;
    this.appliedConf = { voters: [], learners: [] };
    const applied = persisted.snapshot?.metadata.index ?? 0;
    this.appliedIndex = applied;
    this.snapshotIndex = applied;
    this.core = new RaftCore(
      {
        id: this.id,
        electionTick: TIMING.electionTick,
        heartbeatTick: TIMING.heartbeatTick,
        random: () => this.rng.float(),
        maxAppendBytes: this.cfg.maxAppendBytes,
        maxInflightAppends: this.cfg.maxInflightAppends,
        snapshotCatchUpEntries: this.cfg.snapshotCatchUpEntries,
        preVote: true,
        checkQuorum: true,
      },
      {
        hardState: persisted.hardState,
        snapshot: persisted.snapshot,
        entries: persisted.entries,
        confState: { voters: [], learners: [] },
        applied,
      },
    );
    this.lastHardState = persisted.hardState ?? { term: 0, vote: "", commit: 0 };
    if (persisted.snapshot) this.restoreSnapshot(persisted.snapshot);
    this.hooks.trace.add("start", this.name, inc, applied, persisted.entries.length);
    this.scheduleTick(inc);
    this.maybeCampaignAlone();
    this.requests.publishAttributes({
      memberId: this.id,
      name: this.name,
      clientUrls: [`http://${this.name}:2379`],
    });
  }

  /** The process dies: only the disk remains (with what a crash keeps of it). */
  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.disk.crash(this.rng, this.cfg.faults.tear);
    this.hooks.trace.add("crash", this.name, this.incarnation);
  }

  /** Stops for good (CairnNode.stop after "removed"): waiting requests fail with "stopped". */
  stopRemoved(why: string): void {
    if (this.removed) return;
    this.removed = true;
    if (!this.up) return;
    this.requests.failAll(new CairnError("stopped", "the member is shutting down"));
    this.up = false;
    this.hooks.trace.add("removed", this.name, why);
  }

  /** The newest hard state whose write completed (what a crash keeps at least). */
  get durableHardState(): HardState {
    return this.lastHardState;
  }

  private scheduleTick(inc: number): void {
    this.sched.after(this.tickMs, () => {
      if (!this.up || this.incarnation !== inc) return;
      this.dirty = true;
      this.core.tick();
      this.scheduleTick(inc);
    });
  }

  // ---- transport -----------------------------------------------------------------------------

  step(msg: Message): void {
    if (!this.up) return;
    this.dirty = true;
    this.core.step(msg);
  }

  reportUnreachable(peer: NodeId): void {
    if (!this.up) return;
    this.dirty = true;
    this.core.reportUnreachable(peer);
  }

  reportSnapshot(peer: NodeId, ok: boolean): void {
    if (!this.up) return;
    this.dirty = true;
    this.core.reportSnapshot(peer, ok);
  }

  /** True when `id` was removed from the cluster (its messages are refused, HTTP 410). */
  isRemovedMember(id: NodeId): boolean {
    return this.membership.isRemoved(id);
  }

  // ---- the ready loop ------------------------------------------------------------------------

  /** Starts processing a Ready if one is available and none is in progress. */
  pump(): void {
    if (!this.up || this.busy || !this.core.hasReady()) return;
    this.busy = true;
    this.processReady(this.core.ready(), this.incarnation);
  }

  /** Runs `steps` one after the other (each after a latency), then `then`; nothing after a crash. */
  private runSteps(steps: DiskStep[], inc: number, then: () => void, firstStarted = false): void {
    const step = steps[0];
    if (!step) {
      then();
      return;
    }
    if (!firstStarted) step.start();
    const latency = this.hooks.diskLatencyMs();
    const finish = () => {
      if (!this.up || this.incarnation !== inc) return;
      this.dirty = true;
      step.done();
      this.runSteps(steps.slice(1), inc, then);
    };
    if (latency === 0) finish();
    else this.sched.after(latency, finish);
  }

  private processReady(rd: Ready, inc: number): void {
    if (rd.softState) this.onSoftState(rd.softState);
    const sendFirst = this.softState.role === "leader";
    if (sendFirst && rd.messages.length > 0) this.hooks.send(this, this.withCurrentSnapshots(rd.messages));
    const afterSnapshot = () => {
      if (rd.snapshot) this.restoreSnapshot(rd.snapshot);
      const write = rd.hardState || rd.entries.length > 0;
      this.hooks.onPersist(this, rd.entries);
      const steps = write
        ? this.disk.append(rd.hardState ?? null, rd.entries, this.mustSync(rd.hardState, rd.entries))
        : [];
      steps[0]?.start();
      for (const e of rd.committedEntries) this.applyEntry(e);
      this.requests.onApplied(this.appliedIndex);
      for (const rs of rd.readStates) this.requests.onReadState(rs);
      const afterAppend = () => {
        if (rd.hardState) this.lastHardState = rd.hardState;
        if (!sendFirst && rd.messages.length > 0) this.hooks.send(this, rd.messages);
        this.core.advance(rd);
        this.maybeSnapshot(inc, () => this.finishReady());
      };
      // A commit-only hard state is not synced (unless it starts a new WAL segment): the call returns at once.
      if (steps.some((s) => s.synced)) this.runSteps(steps, inc, afterAppend, true);
      else {
        for (const s of steps) s.done();
        afterAppend();
      }
    };
    if (rd.snapshot) this.runSteps(this.disk.saveSnapshot(rd.snapshot), inc, afterSnapshot);
    else afterSnapshot();
  }

  private finishReady(): void {
    this.busy = false;
    if (this.stopAfterReady) this.stopRemoved("applied its own removal");
  }

  /** Entries, or a new term or vote, must be fsynced; a commit-only change need not (etcd wal.MustSync). */
  private mustSync(hs: HardState | undefined, entries: Entry[]): boolean {
    if (entries.length > 0 || !hs) return entries.length > 0;
    return hs.term !== this.lastHardState.term || hs.vote !== this.lastHardState.vote;
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.softState.role === "leader";
    this.softState = ss;
    this.hooks.trace.add("soft", this.name, ss.role, ss.leader ? label(ss.leader) : "-");
    if (ss.leader) this.requests.onLeaderKnown();
    if (wasLeader && ss.role !== "leader") this.requests.onLeadershipLost();
  }

  /** CairnNode.applyEntry: the state machine applies the entry; the member acts on the outcome. */
  private applyEntry(entry: Entry): void {
    this.hooks.onApply(this, entry);
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    const out = this.state.apply(entry);
    if (out.kind !== "noop") {
      const mine = out.proposal.origin === this.id;
      const ack = { result: { header: { revision: this.kv.revision } }, index: entry.index };
      switch (out.kind) {
        case "confChange":
          this.onConfChange(out.change, entry.index);
          if (mine) this.requests.resolve(out.proposal.seq, ack);
          if (out.change.type === ConfChangeType.RemoveNode && out.change.nodeId === this.id)
            this.stopAfterReady = true;
          break;
        case "memberUpdate":
          if (mine) this.requests.resolve(out.proposal.seq, ack);
          break;
        case "kv":
          if (!mine) break;
          if (out.error) this.requests.reject(out.proposal.seq, out.error);
          else this.requests.resolve(out.proposal.seq, { result: out.result!, index: entry.index });
          break;
      }
    }
    if (entry.index % this.cfg.digestEvery === 0) this.hooks.onStateDigest(this, entry.index, this.digest());
  }

  /** A committed membership change (already in the member table): Raft's configuration follows. */
  private onConfChange(cc: ConfChange, index: number): void {
    this.appliedConf = this.core.applyConfChange(cc);
    this.hooks.trace.add("conf", this.name, index, cc.type, label(cc.nodeId));
    this.maybeCampaignAlone();
  }

  private maybeCampaignAlone(): void {
    const status = this.core.status();
    const voters = status.confState.voters;
    if (voters.length === 1 && voters[0] === this.id && status.role !== "leader") this.core.campaign();
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    this.state.restore(snapshot.data);
    this.appliedIndex = snapshot.metadata.index;
    this.appliedTerm = snapshot.metadata.term;
    this.appliedConf = snapshot.metadata.confState;
    this.snapshotIndex = snapshot.metadata.index;
    this.hooks.trace.add("restore", this.name, snapshot.metadata.index);
    this.hooks.onStateDigest(this, snapshot.metadata.index, this.digest());
  }

  /** A snapshot of the applied state now (metadata from the applied state, not from Raft's log). */
  private appliedSnapshot(): Snapshot {
    return {
      metadata: { index: this.appliedIndex, term: this.appliedTerm, confState: this.appliedConf },
      data: this.state.snapshot(),
    };
  }

  /** A follower that needs a snapshot gets one of the state applied now, not the stored one. */
  private withCurrentSnapshots(messages: Message[]): Message[] {
    if (!messages.some((m) => m.type === MessageType.Snap)) return messages;
    const snapshot = this.appliedSnapshot();
    return messages.map((m) => (m.type === MessageType.Snap ? { ...m, snapshot } : m));
  }

  private maybeSnapshot(inc: number, then: () => void): void {
    // None while a leader's snapshot received during the last Ready moved Raft's log past the
    // applied state (it is applied with the next Ready).
    if (
      this.appliedIndex - this.snapshotIndex < this.cfg.snapshotCount ||
      this.core.status().firstIndex > this.appliedIndex + 1
    ) {
      then();
      return;
    }
    const snapshot = this.appliedSnapshot();
    this.runSteps(this.disk.saveSnapshot(snapshot), inc, () => {
      this.core.compact(snapshot);
      this.disk.compact(snapshot.metadata.index);
      this.snapshotIndex = snapshot.metadata.index;
      this.hooks.trace.add("snapshot", this.name, snapshot.metadata.index);
      then();
    });
  }

  /** CRC-32 of the state machine's snapshot (store and member table): equal states give equal digests. */
  digest(): number {
    return crc32(this.state.snapshot());
  }

  // ---- membership and leadership (ClusterService), called on the leader ------------------------

  /** Raft status; @throws CairnError "leader_changed" when this member is not the leader. */
  leaderStatus(): RaftStatus {
    const status = this.core.status();
    if (status.role !== "leader") {
      throw new CairnError("leader_changed", "etcdserver: not leader; send membership changes to the leader");
    }
    return status;
  }
}
