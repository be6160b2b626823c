/**
 * One simulated Cairn member: the glue of src/server/node.ts (CairnNode) replayed on the simulated
 * clock, around the real RaftCore, KvStore, Membership, proposal envelope and bootstrap log, with a
 * {@link SimDisk} for storage.
 *
 * The ready loop follows CairnNode.runReadyLoop step by step:
 *   take a Ready → soft state → (leader) send messages → save and restore a snapshot →
 *   start the append (entries + hard state, fsync unless commit-only) → apply committed entries and
 *   feed ReadStates while it is in flight → wait for the append → (follower) send messages →
 *   advance → snapshot every `snapshotCount` applied entries.
 * Disk steps take a simulated latency; messages, ticks and client calls keep arriving meanwhile.
 * A crash drops everything but the disk; {@link start} recovers from it.
 *
 * Client calls go to {@link KvNode.requests} (requests.ts), one instance per process.
 */
import { Packr } from "msgpackr";
import { KvStore } from "../../../src/mvcc/store.ts";
import { decodeConfChangeEntry, RaftCore, type RaftStatus } from "../../../src/raft/core.ts";
import {
  ConfChangeType,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
  type SoftState,
} from "../../../src/raft/types.ts";
import { Membership } from "../../../src/server/membership.ts";
import { bootstrapLog } from "../../../src/server/node.ts";
import { decodeProposal, type Proposal, ProposalKind } from "../../../src/server/proposal.ts";
import { crc32 } from "../../../src/storage/file/crc.ts";
import type { PersistedState } from "../../../src/storage/types.ts";
import { assert } from "../../../src/util/assert.ts";
import { CairnError } from "../../../src/util/errors.ts";
import type { Rng } from "../rng.ts";
import { type SimConfig, TIMING } from "./config.ts";
import { type DiskStep, SimDisk } from "./disk.ts";
import { processCtxPrefix } from "./read-index.ts";
import { NodeRequests } from "./requests.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

export type { Answer } from "./requests.ts";

