/**
 * A simulated Cairn cluster: N members ({@link KvNode}) on one {@link Scheduler}, a {@link KvNetwork}
 * between them (playing the peer transport: unreachable and snapshot reports, HTTP 410 for removed
 * members), the {@link SafetyChecker}, the clients' history and the {@link Nemesis}. After every
 * event it runs the members' Ready loops and checks the members the event touched.
 */
import { type Message, MessageType, type NodeId } from "../../../src/raft/types.ts";
import { HistoryRecorder } from "../../lincheck/history.ts";
import type { KvInput, KvOutput } from "../../lincheck/kv-model.ts";
import { Rng } from "../rng.ts";
import type { AckedWrite, ClientHost } from "./client.ts";
import type { SimConfig } from "./config.ts";
import { SafetyChecker } from "./invariants.ts";
import { Nemesis, type NemesisHost } from "./nemesis.ts";
import { KvNetwork, type Outcome } from "./network.ts";
import { KvNode, label, type NodeHooks } from "./node.ts";
import { Scheduler } from "./scheduler.ts";
import { Trace } from "./trace.ts";

/** Member id of the i-th member ever created (1-based): 16 hex digits. */
export function memberId(i: number): NodeId {
  return i.toString(16).padStart(16, "0");
}

/** Most Readies a member handles in one event when its disk answers at once. */
const MAX_READIES_PER_EVENT = 8;

/** A simulated cluster. */
export class KvCluster implements ClientHost, NemesisHost {
  readonly sched = new Scheduler();
  readonly trace: Trace;
  readonly rng: Rng;
  readonly net: KvNetwork;
  readonly safety: SafetyChecker;
  readonly history = new HistoryRecorder<KvInput, KvOutput>();
  readonly acked: AckedWrite[] = [];
  pendingCalls = 0;
  readonly clientNetRng: Rng;
  readonly nemesis: Nemesis;
  readonly size: number;
  private readonly nodes = new Map<NodeId, KvNode>();
  private readonly hooks: NodeHooks;
  private readonly diskRng: Rng;
  private readonly initialMembers: { id: string; name: string; peerUrls: string[] }[];
  readonly stats = { snapshotsSent: 0, leaderChanges: 0, refusedAsRemoved: 0 };
  private lastLeader: NodeId | undefined;

  constructor(
    readonly cfg: SimConfig,
    keepTrace = false,
  ) {
    this.trace = new Trace(this.sched, 400, keepTrace);
    this.rng = new Rng(cfg.seed);
    this.net = new KvNetwork(this.sched, this.rng.fork(), cfg.net);
    this.diskRng = this.rng.fork();
    this.clientNetRng = this.rng.fork();
    this.safety = new SafetyChecker(this.sched);
    this.size = cfg.size;
    this.nemesis = new Nemesis(this, this.rng.fork(), cfg.faults);
    this.hooks = {
      sched: this.sched,
      trace: this.trace,
      send: (_from, msgs) => this.send(msgs),
      onPersist: (n, entries) => this.safety.onPersist(n, entries),
      onApply: (n, e) => this.safety.onApply(n, e),
      onStateDigest: (n, index, digest) => this.safety.onStateDigest(n, index, digest),
      onRecovered: (n, state) => this.safety.onRecovered(n, state),
      onReadRoundStart: (n, key) => this.safety.onReadRoundStart(n, key),
      onReadRoundAnswered: (n, key, index) => this.safety.onReadRoundAnswered(n, key, index),
      diskLatencyMs: () => this.diskRng.int(0, cfg.diskMaxLatencyMs),
    };
    this.initialMembers = Array.from({ length: cfg.size }, (_, i) => {
      const id = memberId(i + 1);
      return { id, name: label(id), peerUrls: [`https://${label(id)}:2380`] };
    });
    for (const m of this.initialMembers) this.addNode(m.id, false).start();
    this.sched.afterEach = () => this.afterEvent();
  }

  private addNode(id: NodeId, joining: boolean): KvNode {
    const node = new KvNode(id, this.cfg, this.hooks, this.rng.fork(), this.initialMembers, joining);
    this.nodes.set(id, node);
    return node;
  }

  // ---- NemesisHost / ClientHost -------------------------------------------------------------

  allNodes(): KvNode[] {
    return [...this.nodes.values()];
  }

  node(id: NodeId): KvNode | undefined {
    return this.nodes.get(id);
  }

  /** Clients may call any process that was not removed (a down one refuses the connection). */
  endpoints(): KvNode[] {
    return this.allNodes().filter((n) => !n.removed);
  }

