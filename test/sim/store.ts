/**
 * The "disk" of a simulated member: hard state, newest snapshot and log entries, written only the
 * way the Ready contract allows. A crash keeps exactly what was written here.
 */
import type { RaftInitialState } from "../../src/raft/core.ts";
import type { ConfState, Entry, HardState, Ready, Snapshot } from "../../src/raft/types.ts";

/** Durable state of one simulated member. */
export class SimStore {
  hardState: HardState | null = null;
  snapshot: Snapshot | null = null;
  /** Entries after the snapshot (or from 1), contiguous. */
  entries: Entry[] = [];

  /** Writes hardState, snapshot and entries of `rd` (step 1 of the Ready contract). */
  persist(rd: Ready): void {
    if (rd.snapshot) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
    const first = rd.entries[0];
    if (!first) return;
    const base = this.snapshot?.metadata.index ?? 0;
    const keep = first.index - base - 1;
    if (keep < 0 || keep > this.entries.length) {
      throw new Error(
        `store: entries at ${first.index} not contiguous (base ${base}, have ${this.entries.length})`,
      );
    }
    this.entries = [...this.entries.slice(0, keep), ...rd.entries];
  }

  /** Saves an application snapshot and drops the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void {
    if (this.snapshot && this.snapshot.metadata.index >= snapshot.metadata.index) return;
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.metadata.index);
  }

  /** What a restarted member loads. */
  initial(confState: ConfState): RaftInitialState {
    return {
      hardState: this.hardState ? { ...this.hardState } : null,
      snapshot: this.snapshot,
      entries: [...this.entries],
      confState,
      applied: this.snapshot?.metadata.index ?? 0,
    };
  }
}
