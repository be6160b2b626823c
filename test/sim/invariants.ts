/**
 * Safety properties of Raft (paper Figure 3) checked by the simulation at every step:
 * - Election Safety: at most one leader per term;
 * - State Machine Safety / Log Matching on committed entries: an applied index always holds the same
 *   (term, data) on every member, and applied sequences are prefixes of each other;
 * - Leader Completeness: a new leader holds every entry applied anywhere before;
 * - terms never go back, applied indexes advance one by one.
 * A violation throws SafetyViolation with the simulated time.
 */
import type { RaftCore } from "../../src/raft/core.ts";
import type { NodeId } from "../../src/raft/types.ts";
import type { AppliedEntry } from "./state-machine.ts";

/** A broken Raft safety property. */
export class SafetyViolation extends Error {
  override name = "SafetyViolation";
}

/** Global record of what the cluster committed, and the checks against it. */
export class Invariants {
  /** term → leader seen in that term. */
  private readonly leaders = new Map<number, NodeId>();
  /** (id, term) pairs already checked for Leader Completeness. */
  private readonly completenessChecked = new Set<string>();
  /** index → the entry applied there (by anyone). */
  private readonly committed: (AppliedEntry | undefined)[] = [];
  /** value → time it was first applied anywhere. */
  readonly appliedValues = new Map<string, number>();
  /** Highest commit index any member ever reported. */
  private maxCommitSeen = 0;
  /** Pending ReadIndex requests: context key → lowest acceptable read index. */
  private readonly reads = new Map<string, { minIndex: number; answered: boolean }>();
  /** ReadIndex requests answered (for liveness checks). */
  readsAnswered = 0;
  nowMs = 0;

  private fail(msg: string): never {
    throw new SafetyViolation(`t=${this.nowMs}ms: ${msg}`);
  }

  /** Highest index applied anywhere. */
  maxCommittedIndex(): number {
    return Math.max(this.committed.length - 1, 0);
  }

  /** The entry applied at `index` anywhere, if any. */
  committedAt(index: number): AppliedEntry | undefined {
    return this.committed[index];
  }

  /**
   * Election Safety (§5.2) and Leader Completeness (§5.4): call for every live member at every
   * step.
   */
  observe(id: NodeId, core: RaftCore): void {
    const st = core.status();
    if (st.commit > this.maxCommitSeen) this.maxCommitSeen = st.commit;
    if (st.role !== "leader") return;
    const prev = this.leaders.get(st.term);
    if (prev !== undefined && prev !== id) this.fail(`two leaders in term ${st.term}: ${prev} and ${id}`);
    this.leaders.set(st.term, id);
    const key = `${id}/${st.term}`;
    if (this.completenessChecked.has(key)) return;
    this.completenessChecked.add(key);
    for (let i = 1; i < this.committed.length; i++) {
      const c = this.committed[i]!;
      const t = core.logTerm(i);
      if (t === undefined) {
        if (i >= st.firstIndex) this.fail(`leader ${id} of term ${st.term} lacks committed entry ${i}`);
        continue;
      }
      if (t !== c.term)
        this.fail(`leader ${id} of term ${st.term} has term ${t} at committed index ${i} (want ${c.term})`);
    }
  }

  /** State Machine Safety (§5.4.3): `entry` applied by `id` must agree with every other apply at its index. */
  onApply(id: NodeId, entry: AppliedEntry): void {
    const c = this.committed[entry.index];
    if (c === undefined) {
      // Members apply in index order (checked per member), so the first apply of every index
      // comes after the first apply of the previous one.
      if (entry.index !== Math.max(this.committed.length, 1))
        this.fail(`${id} applied ${entry.index} past a gap`);
      this.committed[entry.index] = entry;
      if (entry.data !== "" && !this.appliedValues.has(entry.data))
        this.appliedValues.set(entry.data, this.nowMs);
      return;
    }
    if (c.term !== entry.term || c.data !== entry.data) {
      this.fail(
        `${id} applied (${entry.index}, term ${entry.term}, "${entry.data}") but (${c.index}, term ${c.term}, "${c.data}") was applied before`,
      );
    }
  }

  /**
   * A ReadIndex request issued now: to be linearizable its read index must cover every entry
   * committed anywhere so far (thesis §6.4).
   */
  onReadIssued(ctxKey: string): void {
    this.reads.set(ctxKey, { minIndex: this.maxCommitSeen, answered: false });
  }

  /** A ReadState arrived for `ctxKey` with `index` (a duplicated request may be answered twice). */
  onReadState(id: NodeId, ctxKey: string, index: number): void {
    const read = this.reads.get(ctxKey);
    if (read === undefined) this.fail(`${id} got a ReadState for unknown context ${ctxKey}`);
    if (index < read.minIndex) {
      this.fail(
        `${id} got read index ${index} for ${ctxKey}, but ${read.minIndex} was committed before the read`,
      );
    }
    if (!read.answered) this.readsAnswered++;
    read.answered = true;
  }

  /** Applied sequences of all members are prefixes of each other. */
  checkPrefixes(states: Map<NodeId, readonly AppliedEntry[]>): void {
    const all = [...states.entries()];
    for (const [id, seq] of all) {
      for (let i = 0; i < seq.length; i++) {
        const e = seq[i]!;
        if (e.index !== i + 1)
          this.fail(`${id}'s applied sequence has index ${e.index} at position ${i + 1}`);
        const c = this.committed[e.index];
        if (!c || c.term !== e.term || c.data !== e.data)
          this.fail(`${id}'s applied ${e.index} differs from others`);
      }
    }
  }
}
