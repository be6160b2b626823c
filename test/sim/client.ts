/**
 * A simulated client: submits unique values and re-proposes each one until some member applied
 * it (proposals may be dropped: no leader, lost MsgProp, leader change). A value may therefore be
 * applied more than once; it must never be lost once applied.
 */
import type { Cluster } from "./cluster.ts";
import type { Rng } from "./rng.ts";

/** A client of the simulated cluster. */
export class SimClient {
  private seq = 0;
  /** Every value submitted, in order. */
  readonly submitted: string[] = [];
  /** value → time of the last attempt, for values not yet applied anywhere. */
  private readonly pending = new Map<string, number>();

  /**
   * @param targets members this client may talk to (default: all)
   * @param retryMs re-proposal interval of a value not yet applied
   */
  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Rng,
    readonly prefix: string,
    private readonly targets?: string[],
    private readonly retryMs = 150,
  ) {}

  /** Submits a new value; returns it. */
  submit(): string {
    const value = `${this.prefix}-${this.seq++}`;
    this.submitted.push(value);
    this.pending.set(value, this.cluster.nowMs);
    this.attempt(value);
    return value;
  }

  /** Forgets applied values, re-proposes overdue ones. */
  pump(): void {
    for (const [value, lastMs] of this.pending) {
      if (this.cluster.checker.appliedValues.has(value)) {
        this.pending.delete(value);
      } else if (this.cluster.nowMs - lastMs >= this.retryMs) {
        this.pending.set(value, this.cluster.nowMs);
        this.attempt(value);
      }
    }
  }

  /** True when every submitted value was applied somewhere. */
  done(): boolean {
    this.pump();
    return this.pending.size === 0;
  }

  /** Proposes on the leader a live member knows (or on a random live member, which forwards). */
  private attempt(value: string): void {
    const up = this.cluster.upIds().filter((id) => !this.targets || this.targets.includes(id));
    if (up.length === 0) return;
    const via = this.rng.pick(up);
    const lead = this.cluster.node(via).core!.status().leader;
    const target = lead && up.includes(lead) ? lead : via;
    this.cluster.propose(target, value);
  }
}
