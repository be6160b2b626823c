/**
 * The nemesis of the KV simulation: every `faultEveryMs` it may crash a member (often one in the
 * middle of a disk write, to tear it), or the leader, and restart it later, split the network (symmetric groups, or one-way cuts: asymmetric), heal it,
 * ask the leader to transfer leadership to a random voter, compact the MVCC history, or take the
 * next step of a membership cycle: remove a voter → add a fresh member as learner (its process
 * starts with an empty data dir) → promote it once caught up. Membership changes follow the
 * leader's rules (src/server/member-checks.ts, one change at a time: the leader may refuse with
 * conf_change_pending); the nemesis keeps at most one of its own in flight.
 */
import { ConfChangeType, type NodeId } from "../../../src/raft/types.ts";
import { checkCanPromote, checkCanRemove, checkPeerUrlsFree } from "../../../src/server/member-checks.ts";
import type { ConfMember } from "../../../src/server/proposal.ts";
import type { Rng } from "../rng.ts";
import { type FaultMix, TIMING } from "./config.ts";
import type { KvNode } from "./node.ts";
import { label } from "./node.ts";

/** What the nemesis acts on. */
export interface NemesisHost {
  sched: { nowMs: number; after(ms: number, fn: () => void): void };
  trace: { add(kind: string, ...f: (string | number | boolean)[]): void };
  net: { partition(groups: NodeId[][]): void; cutOneWay(from: NodeId, to: NodeId): void; heal(): void };
  /** Every node process ever created (members, removed ones, joining ones). */
  allNodes(): KvNode[];
  /** The up member leading the highest term, if any. */
  leader(): KvNode | undefined;
  crash(node: KvNode): void;
  restart(node: KvNode): void;
  /** Creates and starts a fresh member process with an empty data dir (joining). */
  spawnJoining(): KvNode;
  /** Target number of voters. */
  size: number;
}

/** Counters of what the nemesis did. */
export interface NemesisStats {
  crashes: number;
  leaderCrashes: number;
  restarts: number;
  partitions: number;
  oneWayCuts: number;
  heals: number;
  transfers: number;
  removals: number;
  learnerAdds: number;
  promotions: number;
  confChangesApplied: number;
  confChangesFailed: number;
  compactions: number;
}

/** Random faults and membership changes. */
export class Nemesis {
  active = false;
  private partitionGen = 0;
  private confInFlight = false;
  private confGen = 0;
  /** A member being added whose AddLearnerNode is not in the leader's table yet. */
  private joining: KvNode | null = null;
  readonly stats: NemesisStats = {
    crashes: 0,
    leaderCrashes: 0,
    restarts: 0,
    partitions: 0,
    oneWayCuts: 0,
    heals: 0,
    transfers: 0,
    removals: 0,
    learnerAdds: 0,
    promotions: 0,
    confChangesApplied: 0,
    confChangesFailed: 0,
    compactions: 0,
  };

  constructor(
    private readonly host: NemesisHost,
    private readonly rng: Rng,
    private readonly mix: FaultMix,
  ) {}

  start(): void {
    this.active = true;
    this.schedule();
  }

  stop(): void {
    this.active = false;
  }

  private schedule(): void {
    this.host.sched.after(this.mix.faultEveryMs, () => {
      if (!this.active) return;
      this.act();
      this.schedule();
    });
  }

  private act(): void {
    const { host, rng, mix } = this;
    const alive = host.allNodes().filter((n) => !n.removed);
    const up = alive.filter((n) => n.up);
    const down = alive.filter((n) => !n.up);
    const lead = host.leader();
    const r = rng.float();
    if (mix.crashes && r < 0.07 && up.length > 0) {
      // Half of these crashes hit a member in the middle of a write, if any, to tear it.
      const writing = up.filter((n) => n.disk.hasUnsyncedBytes());
      this.crash(rng.pick(writing.length > 0 && rng.chance(0.5) ? writing : up));
    } else if (mix.crashes && r < 0.11 && lead) {
      this.stats.leaderCrashes++;
      this.crash(lead);
    } else if (r < 0.2 && down.length > 0) this.restart(rng.pick(down));
    else if (mix.partitions && r < 0.27) this.partition(alive, lead);
    else if (mix.asymmetricPartitions && r < 0.32 && alive.length > 1) this.cutOneWay(alive, lead);
    else if ((mix.partitions || mix.asymmetricPartitions) && r < 0.4) this.heal();
    else if (mix.transfers && r < 0.46 && lead) this.transfer(lead);
    else if (mix.membership && r < 0.62 && lead) this.membershipStep(lead);
    else if (r < 0.66 && lead) this.compact(lead);
  }

  private crash(node: KvNode): void {
    this.stats.crashes++;
    this.host.crash(node);
    this.host.sched.after(this.rng.int(20, 600), () => {
      if (this.active && !node.up && !node.removed) this.restart(node);
    });
  }

  private restart(node: KvNode): void {
    this.stats.restarts++;
    this.host.restart(node);
  }

