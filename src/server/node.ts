/**
 * One Cairn member: owns a RaftCore and is the only place that does I/O for it (DESIGN.md).
 * The ready loop follows etcd-io/raft's Ready contract: persist hard state, entries and snapshot
 * (fsync) → send messages → apply snapshot and committed entries in order → advance.
 * Writes become proposals and resolve when this node applies their entry; linearizable reads
 * go through batched ReadIndex (Raft thesis §6.4); serializable reads read local state.
 * Leases: the replicated table is in the KvStore; expiry times are the leader's alone (lessor.ts),
 * checked on every tick, and an expired lease becomes a LeaseRevoke proposal. Automatic
 * compaction (compactor.ts) is polled on every tick too. Both read the injectable `clock`.
 */
import { randomBytes, randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type {
  Command,
  CommandResult,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../mvcc/types.ts";
import type { WatchRequest } from "../mvcc/watch-request.ts";
import type { WatchStream } from "../mvcc/watcher.ts";
import { RaftCore } from "../raft/core.ts";
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
} from "../raft/types.ts";
import type { RaftStorage } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";
import { AssertionError, assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";
import {
  LEASE_EXPIRED_RETRY_MS,
  MAX_PENDING_PROPOSALS,
  NO_LEADER_WAIT_MS,
  REQUEST_TIMEOUT_MS,
} from "../util/limits.ts";
import { seededRandom } from "../util/random.ts";
import { type AutoCompaction, type Compactor, createCompactor } from "./compactor.ts";
import { bootstrapLog, ReplicatedState } from "./state-machine.ts";

/** Re-exported for callers that build bootstrap logs (tests, the simulation). */
export { bootstrapLog } from "./state-machine.ts";

import { Lessor, minLeaseTtlSeconds } from "./lessor.ts";
import { NodeCluster } from "./node-cluster.ts";
import { NodeLeases } from "./node-leases.ts";
import { encodeProposal, type Proposal, ProposalKind } from "./proposal.ts";
import { ReadIndexBatcher, realTimers } from "./read-index.ts";
import type {
  ClusterHeader,
  ClusterService,
  KvService,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseTimeToLiveResponse,
  MemberAddRequest,
  MemberChangeResult,
  MemberInfo,
  NodeStatus,
  ReadConsistency,
} from "./service.ts";
import { snapshotDueIndex } from "./snapshot-schedule.ts";
import { SnapshotKeeper } from "./snapshots.ts";
import { AppliedIndexWaiters, WaitRegistry } from "./waiters.ts";
import { NodeWatches } from "./watches.ts";

/** Options of one node. Times in ms. */
export interface CairnNodeOptions {
  memberId: string;
  clusterId: string;
  name: string;
  /**
   * Bootstrap members (from --initial-cluster), ids derived by server/ids.ts. A new data dir of a
   * member that is not joining starts its log with one ConfChange entry per member (etcd: the
   * bootstrap entries of raft.StartNode), so the whole membership history is in the log.
   */
  initialMembers: { id: string; name: string; peerUrls: string[] }[];
  /**
   * True for a member added at runtime that starts with an empty data dir
   * (--initial-cluster-state existing): no bootstrap entries, it learns everything from the leader.
   */
  joining?: boolean;
  /** This member's advertised client URLs, published through Raft. */
  clientUrls: string[];
  storage: RaftStorage;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** Applied entries between snapshots (--snapshot-count). */
  snapshotCount: number;
  /** Entries kept after a snapshot for slow followers (--snapshot-catchup-entries); default SNAPSHOT_CATCH_UP_ENTRIES. */
  snapshotCatchUpEntries?: number;
  logger: Logger;
  version: string;
  /** Seed of Raft's randomness; default a random one (logged). */
  raftSeed?: number;
  /**
   * Monotonic clock in ms for lease expiry and automatic compaction; default performance.now().
   * Tests inject one to drive time. Never read while applying entries.
   */
  clock?: () => number;
  /** Automatic compaction (--auto-compaction-mode / --auto-compaction-retention); absent = off. */
  autoCompaction?: AutoCompaction | null;
}

const READ_INDEX_RETRY_MS = 500;
const PUBLISH_RETRY_MS = 2_000;

/** Shortest Raft tick in ms (see raftTiming). */
const MIN_TICK_MS = 10;
/** Most Raft ticks per heartbeat interval (see raftTiming). */
const MAX_TICKS_PER_HEARTBEAT = 10;

/** How often a member ticks Raft, and the heartbeat and election timeout in those ticks. */
export interface RaftTiming {
  /** Interval of the member's Raft ticker, ms (heartbeatIntervalMs / heartbeatTick). */
  tickMs: number;
  /** Ticks between leader heartbeats. */
  heartbeatTick: number;
  /** Base election timeout in ticks; Raft draws each timeout from [electionTick, 2·electionTick). */
  electionTick: number;
}

/**
 * The Raft timing of a member with `heartbeatIntervalMs` and `electionTimeoutMs` (etcd's
 * --heartbeat-interval and --election-timeout, both ms; the election timeout is rounded to whole
 * heartbeats, at least 2). A heartbeat is split into as many ticks of at least MIN_TICK_MS as fit,
 * at most MAX_TICKS_PER_HEARTBEAT, at least 1: the defaults (100 ms, 1000 ms) give 10 ms ticks,
 * heartbeatTick 10 and electionTick 100.
 *
 * Why not one tick per heartbeat, as etcd has: election timeouts are drawn in whole ticks (Raft
 * §5.2), so the defaults would allow only 10 timeouts, 100 ms apart, and two followers of a crashed
 * leader would draw the same one 1 time in 10. In the split votes measured on a loaded 2-core
 * machine, both followers timed out 0–5 ms apart, within one PreVote round trip: each granted the
 * other's PreVote and the election took another 1–2 s. With 10 ms ticks the timeouts spread over 100
 * values 10 ms apart (split votes in fresh clusters under CPU load: 2 of 50 → 1 of 90 elections).
 */
export function raftTiming(heartbeatIntervalMs: number, electionTimeoutMs: number): RaftTiming {
  const heartbeatTick = Math.max(
    1,
    Math.min(MAX_TICKS_PER_HEARTBEAT, Math.floor(heartbeatIntervalMs / MIN_TICK_MS)),
  );
  const heartbeatsPerElection = Math.max(2, Math.round(electionTimeoutMs / heartbeatIntervalMs));
  return {
    tickMs: heartbeatIntervalMs / heartbeatTick,
    heartbeatTick,
    electionTick: heartbeatsPerElection * heartbeatTick,
  };
}

/**
 * A running member. Create with {@link CairnNode.start}; connect peers with `setTransport`.
 * Emits "fatal" (Error) when durable storage fails: the process must exit, continuing could
 * acknowledge writes that are not on disk. Emits "removed" when this member has been removed from
 * the cluster (it applied its own removal, or a peer refused it with 410): it must stop for good.
 */
export class CairnNode extends EventEmitter implements KvService, ClusterService {
  /** Store and member table, changed only by applying entries (state-machine.ts). */
  private readonly state = new ReplicatedState();
  private readonly kv = this.state.kv;
  private readonly membership = this.state.membership;
  /** The watch hub, fed every applied write (applyEntry) and every snapshot restore. */
  private readonly watches = new NodeWatches(this.kv);
  private readonly raft: RaftCore;
  private transport: Transport | null = null;
  /** Local, sent and received snapshots, streamed (snapshots.ts). */
  private readonly snapshots: SnapshotKeeper;
  private readonly proposals = new WaitRegistry<CommandResult>();
  private readonly appliedWaiters = new AppliedIndexWaiters();
  private readonly reads: ReadIndexBatcher;
  private leaderWaiters: (() => void)[] = [];
  private appliedIndex: number;
  /** Term of the entry at appliedIndex (or of the restored snapshot), tracked here: Raft's log may have moved past it. */
  private appliedTerm = 0;
  /** Voters and learners as of appliedIndex (the configuration a snapshot of the applied state records). */
  private appliedConf: ConfState = { voters: [], learners: [] };
  private snapshotIndex: number;
  private seq = Date.now() * 1000;
  private softState: SoftState = { leader: "", role: "follower" };
  private lastHardState: HardState = { term: 0, vote: "", commit: 0 };
  private ticker: NodeJS.Timeout | null = null;
  /** Ticks since lease expiry and auto compaction were last polled (onTick). */
  private ticksSinceHeartbeat = 0;
  private publishTimer: NodeJS.Timeout | null = null;
  private processing = false;
  private scheduled = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly clock: () => number;
  /** Lease expiry times while this member leads (etcd's primary lessor). */
  private readonly lessor = new Lessor(LEASE_EXPIRED_RETRY_MS);
  /** etcd minLeaseTTL for this member's timing flags, in seconds. */
  readonly minLeaseTtlSeconds: number;
  /** Grant, revoke, keep-alive, time-to-live of leases (node-leases.ts). */
  private readonly leases: NodeLeases;
  /** Membership changes and leadership transfer (node-cluster.ts). */
  private readonly cluster: NodeCluster;
  private compactor: Compactor | null = null;

  private constructor(
    private readonly opts: CairnNodeOptions,
    init: { raft: RaftCore; applied: number },
  ) {
    super();
    this.raft = init.raft;
    this.snapshots = new SnapshotKeeper({
      storage: opts.storage,
      state: this.state,
      logger: opts.logger,
      schedule: () => this.schedule(),
    });
    this.appliedIndex = init.applied;
    this.snapshotIndex = init.applied;
    this.clock = opts.clock ?? (() => performance.now());
    this.minLeaseTtlSeconds = minLeaseTtlSeconds(opts.heartbeatIntervalMs, opts.electionTimeoutMs);
    this.cluster = new NodeCluster({
      clusterId: opts.clusterId,
      memberId: opts.memberId,
      electionTimeoutMs: opts.electionTimeoutMs,
      membership: this.membership,
      raft: this.raft,
      proposals: this.proposals,
      propose: (p) => this.propose(p),
      nextSeq: () => ++this.seq,
      leader: () => this.softState.leader,
      stopped: () => this.stopped,
      schedule: () => this.schedule(),
      assertRunning: () => this.assertRunning(),
      logger: opts.logger,
    });
    this.leases = new NodeLeases({
      kv: this.kv,
      lessor: this.lessor,
      clock: this.clock,
      minLeaseTtlSeconds: this.minLeaseTtlSeconds,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      propose: (command) => this.proposeCommand(command),
      isLeader: () => this.softState.role === "leader",
      commitIndex: () => this.raft.commitIndex,
      appliedIndex: () => this.appliedIndex,
      assertRunning: () => this.assertRunning(),
      logger: opts.logger,
    });
    this.reads = new ReadIndexBatcher(
      {
        requestReadIndex: (ctx) => {
          this.raft.readIndex(ctx);
          this.schedule();
        },
        waitApplied: (index, done) => this.appliedWaiters.waitFor(index, this.appliedIndex, done),
        ...realTimers,
      },
      READ_INDEX_RETRY_MS,
      REQUEST_TIMEOUT_MS,
      randomBytes(8),
    );
  }

  /**
   * Loads persisted state, restores the state machine from the newest snapshot, builds the
   * Raft core and starts the ticker. Committed entries after the snapshot are re-applied by the
   * ready loop. @throws StorageCorruptError from storage.load()
   */
  static async start(opts: CairnNodeOptions): Promise<CairnNode> {
    let persisted = await opts.storage.load();
    const isNew = !persisted.hardState && !persisted.snapshot && persisted.entries.length === 0;
    if (isNew && !opts.joining) {
      await opts.storage.append(...bootstrapLog(opts.initialMembers));
      persisted = await opts.storage.load();
    }
    const node0 = { applied: 0 };
    const seed = opts.raftSeed ?? randomInt(2 ** 31);
    opts.logger.info({ raftSeed: seed }, "raft randomness seeded");
    if (persisted.snapshot) {
      node0.applied = persisted.snapshot.metadata.index;
    }
    const timing = raftTiming(opts.heartbeatIntervalMs, opts.electionTimeoutMs);
    const raft = new RaftCore(
      {
        id: opts.memberId,
        electionTick: timing.electionTick,
        heartbeatTick: timing.heartbeatTick,
        random: seededRandom(seed),
        snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
        // A member back from a partition does not depose a healthy leader, and a leader cut off
        // from its quorum steps down (thesis §9.6, §6.2), as etcd enables by default.
        preVote: true,
        checkQuorum: true,
        logger: opts.logger,
      },
      {
        hardState: persisted.hardState,
        snapshot: persisted.snapshot,
        entries: persisted.entries,
        // The configuration comes from the snapshot, then from replaying ConfChange entries.
        confState: { voters: [], learners: [] },
        applied: node0.applied,
      },
    );
    const node = new CairnNode(opts, { raft, applied: node0.applied });
    if (persisted.hardState) node.lastHardState = persisted.hardState;
    if (persisted.snapshot) await node.restoreStoredSnapshot();
    node.ticker = setInterval(() => node.onTick(timing.heartbeatTick), timing.tickMs);
    node.maybeCampaignAlone();
    node.schedule();
    node.publishAttributes();
    return node;
  }

  /** Connects the peer transport (messages produced from now on are sent through it). */
  setTransport(transport: Transport): void {
    this.transport = transport;
    this.updatePeers();
  }

  /** Peers of the transport follow the member table (once it knows any member). */
  private updatePeers(): void {
    if (this.membership.records().length === 0) return;
    const peers = this.membership.peers(this.opts.memberId);
    this.transport?.setPeers(peers);
    this.snapshots.forgetPeersExcept(new Set(peers.keys()));
  }

  /** True when `id` was removed from the cluster (its peer requests are refused with 410). */
  isRemovedMember(id: string): boolean {
    return this.membership.isRemoved(id);
  }

  /** Members for GET /cairn/cluster on the peer port (a joining member looks itself up there). */
  peerMembers(): { id: string; name: string; peerUrls: string[]; isLearner: boolean }[] {
    return this.membership
      .records()
      .map((m) => ({ id: m.id, name: m.name, peerUrls: [...m.peerUrls], isLearner: m.isLearner }));
  }

  /** A peer refused this member as removed (HTTP 410): stop for good. */
  reportRemoved(): void {
    if (this.stopped) return;
    this.opts.logger.error(
      { memberId: this.opts.memberId },
      "a peer reports that this member was removed from the cluster",
    );
    this.emit("removed");
  }

  /**
   * A MsgSnap from the leader with its state data streamed: the data is staged to storage as it
   * arrives, then the message goes to Raft (which may still refuse a stale one).
   * @throws whatever reading `data` or staging it throws; the message is then dropped
   */
  async receiveSnapshot(msg: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    const snapshot = msg.snapshot;
    assert(
      msg.type === MessageType.Snap && snapshot !== undefined,
      "receiveSnapshot of a message without a snapshot",
    );
    if (this.stopped) throw new CairnError("stopped", "the member is shutting down");
    await this.snapshots.receive(snapshot.metadata, data);
    this.step(msg);
  }

  /** Feeds a message received from a peer. */
  step(msg: Message): void {
    if (this.stopped) return;
    this.raft.step(msg);
    this.schedule();
  }

  /** The transport could not reach `peer`. */
  reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.raft.reportUnreachable(peer);
    this.schedule();
  }

  /** A snapshot send to `peer` finished. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    this.snapshots.sendFinished(peer);
    if (this.stopped) return;
    this.raft.reportSnapshot(peer, ok);
    this.schedule();
  }

  get memberId(): string {
    return this.opts.memberId;
  }

  /** Stops ticking, fails every waiting request with "stopped", waits for the ready loop, closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watches.stop();
    if (this.ticker) clearInterval(this.ticker);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    const err = new CairnError("stopped", "the member is shutting down");
    this.proposals.rejectAll(err);
    this.reads.failAll(err);
    for (const w of this.leaderWaiters.splice(0)) w();
    this.leases.wake();
    await this.loopDone;
    this.snapshots.close();
    await this.opts.storage.close();
  }

  // ---- KvService ----------------------------------------------------------------------------

  watch(req: WatchRequest): WatchStream {
    return this.watches.watch(req);
  }

  async range(req: RangeRequest, consistency: ReadConsistency): Promise<RangeResponse> {
    if (consistency === "linearizable") await this.linearizableBarrier();
    return this.kv.range(req);
  }

  put(req: PutRequest): Promise<PutResponse> {
    return this.proposeCommand({ op: "put", req }) as Promise<PutResponse>;
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.proposeCommand({ op: "deleteRange", req }) as Promise<DeleteRangeResponse>;
  }

  async txn(req: TxnRequest, consistency: ReadConsistency = "linearizable"): Promise<TxnResponse> {
    if (isReadOnlyTxn(req)) {
      if (consistency === "linearizable") await this.linearizableBarrier();
      return this.kv.apply({ op: "txn", req }) as TxnResponse;
    }
    return (await this.proposeCommand({ op: "txn", req })) as TxnResponse;
  }

  localRevision(): number {
    return this.kv.revision;
  }

  compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.proposeCommand({ op: "compact", req }) as Promise<CompactionResponse>;
  }

  // ---- LeaseService -------------------------------------------------------------------------

  leaseGrant(req: { ttl: number; id?: number }): Promise<LeaseGrantResponse> {
    return this.leases.grant(req);
  }

  leaseRevoke(id: number): Promise<LeaseRevokeResponse> {
    return this.leases.revoke(id);
  }

  leaseKeepAlive(id: number): Promise<LeaseKeepAliveResponse> {
    return this.leases.keepAlive(id);
  }

  leaseTimeToLive(id: number, keys: boolean): Promise<LeaseTimeToLiveResponse> {
    return this.leases.timeToLive(id, keys);
  }

  leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.leases.list();
  }

  async members(): Promise<MemberInfo[]> {
    return this.membership.list();
  }

  // ---- ClusterService -----------------------------------------------------------------------

  isLeader(): boolean {
    return this.softState.role === "leader";
  }

  leaderClientUrls(): string[] {
    const leader = this.softState.leader;
    return leader ? [...(this.membership.get(leader)?.clientUrls ?? [])] : [];
  }

  memberAdd(req: MemberAddRequest): Promise<MemberChangeResult> {
    return this.cluster.memberAdd(req);
  }

  memberRemove(id: string): Promise<MemberChangeResult> {
    return this.cluster.memberRemove(id);
  }

  memberUpdate(id: string, peerUrls: string[]): Promise<MemberChangeResult> {
    return this.cluster.memberUpdate(id, peerUrls);
  }

  memberPromote(id: string): Promise<MemberChangeResult> {
    return this.cluster.memberPromote(id);
  }

  moveLeader(targetId: string): Promise<void> {
    return this.cluster.moveLeader(targetId);
  }

  /**
   * Graceful stop of a leader: hands leadership to its most up-to-date connected voter first
   * (node-cluster.ts). A no-op on a follower.
   */
  handOverLeadershipBeforeStop(): Promise<void> {
    return this.cluster.handOverLeadershipBeforeStop();
  }

  async status(): Promise<NodeStatus> {
    const rs = this.raft.status();
    const me = this.membership.get(this.opts.memberId);
    return {
      clusterId: this.opts.clusterId,
      memberId: this.opts.memberId,
      name: this.opts.name,
      version: this.opts.version,
      leader: rs.leader,
      isLeader: rs.leader === this.opts.memberId,
      isLearner: me?.isLearner ?? false,
      raftTerm: rs.term,
      raftIndex: rs.lastIndex,
      commitIndex: rs.commit,
      appliedIndex: this.appliedIndex,
      revision: this.kv.revision,
      compactRevision: this.kv.compactRevision,
      historyEntries: this.kv.historyEntries,
      historyBytes: this.kv.sizeBytes,
      keyCount: this.kv.keyCount,
      leaseCount: this.kv.leaseCount,
      dbSizeBytes: await this.opts.storage.sizeBytes(),
      errors: rs.leader ? [] : ["etcdserver: no leader"],
    };
  }

  async health(): Promise<{ health: boolean; reason?: string }> {
    if (!this.softState.leader) return { health: false, reason: "RAFT NO LEADER" };
    try {
      await this.linearizableBarrier();
      return { health: true };
    } catch (err) {
      return { health: false, reason: (err as Error).message };
    }
  }

  header(): ClusterHeader {
    return {
      clusterId: this.opts.clusterId,
      memberId: this.opts.memberId,
      raftTerm: this.raft.term,
    };
  }

  // ---- proposals and reads --------------------------------------------------------------------

  private proposeCommand(command: Command): Promise<CommandResult> {
    return this.propose({ kind: ProposalKind.Kv, origin: this.opts.memberId, seq: ++this.seq, command });
  }

  /**
   * Proposes `p` and resolves with its result once applied. Not an async function: with a leader
   * known (nearly always) it adds no promise of its own to the one the proposal resolves, since
   * every write goes through here. Errors are rejections, never synchronous throws.
   */
  private propose(p: Proposal): Promise<CommandResult> {
    try {
      this.assertRunning();
      if (this.proposals.size >= MAX_PENDING_PROPOSALS) {
        throw new CairnError("too_many_requests", "etcdserver: too many requests");
      }
      if (this.softState.leader) return this.proposeNow(p);
      return this.waitForLeader().then(() => this.proposeNow(p));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** {@link propose} once a leader is known. */
  private proposeNow(p: Proposal): Promise<CommandResult> {
    const done = this.proposals.wait(p.seq, REQUEST_TIMEOUT_MS, "etcdserver: request timed out");
    try {
      this.raft.propose([encodeProposal(p)]);
    } catch (err) {
      this.proposals.reject(p.seq, err as Error);
    }
    this.schedule();
    return done;
  }

  private async linearizableBarrier(): Promise<void> {
    this.assertRunning();
    await this.waitForLeader();
    await this.reads.barrier();
  }

  private waitForLeader(): Promise<void> {
    if (this.softState.leader) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== wake);
        reject(new CairnError("no_leader", "etcdserver: no leader"));
      }, NO_LEADER_WAIT_MS);
      const wake = () => {
        clearTimeout(timer);
        if (this.stopped) reject(new CairnError("stopped", "the member is shutting down"));
        else resolve();
      };
      this.leaderWaiters.push(wake);
    });
  }

  private assertRunning(): void {
    if (this.stopped) throw new CairnError("stopped", "the member is shutting down");
  }

  /** Publishes this member's name and client URLs through Raft until it is applied (etcd: publishV3). */
  private publishAttributes(): void {
    if (this.stopped) return;
    const attributes = {
      memberId: this.opts.memberId,
      name: this.opts.name,
      clientUrls: this.opts.clientUrls,
    };
    this.propose({
      kind: ProposalKind.MemberAttributes,
      origin: this.opts.memberId,
      seq: ++this.seq,
      attributes,
    })
      .then(() => this.opts.logger.info({ attributes }, "published member attributes"))
      .catch(() => {
        this.publishTimer = setTimeout(() => this.publishAttributes(), PUBLISH_RETRY_MS);
      });
  }

  // ---- the ready loop -------------------------------------------------------------------------

  /** One Raft tick; lease expiry and auto compaction are polled once per heartbeat (every `perHeartbeat` ticks). */
  private onTick(perHeartbeat: number): void {
    this.raft.tick();
    this.schedule();
    if (++this.ticksSinceHeartbeat < perHeartbeat) return;
    this.ticksSinceHeartbeat = 0;
    this.leases.revokeExpired();
    this.runAutoCompaction();
  }

  /** Polls the automatic compactor (only the leader compacts; see compactor.ts). */
  private runAutoCompaction(): void {
    const config = this.opts.autoCompaction;
    if (!config) return;
    this.compactor ??= createCompactor(config, this.clock(), this.kv.revision);
    const compactor = this.compactor;
    const revision = compactor.poll(this.clock(), this.kv.revision, this.softState.role === "leader");
    if (revision === undefined) return;
    this.opts.logger.info({ revision, mode: config.mode }, "starting auto compaction");
    this.compact({ revision }).then(
      () => {
        compactor.finished(this.clock(), true);
        this.opts.logger.info({ revision }, "completed auto compaction");
      },
      (err: unknown) => {
        const done = err instanceof CairnError && err.code === "compacted";
        compactor.finished(this.clock(), done);
        if (!done) this.opts.logger.warn({ revision, err }, "auto compaction failed; it will be retried");
      },
    );
  }

  /** Runs the ready loop soon (coalesces many triggers into one pass). */
  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.processing) return;
      this.loopDone = this.runReadyLoop();
    });
  }

  private async runReadyLoop(): Promise<void> {
    this.processing = true;
    try {
      while (!this.stopped) {
        if (this.snapshots.localWritten) await this.commitLocalSnapshot();
        if (!this.raft.hasReady()) break;
        const rd = this.raft.ready();
        if (rd.softState) this.onSoftState(rd.softState);
        // A leader may send appends before its own entries are on disk (Raft thesis §10.2.1,
        // etcd raft.go): it counts itself in the quorum only once advance() says they are stable.
        const sendFirst = this.softState.role === "leader";
        if (sendFirst && rd.messages.length > 0) this.sendMessages(rd.messages);
        if (rd.snapshot) {
          await this.saveLeaderSnapshot(rd.snapshot);
          this.opts.logger.warn(
            { index: rd.snapshot.metadata.index },
            "restored state from a leader's snapshot",
          );
        }
        // Start this Ready's write, then apply committed entries while it is in flight: they are
        // durable on a quorum already (etcd applies concurrently with its WAL save), so answering
        // their clients need not wait for a commit-index write or for entries still being synced.
        const persisted =
          rd.hardState || rd.entries.length > 0
            ? this.opts.storage.append(
                rd.hardState ?? null,
                rd.entries,
                this.mustSync(rd.hardState, rd.entries),
              )
            : null;
        for (const entry of rd.committedEntries) this.applyEntry(entry);
        this.appliedWaiters.advance(this.appliedIndex);
        this.leases.wake();
        for (const rs of rd.readStates) this.reads.onReadState(rs);
        if (persisted) await persisted;
        if (rd.hardState) this.lastHardState = rd.hardState;
        // Votes and append responses promise durability: they go out only after the write.
        if (!sendFirst && rd.messages.length > 0) this.sendMessages(rd.messages);
        this.raft.advance(rd);
        this.maybeSnapshot();
      }
    } catch (err) {
      this.opts.logger.fatal({ err }, "ready loop failed; stopping the member");
      this.emit("fatal", err);
    } finally {
      this.processing = false;
    }
    // Triggers that arrived during the last await ran no loop: check once more.
    // (A local snapshot written meanwhile schedules a pass itself.)
    if (!this.stopped && (this.raft.hasReady() || this.snapshots.localWritten)) this.schedule();
  }

  /** Entries, or a new term or vote, must be fsynced; a commit-only change need not (etcd: wal.MustSync). */
  private mustSync(hs: HardState | undefined, entries: Entry[]): boolean {
    if (entries.length > 0 || !hs) return entries.length > 0;
    return hs.term !== this.lastHardState.term || hs.vote !== this.lastHardState.vote;
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.softState.role === "leader";
    this.softState = ss;
    if (ss.leader) for (const w of this.leaderWaiters.splice(0)) w();
    if (wasLeader && ss.role !== "leader") {
      // hashicorp/raft: pending proposals fail when a leader steps down; they may still commit.
      this.proposals.rejectAll(new CairnError("leader_changed", "etcdserver: leader changed"));
      // etcd Demote: a former leader's expiry times mean nothing; the next leader renews every lease.
      this.lessor.demote();
      this.leases.wake();
    }
    this.opts.logger.info({ leader: ss.leader, role: ss.role }, "raft soft state changed");
  }

  private applyEntry(entry: Entry): void {
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    const out = this.state.apply(entry);
    if (out.kind === "noop") {
      this.maybePromoteLessor(out.term);
      return;
    }
    const mine = out.proposal.origin === this.opts.memberId;
    switch (out.kind) {
      case "confChange":
        this.onConfChange(out.change, entry.index);
        if (mine) this.proposals.resolve(out.proposal.seq, { header: { revision: this.kv.revision } });
        if (out.change.type === ConfChangeType.RemoveNode && out.change.nodeId === this.opts.memberId) {
          this.opts.logger.error(
            { memberId: this.opts.memberId },
            "this member was removed from the cluster",
          );
          this.emit("removed");
        }
        return;
      case "memberUpdate":
        if (out.peersChanged) this.updatePeers();
        if (mine) this.proposals.resolve(out.proposal.seq, { header: { revision: this.kv.revision } });
        return;
      case "kv":
        if (out.error) {
          if (mine) this.proposals.reject(out.proposal.seq, out.error);
          return;
        }
        this.watches.publish(this.kv.revision, out.events);
        if (out.command.op === "leaseGrant")
          this.lessor.granted(out.command.req.id, out.command.req.ttl, this.clock());
        else if (out.command.op === "leaseRevoke") this.lessor.revoked(out.command.req.id);
        if (mine) this.proposals.resolve(out.proposal.seq, out.result!);
        return;
    }
  }

  /**
   * A committed membership change (already in the member table): Raft's configuration and the
   * transport's peers follow.
   */
  private onConfChange(cc: ConfChange, index: number): void {
    this.appliedConf = this.raft.applyConfChange(cc);
    this.updatePeers();
    this.opts.logger.info({ change: cc.type, member: cc.nodeId, index }, "applied membership change");
    this.maybeCampaignAlone();
  }

  /**
   * The leader applied the empty entry of its own term, so it has applied everything committed
   * before it: the lessor becomes primary and every lease expires at now + election timeout + TTL
   * (etcd applyEntryNormal → lessor.Promote(electionTimeout)), so none expires early because
   * leadership moved.
   */
  private maybePromoteLessor(entryTerm: number): void {
    if (this.softState.role !== "leader" || this.lessor.isPrimary) return;
    if (entryTerm !== this.raft.term) return;
    this.lessor.promote(this.clock(), this.opts.electionTimeoutMs, this.kv.leases());
    this.opts.logger.info(
      { leases: this.lessor.size, extendMs: this.opts.electionTimeoutMs },
      "lessor promoted: every lease renewed",
    );
    this.leases.wake();
  }

  /** The only voter of a cluster elects itself at once (no one else could answer). */
  private maybeCampaignAlone(): void {
    const status = this.raft.status();
    const voters = status.confState.voters;
    if (voters.length === 1 && voters[0] === this.opts.memberId && status.role !== "leader")
      this.raft.campaign();
  }

  /** Restores the state machine from the stored snapshot (read in chunks) and takes over its position. */
  private async restoreStoredSnapshot(): Promise<void> {
    const metadata = await this.snapshots.restoreFromStorage();
    assert(metadata !== null, "restore without a stored snapshot");
    this.watches.restored();
    // Expiry times were for the old table; a member restoring a snapshot does not lead, and the
    // lessor is promoted again when it next leads.
    this.lessor.demote();
    this.leases.wake();
    this.updatePeers();
    this.appliedIndex = metadata.index;
    this.appliedTerm = metadata.term;
    this.appliedConf = metadata.confState;
    this.snapshotIndex = metadata.index;
  }

  /**
   * Saves the snapshot Raft accepted from the leader (its data staged when the MsgSnap arrived, or
   * inline in the message) and restores the state from it.
   * @throws AssertionError when its data is nowhere
   */
  private async saveLeaderSnapshot(snapshot: Snapshot): Promise<void> {
    const staged = await this.snapshots.takeReceived(snapshot.metadata);
    if (staged !== undefined) await this.opts.storage.saveSnapshot(staged);
    else if (snapshot.data.length > 0) await this.opts.storage.saveSnapshot(snapshot);
    else throw new AssertionError(`snapshot at index ${snapshot.metadata.index} accepted without its data`);
    await this.restoreStoredSnapshot();
  }

  /** The index, term and configuration of the applied state: what a snapshot of it records. */
  private appliedMetadata(): SnapshotMetadata {
    return { index: this.appliedIndex, term: this.appliedTerm, confState: this.appliedConf };
  }

  /** Sends Raft's messages; a MsgSnap carries a snapshot of the state applied now, streamed (snapshots.ts). */
  private sendMessages(messages: Message[]): void {
    const transport = this.transport;
    if (transport === null) return;
    if (!messages.some((m) => m.type === MessageType.Snap)) {
      transport.send(messages);
      return;
    }
    transport.send(messages.filter((m) => m.type !== MessageType.Snap));
    for (const m of messages) {
      if (m.type !== MessageType.Snap) continue;
      this.snapshots.send(transport, m, this.appliedMetadata(), (peer: NodeId) =>
        setImmediate(() => {
          if (this.stopped) return;
          this.raft.reportSnapshot(peer, false);
          this.schedule();
        }),
      );
    }
  }

  /**
   * Starts a snapshot every `snapshotCount` applied entries, members out of step (snapshot-schedule.ts);
   * it is written in the background while entries go on being applied, and saved by
   * {@link commitLocalSnapshot}.
   */
  private maybeSnapshot(): void {
    const { snapshotCount, memberId } = this.opts;
    if (this.appliedIndex - this.snapshotIndex < snapshotCount) return;
    const dueIndex = snapshotDueIndex(this.snapshotIndex, snapshotCount, memberId, this.appliedConf.voters);
    if (this.appliedIndex < dueIndex) return;
    // A leader's snapshot received while the last Ready was written moved Raft's log past the
    // applied state: it is applied with the next Ready; snapshot after that.
    if (this.raft.status().firstIndex > this.appliedIndex + 1) return;
    this.snapshots.startLocal(this.appliedMetadata());
  }

  /**
   * Saves a written local snapshot and lets Raft and storage drop the entries it covers; drops it
   * instead when a leader's snapshot has overtaken it.
   */
  private async commitLocalSnapshot(): Promise<void> {
    const staged = this.snapshots.takeLocal();
    if (staged === null) return;
    const { metadata } = staged;
    if (metadata.index <= this.snapshotIndex) {
      await this.opts.storage.discardStaged(staged);
      return;
    }
    await this.opts.storage.saveSnapshot(staged);
    this.raft.compact({ metadata, data: new Uint8Array(0) });
    await this.opts.storage.compact(metadata.index);
    this.snapshotIndex = metadata.index;
    this.opts.logger.info({ index: metadata.index, bytes: staged.dataBytes }, "saved snapshot");
  }
}

/** A txn with only range operations (recursively) changes nothing and need not go through Raft. */
function isReadOnlyTxn(req: TxnRequest): boolean {
  const ops = [...req.success, ...req.failure];
  return ops.every((op) => "requestRange" in op || ("requestTxn" in op && isReadOnlyTxn(op.requestTxn)));
}
