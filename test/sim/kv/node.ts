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
 * Client calls answer through callbacks: `{ ok: true, value, index }` (index: the log index that
 * carried the write) or `{ ok: false, error }` with the CairnError the real node would throw.
 */
import { Packr } from "msgpackr";
import { KvStore } from "../../../src/mvcc/store.ts";
import type {
  Command,
  CommandResult,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../../../src/mvcc/types.ts";
import { decodeConfChangeEntry, RaftCore, type RaftStatus } from "../../../src/raft/core.ts";
import {
  type ConfChange,
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
import { type ConfMember, decodeProposal, encodeProposal, type Proposal, ProposalKind } from "../../../src/server/proposal.ts";
import type { PersistedState } from "../../../src/storage/types.ts";
import { assert } from "../../../src/util/assert.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { MAX_PENDING_PROPOSALS } from "../../../src/util/limits.ts";
import { crc32 } from "../../../src/storage/file/crc.ts";
import type { Rng } from "../rng.ts";
import { type SimConfig, TIMING } from "./config.ts";
import { type DiskStep, SimDisk } from "./disk.ts";
import { SimReadIndex } from "./read-index.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";
import { SimWaitRegistry } from "./waiters.ts";

const packr = new Packr({ useRecords: false });

/** Answer of a client call. */
export type Answer<T> = { ok: true; value: T; index: number } | { ok: false; error: Error };

/** Applied result of a proposal, with the index of its entry. */
interface Applied {
  result: CommandResult;
  index: number;
}

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
  /** Set when Raft may have changed (a message, tick or disk step): the cluster re-checks this member. */
  dirty = false;
  private snapshotIndex = 0;
  private seq = 0;
  private lastHardState: HardState = { term: 0, vote: "", commit: 0 };
  private busy = false;
  private stopAfterReady = false;
  private proposals!: SimWaitRegistry<Applied>;
  private reads!: SimReadIndex;
  private leaderWaiters: { wake: () => void; inc: number }[] = [];
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
    this.leaderWaiters = [];
    this.seq = this.sched.nowMs * 1000;
    const alive = () => this.up && this.incarnation === inc;
    this.proposals = new SimWaitRegistry(this.sched, alive);
    this.reads = new SimReadIndex(
      {
        requestReadIndex: (ctx) => this.core.readIndex(ctx),
        appliedIndex: () => this.appliedIndex,
        alive,
        onRoundStart: (key) => this.hooks.onReadRoundStart(this, key),
        onRoundAnswered: (key, index) => this.hooks.onReadRoundAnswered(this, key, index),
      },
      this.sched,
      TIMING.readIndexRetryMs,
      TIMING.requestTimeoutMs,
    );
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
    this.publishAttributes(inc);
  }

  /** The process dies: only the disk remains (with what a crash keeps of it). */
  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.proposals.clear();
    this.leaderWaiters = [];
    this.disk.crash(this.rng, this.cfg.faults.tear);
    this.hooks.trace.add("crash", this.name, this.incarnation);
  }

  /** Stops for good (CairnNode.stop after "removed"): waiting requests fail with "stopped". */
  stopRemoved(why: string): void {
    if (this.removed) return;
    this.removed = true;
    if (!this.up) return;
    const err = new CairnError("stopped", "the member is shutting down");
    this.proposals.rejectAll(err);
    this.reads.failAll(err);
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
      this.reads.onApplied(this.appliedIndex);
      for (const rs of rd.readStates) this.reads.onReadState(rs);
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
    if (ss.leader) for (const w of this.leaderWaiters.splice(0)) w.wake();
    if (wasLeader && ss.role !== "leader") {
      // hashicorp/raft: pending proposals fail when a leader steps down; they may still commit.
      this.proposals.rejectAll(new CairnError("leader_changed", "etcdserver: leader changed"));
    }
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
      if (mine) this.proposals.resolve(p.seq, { result: { header: { revision: this.kv.revision } }, index });
      return;
    }
    if (p.kind === ProposalKind.ConfMember) return;
    try {
      const result = this.kv.apply(p.command);
      if (mine) this.proposals.resolve(p.seq, { result, index });
    } catch (err) {
      if (!(err instanceof CairnError)) throw err;
      if (mine) this.proposals.reject(p.seq, err);
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
      this.proposals.resolve(ctx.seq, { result: { header: { revision: this.kv.revision } }, index: entry.index });
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

  // ---- client calls (KvService) --------------------------------------------------------------

  put(req: PutRequest, done: (a: Answer<PutResponse>) => void): void {
    this.proposeCommand({ op: "put", req }, done as (a: Answer<CommandResult>) => void);
  }

  deleteRange(req: DeleteRangeRequest, done: (a: Answer<DeleteRangeResponse>) => void): void {
    this.proposeCommand({ op: "deleteRange", req }, done as (a: Answer<CommandResult>) => void);
  }

  txn(req: TxnRequest, done: (a: Answer<TxnResponse>) => void): void {
    this.proposeCommand({ op: "txn", req }, done as (a: Answer<CommandResult>) => void);
  }

  compact(revision: number, done: (a: Answer<CommandResult>) => void): void {
    this.proposeCommand({ op: "compact", req: { revision } }, done);
  }

  /** A linearizable read (ReadIndex barrier, then local state), as CairnNode.range. */
  range(req: RangeRequest, done: (a: Answer<RangeResponse>) => void): void {
    const inc = this.incarnation;
    const read = () => {
      try {
        done({ ok: true, value: this.kv.range(req), index: this.appliedIndex });
      } catch (err) {
        done({ ok: false, error: err as Error });
      }
    };
    if (this.cfg.bug === "localReads") {
      read();
      return;
    }
    this.waitForLeader(
      () =>
        this.reads.barrier({
          resolve: () => {
            if (this.up && this.incarnation === inc) read();
          },
          reject: (error) => done({ ok: false, error }),
        }),
      (error) => done({ ok: false, error }),
    );
  }

  private proposeCommand(command: Command, done: (a: Answer<CommandResult>) => void): void {
    this.propose({ kind: ProposalKind.Kv, origin: this.id, seq: ++this.seq, command }, done);
  }

  private propose(p: Proposal, done: (a: Answer<CommandResult>) => void): void {
    if (this.proposals.size >= MAX_PENDING_PROPOSALS) {
      done({ ok: false, error: new CairnError("too_many_requests", "etcdserver: too many requests") });
      return;
    }
    this.waitForLeader(
      () => {
        this.proposals.wait(
          p.seq,
          {
            resolve: (a) => done({ ok: true, value: a.result, index: a.index }),
            reject: (error) => done({ ok: false, error }),
          },
          TIMING.requestTimeoutMs,
          "etcdserver: request timed out",
        );
        try {
          this.core.propose([encodeProposal(p)]);
          if (this.cfg.bug === "ackBeforeCommit" && p.kind === ProposalKind.Kv) {
            this.proposals.resolve(p.seq, { result: fakeResult(p.command, this.kv.revision), index: -1 });
          }
        } catch (err) {
          this.proposals.reject(p.seq, err as Error);
        }
      },
      (error) => done({ ok: false, error }),
    );
  }

  /** Runs `go` once a leader is known, or fails with no_leader after NO_LEADER_WAIT. */
  private waitForLeader(go: () => void, fail: (err: Error) => void): void {
    if (this.softState.leader) {
      go();
      return;
    }
    const inc = this.incarnation;
    let settled = false;
    const w = {
      inc,
      wake: () => {
        if (settled) return;
        settled = true;
        go();
      },
    };
    this.leaderWaiters.push(w);
    this.sched.after(TIMING.noLeaderWaitMs, () => {
      if (settled || !this.up || this.incarnation !== inc) return;
      settled = true;
      this.leaderWaiters = this.leaderWaiters.filter((x) => x !== w);
      fail(new CairnError("no_leader", "etcdserver: no leader"));
    });
  }

  /** Publishes name and client URLs through Raft until applied (CairnNode.publishAttributes). */
  private publishAttributes(inc: number): void {
    if (!this.up || this.incarnation !== inc) return;
    const attributes = { memberId: this.id, name: this.name, clientUrls: [`http://${this.name}:2379`] };
    this.propose({ kind: ProposalKind.MemberAttributes, origin: this.id, seq: ++this.seq, attributes }, (a) => {
      if (!a.ok) this.sched.after(TIMING.publishRetryMs, () => this.publishAttributes(inc));
    });
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

  /** Proposes a ConfChange for `member`; answers once this member applied it. */
  proposeConfChange(type: ConfChange["type"], member: ConfMember, done: (a: Answer<unknown>) => void): void {
    const seq = ++this.seq;
    const context = encodeProposal({ kind: ProposalKind.ConfMember, origin: this.id, seq, member });
    this.proposals.wait(
      seq,
      {
        resolve: (a) => done({ ok: true, value: a.result, index: a.index }),
        reject: (error) => done({ ok: false, error }),
      },
      TIMING.requestTimeoutMs,
      "etcdserver: request timed out",
    );
    try {
      this.core.proposeConfChange({ type, nodeId: member.id, context });
    } catch (err) {
      this.proposals.reject(seq, err as Error);
    }
  }
}

/** What the broken ackBeforeCommit variant answers before anything is applied. */
function fakeResult(c: Command, revision: number): CommandResult {
  const header = { revision: revision + 1 };
  switch (c.op) {
    case "deleteRange":
      return { header, deleted: 0, prevKvs: [] };
    case "txn":
      return { header, succeeded: true, responses: [] };
    default:
      return { header };
  }
}
