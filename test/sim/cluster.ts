/**
 * Deterministic simulation of a Raft cluster (TigerBeetle VOPR style): N RaftCore members, a
 * simulated network with delays, loss, duplication and partitions, asynchronous disks, crashes
 * and restarts, and a simulated clock. Every random choice comes from one seed, so a failing run
 * replays exactly with SIM_SEED=<seed>. Safety invariants (invariants.ts) are checked after every
 * event.
 */
import { type Message, MessageType, type NodeId, type Snapshot } from "../../src/raft/types.ts";
import { Invariants, SafetyViolation } from "./invariants.ts";
import { type NetworkFaults, SimNetwork } from "./network.ts";
import { SimNode, type SimRaftSettings } from "./node.ts";
import { Rng } from "./rng.ts";
import { type AppliedEntry, decodeState, encodeState, toApplied, valueBytes } from "./state-machine.ts";

/** Settings of a simulated cluster. */
export interface ClusterOptions {
  size: number;
  seed: number;
  faults?: Partial<NetworkFaults>;
  raft?: Partial<SimRaftSettings>;
  /** Ms between ticks of a member (each member drifts by up to ±1 ms). */
  tickMs?: number;
  /** Disk write latency drawn from [0, maxDiskDelayMs]. */
  maxDiskDelayMs?: number;
  /** The application snapshots after this many applied entries. */
  snapshotEvery?: number;
}

const DEFAULT_FAULTS: NetworkFaults = {
  minDelayMs: 1,
  maxDelayMs: 5,
  dropProbability: 0,
  duplicateProbability: 0,
};

const decoder = new TextDecoder();

