/**
 * Simulated network between members: every message gets a random delay (so messages reorder),
 * may be dropped or duplicated, and is dropped when a partition separates its ends or its
 * destination is down at delivery time.
 */
import type { Message, NodeId } from "../../src/raft/types.ts";
import type { Rng } from "./rng.ts";

/** Fault settings of the network. */
export interface NetworkFaults {
  /** Delay of each message in ms, drawn uniformly from [minDelayMs, maxDelayMs]. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is lost. */
  dropProbability: number;
  /** Probability that a message is delivered twice. */
  duplicateProbability: number;
}

interface InFlight {
  deliverAtMs: number;
  seq: number;
  msg: Message;
}

/** What happened to a message at delivery time. */
export type DeliveryOutcome = "delivered" | "dropped" | "partitioned";

/** The simulated network. */
export class SimNetwork {
  private inFlight: InFlight[] = [];
  private seq = 0;
  /** Partition groups: members in different groups cannot talk. Empty = fully connected. */
  private groups = new Map<NodeId, number>();

  constructor(
    private readonly rng: Rng,
    public faults: NetworkFaults,
  ) {}

  /** Queues `msg` sent at `nowMs`. */
  send(msg: Message, nowMs: number): void {
    const copies = this.rng.chance(this.faults.duplicateProbability) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.faults.minDelayMs, this.faults.maxDelayMs);
      this.inFlight.push({ deliverAtMs: nowMs + delay, seq: this.seq++, msg });
    }
  }

  /** Splits members into groups that cannot reach each other. */
  partition(groups: NodeId[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => {
      for (const id of g) this.groups.set(id, i);
    });
  }

  /** Reconnects everyone. */
  heal(): void {
    this.groups = new Map();
  }

  /** True when a and b are in the same partition group. */
  connected(a: NodeId, b: NodeId): boolean {
    return (this.groups.get(a) ?? -1) === (this.groups.get(b) ?? -1);
  }

  /** Earliest delivery time in flight, or undefined. */
  nextDeliveryMs(): number | undefined {
    let min: number | undefined;
    for (const f of this.inFlight) if (min === undefined || f.deliverAtMs < min) min = f.deliverAtMs;
    return min;
  }

  /**
   * Removes and returns the messages due at or before `nowMs`, in (time, send order), each with
   * its fate (loss and partitions decided now).
   */
  due(nowMs: number): { msg: Message; outcome: DeliveryOutcome }[] {
    const ready = this.inFlight.filter((f) => f.deliverAtMs <= nowMs);
    if (ready.length === 0) return [];
    this.inFlight = this.inFlight.filter((f) => f.deliverAtMs > nowMs);
    ready.sort((a, b) => a.deliverAtMs - b.deliverAtMs || a.seq - b.seq);
    return ready.map((f) => {
      if (!this.connected(f.msg.from, f.msg.to)) return { msg: f.msg, outcome: "partitioned" as const };
      if (this.rng.chance(this.faults.dropProbability)) return { msg: f.msg, outcome: "dropped" as const };
      return { msg: f.msg, outcome: "delivered" as const };
    });
  }

  /** Messages in flight (for diagnostics). */
  size(): number {
    return this.inFlight.length;
  }
}