  private partition(alive: KvNode[], lead: KvNode | undefined): void {
    this.stats.partitions++;
    const ids = alive.map((n) => n.id);
    let groups: NodeId[][];
    if (lead && this.rng.chance(0.3)) {
      groups = [[lead.id], ids.filter((id) => id !== lead.id)];
    } else {
      const shuffled = [...ids];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = this.rng.int(0, i);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const cut = this.rng.int(1, Math.max(1, shuffled.length - 1));
      groups = [shuffled.slice(0, cut), shuffled.slice(cut)];
    }
    this.host.net.partition(groups);
    this.host.trace.add("partition", groups.map((g) => g.map(label).join(",")).join(" | "));
    this.healLater();
  }

  private cutOneWay(alive: KvNode[], lead: KvNode | undefined): void {
    this.stats.oneWayCuts++;
    const from = lead && this.rng.chance(0.4) ? lead : this.rng.pick(alive);
    const others = alive.filter((n) => n !== from);
    const targets = this.rng.chance(0.5) ? others : [this.rng.pick(others)];
    // Either `from` cannot send to the targets, or cannot hear from them.
    const outbound = this.rng.chance(0.5);
    for (const t of targets) {
      if (outbound) this.host.net.cutOneWay(from.id, t.id);
      else this.host.net.cutOneWay(t.id, from.id);
    }
    this.host.trace.add("cut", from.name, outbound ? "->" : "<-", targets.map((t) => t.name).join(","));
    this.healLater();
  }

  private healLater(): void {
    const gen = ++this.partitionGen;
    this.host.sched.after(this.rng.int(50, 800), () => {
      if (this.active && gen === this.partitionGen) this.heal();
    });
  }

  private heal(): void {
    this.stats.heals++;
    this.partitionGen++;
    this.host.net.heal();
    this.host.trace.add("heal");
  }

  private transfer(lead: KvNode): void {
    const voters = lead.core.status().confState.voters.filter((id) => id !== lead.id);
    if (voters.length === 0) return;
    const target = this.rng.pick(voters);
    this.stats.transfers++;
    this.host.trace.add("transfer", lead.name, label(target));
    try {
      lead.core.transferLeader(target);
    } catch (err) {
      this.host.trace.add("transfer-refused", (err as Error).message);
    }
  }

  private compact(lead: KvNode): void {
    const rev = lead.kv.revision - this.rng.int(1, 10);
    if (rev <= lead.kv.compactRevision) return;
    this.stats.compactions++;
    lead.requests.compact(rev, () => {});
  }

  /** One step of remove → add learner → promote, through the leader, one change at a time. */
  private membershipStep(lead: KvNode): void {
    if (this.confInFlight) return;
    let status: ReturnType<KvNode["leaderStatus"]>;
    try {
      status = lead.leaderStatus();
    } catch {
      return;
    }
    const table = lead.membership;
    const joining = this.joining;
    if (joining && (table.get(joining.id) || table.isRemoved(joining.id))) this.joining = null;
    try {
      if (this.joining) {
        this.addLearner(lead, this.joining);
      } else if (status.confState.learners.length > 0) {
        const id = status.confState.learners[0]!;
        checkCanPromote(table, status, id);
        this.stats.promotions++;
        this.propose(lead, ConfChangeType.AddNode, { ...memberOf(table, id), isLearner: false });
      } else if (status.confState.voters.length < this.host.size) {
        this.joining = this.host.spawnJoining();
        this.addLearner(lead, this.joining);
      } else if (this.rng.chance(0.5)) {
        const id = this.rng.pick(status.confState.voters);
        checkCanRemove(table, status, id);
        this.stats.removals++;
        this.propose(lead, ConfChangeType.RemoveNode, memberOf(table, id));
      }
    } catch (err) {
      this.host.trace.add("member-refused", (err as Error).message.slice(0, 80));
    }
  }

  private addLearner(lead: KvNode, node: KvNode): void {
    const peerUrls = [`https://${node.name}:2380`];
    checkPeerUrlsFree(lead.membership, peerUrls);
    this.stats.learnerAdds++;
    this.propose(lead, ConfChangeType.AddLearnerNode, { id: node.id, name: "", peerUrls, isLearner: true });
  }

  private propose(lead: KvNode, type: ConfChangeType, member: ConfMember): void {
    this.confInFlight = true;
    const gen = ++this.confGen;
    // A leader that crashes never answers: give up waiting after the request timeout.
    this.host.sched.after(2 * TIMING.requestTimeoutMs, () => {
      if (gen === this.confGen) this.confInFlight = false;
    });
    this.host.trace.add("member", lead.name, type, label(member.id));
    lead.requests.proposeConfChange(type, member, (a) => {
      if (gen === this.confGen) this.confInFlight = false;
      if (a.ok) this.stats.confChangesApplied++;
      else this.stats.confChangesFailed++;
      this.host.trace.add(
        "member-done",
        type,
        label(member.id),
        a.ok ? "ok" : ((a.error as { code?: string }).code ?? "error"),
      );
    });
  }
}

function memberOf(table: KvNode["membership"], id: NodeId): ConfMember {
  const m = table.get(id);
  if (!m) return { id, name: "", peerUrls: [], isLearner: false };
  return { id, name: m.name, peerUrls: [...m.peerUrls], isLearner: m.isLearner };
}