function textOf(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Member id of the i-th member (1-based). */
export function simId(i: number): NodeId {
  return i.toString(16).padStart(16, "0");
}

interface Timer {
  atMs: number;
  everyMs: number;
  fn: () => void;
}

/** A simulated cluster. */
export class Cluster {
  nowMs = 0;
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker = new Invariants();
  readonly voters: NodeId[];
  private readonly settings: SimRaftSettings;
  private readonly maxDiskDelayMs: number;
  private readonly snapshotEvery: number;
  private readonly timers: Timer[] = [];
  /** Events processed (for diagnostics). */
  events = 0;
  /** Counters of what the run exercised (for diagnostics and coverage checks). */
  readonly stats = {
    messages: 0,
    delivered: 0,
    snapshotsSent: 0,
    snapshotsApplied: 0,
    appendRejections: 0,
    crashes: 0,
    crashesWithPendingReady: 0,
    leaderChanges: 0,
  };
  private lastLeader: NodeId | undefined;
  private readSeq = 0;

  constructor(opts: ClusterOptions) {
    this.rng = new Rng(opts.seed);
    this.net = new SimNetwork(this.rng.fork(), { ...DEFAULT_FAULTS, ...opts.faults });
    this.settings = {
      electionTick: 10,
      heartbeatTick: 1,
      snapshotCatchUpEntries: 5,
      preVote: false,
      checkQuorum: false,
      ...opts.raft,
    };
    this.maxDiskDelayMs = opts.maxDiskDelayMs ?? 3;
    this.snapshotEvery = opts.snapshotEvery ?? 20;
    const tickMs = opts.tickMs ?? 10;
    this.voters = Array.from({ length: opts.size }, (_, i) => simId(i + 1));
    for (const id of this.voters) {
      const node = new SimNode(id, tickMs + this.rng.int(-1, 1), this.rng.fork());
      this.nodes.set(id, node);
      node.start(this.confState(), this.settings, 0);
    }
  }

  private confState() {
    return { voters: [...this.voters], learners: [] };
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no member ${id}`);
    return n;
  }

  /** Live members. */
  upIds(): NodeId[] {
    return this.voters.filter((id) => this.node(id).up);
  }

  // ---- faults ---------------------------------------------------------------------------------

  /** Crashes `id`: its unpersisted Ready and its in-memory state are lost. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    this.stats.crashes++;
    if (node.pending) this.stats.crashesWithPendingReady++;
    node.crash();
  }

  /** Restarts `id` from its store. */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    node.start(this.confState(), this.settings, this.nowMs);
    const snap = node.store.snapshot;
    node.applied = snap ? decodeState(snap.data) : [];
    for (const e of node.applied) this.checker.onApply(id, e);
  }

  partition(groups: NodeId[][]): void {
    this.net.partition(groups);
  }

  heal(): void {
    this.net.heal();
  }

  // ---- clients ------------------------------------------------------------------------------

  /**
   * Proposes `value` on member `id`. Returns false when the member is down or knows no leader
   * (CairnError no_leader); the caller retries.
   */
  propose(id: NodeId, value: string): boolean {
    const core = this.node(id).core;
    if (!core) return false;
    try {
      core.propose([valueBytes(value)]);
      return true;
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "no_leader") return false;
      throw err;
    }
  }

  /**
   * Issues a linearizable read (ReadIndex) on member `id` with a unique context. Returns false when
   * the member is down or knows no leader.
   */
  readIndex(id: NodeId): boolean {
    const core = this.node(id).core;
    if (!core) return false;
    const ctx = `read-${this.readSeq++}`;
    try {
      core.readIndex(valueBytes(ctx));
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "no_leader") return false;
      throw err;
    }
    this.checker.onReadIssued(ctx);
    return true;
  }

  /** Runs `fn` every `everyMs` of simulated time, starting `everyMs` from now. */
  every(everyMs: number, fn: () => void): void {
    this.timers.push({ atMs: this.nowMs + everyMs, everyMs, fn });
  }

  // ---- observation ----------------------------------------------------------------------------

  /** The live member that is leader of the highest term, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const id of this.upIds()) {
      const st = this.node(id).core!.status();
      if (st.role === "leader" && (!best || st.term > best.term)) best = { id, term: st.term };
    }
    return best?.id;
  }

  /** Live members that believe they are leader. */
  leaders(): NodeId[] {
    return this.upIds().filter((id) => this.node(id).core!.status().role === "leader");
  }

  /** Values (non-empty data) applied by `id`, in order. */
  appliedValues(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.data !== "")
      .map((e) => e.data);
  }

  /** True when a leader exists and every live member follows it in its term. */
  hasLeader(): boolean {
    const lead = this.leader();
    if (!lead) return false;
    const term = this.node(lead).core!.status().term;
    return this.upIds().every((id) => {
      const st = this.node(id).core!.status();
      return st.leader === lead && st.term === term;
    });
  }

  /**
   * True when every member is up, one leader is known to all, and every member applied everything
   * the leader has in its log.
   */
  converged(): boolean {
    const lead = this.leader();
    if (!lead || this.upIds().length !== this.voters.length) return false;
    const ls = this.node(lead).core!.status();
    if (ls.commit !== ls.lastIndex) return false;
    for (const id of this.voters) {
      const node = this.node(id);
      const st = node.core!.status();
      if (st.leader !== lead || st.term !== ls.term || st.applied !== ls.commit || node.pending) return false;
      if (node.applied.length !== ls.commit) return false;
    }
    return true;
  }

  // ---- the event loop -------------------------------------------------------------------------

  private nextEventMs(): number {
    let next = Number.POSITIVE_INFINITY;
    const d = this.net.nextDeliveryMs();
    if (d !== undefined) next = Math.min(next, d);
    for (const node of this.nodes.values()) {
      if (!node.up) continue;
      next = Math.min(next, node.nextTickMs);
      if (node.pending) next = Math.min(next, node.pending.doneAtMs);
    }
    for (const t of this.timers) next = Math.min(next, t.atMs);
    return Math.max(next, this.nowMs);
  }

  /** Runs the simulation for `ms` of simulated time. */
  runFor(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      const next = this.nextEventMs();
      if (next > end) {
        this.nowMs = end;
        return;
      }
      this.nowMs = next;
      this.processNow();
    }
  }

  /**
   * Runs until `pred` holds (checked after each event) or `maxMs` passes. Returns whether it held.
   */
  runUntil(pred: () => boolean, maxMs: number): boolean {
    const end = this.nowMs + maxMs;
    for (;;) {
      if (pred()) return true;
      const next = this.nextEventMs();
      if (next > end) {
        this.nowMs = end;
        return pred();
      }
      this.nowMs = next;
      this.processNow();
    }
  }

  private processNow(): void {
    const now = this.nowMs;
    this.checker.nowMs = now;
    this.events++;
    for (const { msg, outcome } of this.net.due(now)) this.deliver(msg, outcome);
    for (const node of this.nodes.values()) {
      if (node.pending && node.pending.doneAtMs <= now) this.finishReady(node);
    }
    for (const node of this.nodes.values()) {
      if (node.up && node.nextTickMs <= now) {
        node.core!.tick();
        node.nextTickMs = now + node.tickIntervalMs;
      }
    }
    for (const t of this.timers) {
      if (t.atMs <= now) {
        t.atMs = now + t.everyMs;
        t.fn();
      }
    }
    for (const node of this.nodes.values()) this.startReadies(node);
    this.check();
  }

  private deliver(msg: Message, outcome: string): void {
    const from = this.nodes.get(msg.from);
    const to = this.nodes.get(msg.to);
    const ok = outcome === "delivered" && to?.up === true;
    this.stats.messages++;
    if (ok) {
      this.stats.delivered++;
      if (msg.type === MessageType.Snap) this.stats.snapshotsSent++;
      if (msg.type === MessageType.AppResp && msg.reject) this.stats.appendRejections++;
      to.core!.step(msg);
    }
    if (!from?.up) return;
    // What a transport would report back (etcd rafthttp: ReportSnapshot / ReportUnreachable).
    if (msg.type === MessageType.Snap) from.core!.reportSnapshot(msg.to, ok);
    if (!ok && outcome === "partitioned") from.core!.reportUnreachable(msg.to);
  }

  /** Takes Readies of `node`; a zero disk delay handles them at once (bounded). */
  private startReadies(node: SimNode): void {
    for (let i = 0; i < 10 && node.up && !node.pending && node.core!.hasReady(); i++) {
      const rd = node.core!.ready();
      node.pending = { rd, doneAtMs: this.nowMs + this.rng.int(0, this.maxDiskDelayMs) };
      if (node.pending.doneAtMs > this.nowMs) return;
      this.finishReady(node);
    }
  }

  /** The Ready's writes are durable: send, apply, advance (Ready contract steps 2–4). */
  private finishReady(node: SimNode): void {
    const { rd } = node.pending!;
    node.pending = null;
    const core = node.core!;
    node.store.persist(rd);
    for (const m of rd.messages) this.net.send(m, this.nowMs);
    if (rd.snapshot) this.applySnapshot(node, rd.snapshot);
    for (const e of rd.committedEntries) {
      const a = toApplied(e);
      const last = node.applied[node.applied.length - 1];
      if (a.index !== (last?.index ?? 0) + 1) {
        throw new SafetyViolation(
          `t=${this.nowMs}ms: ${node.id} applied ${a.index} after ${last?.index ?? 0}`,
        );
      }
      this.checker.onApply(node.id, a);
      node.applied.push(a);
    }
    for (const rs of rd.readStates) this.checker.onReadState(node.id, textOf(rs.requestCtx), rs.index);
    core.advance(rd);
    this.maybeSnapshot(node);
  }

  private applySnapshot(node: SimNode, snap: Snapshot): void {
    const state = decodeState(snap.data);
    const have = node.applied.length;
    if (snap.metadata.index <= have) {
      throw new SafetyViolation(
        `t=${this.nowMs}ms: ${node.id} got snapshot ${snap.metadata.index} <= applied ${have}`,
      );
    }
    if (state.length !== snap.metadata.index) {
      throw new SafetyViolation(
        `t=${this.nowMs}ms: snapshot ${snap.metadata.index} holds ${state.length} entries`,
      );
    }
    for (const e of state) this.checker.onApply(node.id, e);
    node.applied = state;
    this.stats.snapshotsApplied++;
  }

  /** The application's snapshot policy: every `snapshotEvery` applied entries. */
  private maybeSnapshot(node: SimNode): void {
    const core = node.core!;
    const st = core.status();
    if (st.applied - node.snapshotIndex < this.snapshotEvery) return;
    const snap: Snapshot = {
      metadata: { index: st.applied, term: st.appliedTerm, confState: st.confState },
      data: encodeState(node.applied),
    };
    node.store.saveSnapshot(snap);
    core.compact(snap);
    node.snapshotIndex = st.applied;
  }

  private check(): void {
    for (const node of this.nodes.values()) {
      if (!node.up) continue;
      const st = node.core!.status();
      if (st.term < node.maxTerm) {
        throw new SafetyViolation(
          `t=${this.nowMs}ms: ${node.id} term went back from ${node.maxTerm} to ${st.term}`,
        );
      }
      node.maxTerm = st.term;
      this.checker.observe(node.id, node.core!);
    }
    const lead = this.leader();
    if (lead !== undefined && lead !== this.lastLeader) {
      this.stats.leaderChanges++;
      this.lastLeader = lead;
    }
  }

  /** Checks that applied sequences of all members (live ones) are prefixes of each other. */
  checkPrefixes(): void {
    const states = new Map<NodeId, readonly AppliedEntry[]>();
    for (const node of this.nodes.values()) if (node.up) states.set(node.id, node.applied);
    this.checker.checkPrefixes(states);
  }

  /** One line per member, for failure messages. */
  describe(): string {
    const lines = [`t=${this.nowMs}ms in-flight=${this.net.size()}`];
    for (const node of this.nodes.values()) {
      if (!node.up) {
        lines.push(`${node.id}: down`);
        continue;
      }
      const st = node.core!.status();
      lines.push(
        `${node.id}: ${st.role} term=${st.term} lead=${st.leader || "-"} commit=${st.commit} applied=${st.applied} last=${st.lastIndex} first=${st.firstIndex}`,
      );
    }
    return lines.join("\n");
  }
}