  /** The up member that leads the highest term. */
  leader(): KvNode | undefined {
    let best: KvNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (!n.up || n.softState.role !== "leader") continue;
      const term = n.core.status().term;
      if (term > bestTerm) {
        best = n;
        bestTerm = term;
      }
    }
    return best;
  }

  crash(node: KvNode): void {
    if (!node.up) return;
    this.safety.onCrash(node, node.durableHardState);
    node.crash();
  }

  restart(node: KvNode): void {
    if (node.up || node.removed) return;
    node.start();
  }

  spawnJoining(): KvNode {
    const node = this.addNode(memberId(this.nodes.size + 1), true);
    node.start();
    return node;
  }

  // ---- transport ------------------------------------------------------------------------------

  private send(msgs: Message[]): void {
    for (const m of msgs) this.net.send(m, (msg, outcome) => this.deliver(msg, outcome));
  }

  /** A message reaches its destination (or not): what the peer transport does. */
  private deliver(msg: Message, outcome: Outcome): void {
    const to = this.nodes.get(msg.to);
    const from = this.nodes.get(msg.from);
    let ok = outcome === "delivered" && to !== undefined && to.up;
    if (ok && to!.isRemovedMember(msg.from)) {
      // The peer refuses a removed member with HTTP 410: it stops for good.
      this.stats.refusedAsRemoved++;
      from?.stopRemoved("a peer refused it as removed (410)");
      return;
    }
    this.trace.add(
      ok ? "msg" : outcome === "dropped" ? "drop" : "lost",
      msg.type,
      label(msg.from),
      label(msg.to),
      msg.term,
      msg.index,
    );
    if (ok) {
      if (msg.type === MessageType.Snap) this.stats.snapshotsSent++;
      to!.step(msg);
    }
    if (!from?.up) return;
    if (msg.type === MessageType.Snap) from.reportSnapshot(msg.to, ok);
    ok ||= outcome === "dropped";
    if (!ok) from.reportUnreachable(msg.to);
  }

  // ---- the event loop ---------------------------------------------------------------------------

  private afterEvent(): void {
    for (const node of this.nodes.values()) {
      for (let i = 0; i < MAX_READIES_PER_EVENT && node.up; i++) {
        const before = node.incarnation;
        node.pump();
        if (!node.up || node.incarnation !== before || !node.core.hasReady()) break;
      }
      if (node.up && node.dirty) {
        node.dirty = false;
        this.safety.observe(node);
      }
    }
    // Leadership changes for the trace and the stats (from soft states: no status() per event).
    let lead: KvNode | undefined;
    for (const n of this.nodes.values()) {
      if (
        n.up &&
        n.softState.role === "leader" &&
        (!lead || n.durableHardState.term > lead.durableHardState.term)
      )
        lead = n;
    }
    if (lead && lead.id !== this.lastLeader) {
      this.stats.leaderChanges++;
      this.lastLeader = lead.id;
      this.trace.add("leader", lead.name, lead.durableHardState.term);
    }
  }

  /** Runs the simulation for `ms`, or until `until` holds. */
  runFor(ms: number, until?: () => boolean): boolean {
    return this.sched.run(this.sched.nowMs + ms, until);
  }

  // ---- convergence ----------------------------------------------------------------------------

  /** Member ids in the leader's applied member table. */
  memberIds(): NodeId[] {
    const lead = this.leader();
    return lead ? lead.membership.records().map((m) => m.id) : [];
  }

  /**
   * True when one leader, not handing leadership over, is known to every member of its table (but
   * `except`), every such member is up, has applied everything the leader has and has nothing left
   * to do.
   */
  converged(except: ReadonlySet<NodeId> = new Set()): boolean {
    const lead = this.leader();
    if (lead === undefined || lead.core.leadTransferee !== "") return false;
    const ls = lead.core.status();
    if (ls.commit !== ls.lastIndex) return false;
    for (const id of this.memberIds()) {
      if (except.has(id)) continue;
      const n = this.nodes.get(id);
      if (!n?.up) return false;
      const st = n.core.status();
      if (st.leader !== lead.id || st.term !== ls.term || n.appliedIndex !== ls.commit || n.core.hasReady())
        return false;
    }
    return true;
  }

  /** One line per process, for failure reports. */
  describe(): string {
    const lines = [`t=${this.sched.nowMs}ms events=${this.sched.eventsRun} queued=${this.sched.size}`];
    for (const n of this.nodes.values()) {
      if (n.removed) lines.push(`${n.name}: removed`);
      else if (!n.up) lines.push(`${n.name}: down`);
      else {
        const st = n.core.status();
        lines.push(
          `${n.name}: ${st.role} term=${st.term} lead=${st.leader ? label(st.leader) : "-"} commit=${st.commit} ` +
            `applied=${n.appliedIndex} last=${st.lastIndex} voters=${st.confState.voters.map(label).join(",")} ` +
            `learners=${st.confState.learners.map(label).join(",")}`,
        );
      }
    }
    return lines.join("\n");
  }
}