const packr = new Packr({ useRecords: false });

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
  kv!: KvStore;
  membership!: Membership;
  appliedIndex = 0;
  softState: SoftState = { leader: "", role: "follower" };
  readonly name: string;
  /** The snapshot Raft sends to a member that needs compacted entries (newest saved, restored or loaded). */
  raftSnapshot: Snapshot | null = null;
  /** Snapshots skipped to avoid known issue K3. */
  k3Avoided = 0;
  /** ReadStates meant for another process, over all processes of this member (known issue K4). */
  private foreignReadAnswersBefore = 0;
  /** Set when Raft may have changed (a message, tick or disk step): the cluster re-checks this member. */
  dirty = false;
  /** Requests waiting on this process (replaced at every start). */
  requests!: NodeRequests;
  private snapshotIndex = 0;
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
    this.disk = new SimDisk(
      hooks.sched,
      cfg.segmentBytes,
      cfg.writebackMs,
      cfg.bug === "fsyncIsNoop",
      cfg.strict,
    );
    this.tickMs = TIMING.tickMs + rng.int(-1, 1);
  }

  private get sched(): Scheduler {
    return this.hooks.sched;
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
    this.foreignReadAnswersBefore = this.foreignReadAnswers;
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
      // Known issue K4: unless strict, contexts are unique per process (see read-index.ts).
      readCtxPrefix: this.cfg.strict ? 0n : processCtxPrefix(Number.parseInt(this.id, 16), inc),
    });
    let persisted = this.disk.open();
    const isNew = !persisted.hardState && !persisted.snapshot && persisted.entries.length === 0;
    if (isNew && !this.joining) {
      this.disk.appendDurably(...bootstrapLog(this.initialMembers));
      persisted = this.disk.open();
    }
    this.hooks.onRecovered(this, persisted);
    this.kv = new KvStore();
    this.membership = new Membership();
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
    this.raftSnapshot = persisted.snapshot;
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

  /** ReadStates this member got for another process's read context (known issue K4), all processes. */
  get foreignReadAnswers(): number {
    return this.foreignReadAnswersBefore + (this.requests?.reads.foreignAnswers ?? 0);
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
    if (sendFirst && rd.messages.length > 0) this.hooks.send(this, rd.messages);
    const afterSnapshot = () => {
      if (rd.snapshot) {
        this.restoreSnapshot(rd.snapshot);
        this.raftSnapshot = rd.snapshot;
      }
      const write = rd.hardState || rd.entries.length > 0;
      const sync = this.mustSync(rd.hardState, rd.entries);
      this.hooks.onPersist(this, rd.entries);
      const steps = write ? this.disk.append(rd.hardState ?? null, rd.entries, sync) : [];
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
      // A commit-only hard state is not synced: the call returns at once.
      if (sync) this.runSteps(steps, inc, afterAppend, true);
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

  private applyEntry(entry: Entry): void {
    this.hooks.onApply(this, entry);
    this.appliedIndex = entry.index;
    if (entry.type === EntryType.ConfChange) this.applyConfChange(entry);
    else if (entry.data.length > 0) this.applyProposal(decodeProposal(entry.data), entry.index);
    if (entry.index % this.cfg.digestEvery === 0) this.hooks.onStateDigest(this, entry.index, this.digest());
  }

  private applyProposal(p: Proposal, index: number): void {
    const mine = p.origin === this.id;
    if (p.kind === ProposalKind.MemberAttributes || p.kind === ProposalKind.MemberPeerUrls) {
      if (p.kind === ProposalKind.MemberAttributes) this.membership.applyAttributes(p.attributes);
      else this.membership.applyPeerUrls(p.update);
      if (mine) this.requests.resolve(p.seq, { result: { header: { revision: this.kv.revision } }, index });
      return;
    }
    if (p.kind === ProposalKind.ConfMember) return;
    try {
      const result = this.kv.apply(p.command);
      if (mine) this.requests.resolve(p.seq, { result, index });
    } catch (err) {
      if (!(err instanceof CairnError)) throw err;
      if (mine) this.requests.reject(p.seq, err);
    }
  }

  /** A committed membership change: Raft's configuration and the member table change together. */
  private applyConfChange(entry: Entry): void {
    const cc = decodeConfChangeEntry(entry.data);
    const ctx = decodeProposal(cc.context);
    assert(ctx.kind === ProposalKind.ConfMember, "ConfChange entry without a member context");
    this.core.applyConfChange(cc);
    this.membership.applyConfChange(cc, ctx.member);
    this.hooks.trace.add("conf", this.name, entry.index, cc.type, label(cc.nodeId));
    if (ctx.origin === this.id)
      this.requests.resolve(ctx.seq, {
        result: { header: { revision: this.kv.revision } },
        index: entry.index,
      });
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.id) {
      this.stopAfterReady = true;
      return;
    }
    this.maybeCampaignAlone();
  }

  private maybeCampaignAlone(): void {
    const status = this.core.status();
    const voters = status.confState.voters;
    if (voters.length === 1 && voters[0] === this.id && status.role !== "leader") this.core.campaign();
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    const data = packr.unpack(snapshot.data) as { kv: Uint8Array; members: Uint8Array };
    this.kv.restore(data.kv);
    this.membership.restore(data.members);
    this.appliedIndex = snapshot.metadata.index;
    this.snapshotIndex = snapshot.metadata.index;
    this.hooks.trace.add("restore", this.name, snapshot.metadata.index);
    this.hooks.onStateDigest(this, snapshot.metadata.index, this.digest());
  }

  private maybeSnapshot(inc: number, then: () => void): void {
    if (this.appliedIndex - this.snapshotIndex < this.cfg.snapshotCount) {
      then();
      return;
    }
    const status = this.core.status();
    if (status.appliedTerm === 0 && !this.cfg.strict) {
      // Known issue K3 (known-issues.ts): the real node would fail here and stop.
      this.k3Avoided++;
      this.hooks.trace.add("k3-avoided", this.name, this.appliedIndex);
      then();
      return;
    }
    const snapshot: Snapshot = {
      metadata: { index: this.appliedIndex, term: status.appliedTerm, confState: status.confState },
      data: packr.pack({ kv: this.kv.snapshot(), members: this.membership.snapshot() }) as Uint8Array,
    };
    this.runSteps(this.disk.saveSnapshot(snapshot), inc, () => {
      this.core.compact(snapshot);
      if (snapshot.metadata.index > (this.raftSnapshot?.metadata.index ?? 0)) this.raftSnapshot = snapshot;
      this.disk.compact(snapshot.metadata.index);
      this.snapshotIndex = snapshot.metadata.index;
      this.hooks.trace.add("snapshot", this.name, snapshot.metadata.index);
      then();
    });
  }

  /** CRC-32 of the KvStore snapshot and the member table: equal states give equal digests. */
  digest(): number {
    return crc32(this.membership.snapshot(), crc32(this.kv.snapshot()));
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
