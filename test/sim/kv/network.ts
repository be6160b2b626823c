/**
 * The simulated network of the KV simulation. Each message gets its own random delay (so
 * messages reorder), now and then a long one (a stalled connection whose queue drains later: the
 * real transport queues messages per peer), may be duplicated, and at delivery time is lost with
 * some probability or because a partition separates its ends.
 *
 * Forwarded proposals (MsgProp) are never duplicated: the real transport writes each queued message
 * once (src/transport/peer.ts), and a proposal delivered twice is committed twice (Raft tolerates
 * duplicate protocol messages, not duplicate client commands: Cairn, like etcd, has no client
 * sessions, thesis §6.3). Duplicating them made a failed compare-and-swap succeed later (seed 815).
 *
 * Partitions: symmetric groups (members in different groups cannot talk) plus one-way cuts
 * (`from` cannot reach `to`, while `to` still reaches `from`): asymmetric partitions.
 */
import { type Message, MessageType, type NodeId } from "../../../src/raft/types.ts";
import type { Rng } from "../rng.ts";
import type { NetSettings } from "./config.ts";
import type { Scheduler } from "./scheduler.ts";

/** Fate of a message at delivery time. */
export type Outcome = "delivered" | "dropped" | "partitioned";

/** The network between members. */
export class KvNetwork {
  private groups = new Map<NodeId, number>();
  private readonly oneWay = new Set<string>();
  /** Counters for coverage assertions. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0, partitioned: 0, duplicated: 0, spiked: 0 };

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Rng,
    public settings: NetSettings,
  ) {}

  /** Splits members into groups that cannot reach each other (one-way cuts stay). */
  partition(groups: NodeId[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => {
      for (const id of g) this.groups.set(id, i);
    });
  }

  /** `from` can no longer send to `to` (the other direction still works). */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.oneWay.add(`${from}>${to}`);
  }

  /** Removes every partition and one-way cut. */
  heal(): void {
    this.groups = new Map();
    this.oneWay.clear();
  }

  /** True when a message from `from` reaches `to` (partitions only; loss aside). */
  reachable(from: NodeId, to: NodeId): boolean {
    if ((this.groups.get(from) ?? -1) !== (this.groups.get(to) ?? -1)) return false;
    return !this.oneWay.has(`${from}>${to}`);
  }

  /** Sends `msg`; `deliver` is called at delivery time with its fate (once per copy). */
  send(msg: Message, deliver: (msg: Message, outcome: Outcome) => void): void {
    const s = this.settings;
    const copies = this.rng.chance(s.duplicateProbability) && msg.type !== MessageType.Prop ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      this.stats.sent++;
      let delay = this.rng.int(s.minDelayMs, s.maxDelayMs);
      if (this.rng.chance(s.spikeProbability)) {
        delay += this.rng.int(1, s.spikeMaxMs);
        this.stats.spiked++;
      }
      this.sched.after(delay, () => {
        let outcome: Outcome = "delivered";
        if (!this.reachable(msg.from, msg.to)) outcome = "partitioned";
        else if (this.rng.chance(this.settings.dropProbability)) outcome = "dropped";
        this.stats[outcome]++;
        deliver(msg, outcome);
      });
    }
  }
}
