/**
 * The Raft log of one member, kept whole in memory since the last compaction (etcd-io/raft's
 * raftLog + unstable + MemoryStorage in one structure). Durability is the application's job: the
 * entries after `stableIndex` (and a pending snapshot) are handed out in Ready and become stable in
 * advance().
 *
 * Layout: `offsetIndex`/`offsetTerm` name the entry just before the first retained one (a compacted
 * entry, the last entry of a snapshot, or the dummy 0/0 of an empty log); `ents[i]` has index
 * `offsetIndex + 1 + i`. Invariants (asserted): offsetIndex <= snapshot index (when a snapshot is
 * kept), applied <= committed <= lastIndex, offsetIndex <= applied unless a snapshot is pending.
 */
import { assert } from "../util/assert.ts";
import type { Entry, Snapshot } from "./types.ts";

/** Bytes counted per entry on top of its data (term, index, type and length framing). */
export const ENTRY_HEADER_BYTES = 24;

/** Size of one entry as counted against maxAppendBytes: data bytes plus {@link ENTRY_HEADER_BYTES}. */
export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_HEADER_BYTES;
}

/** An (index, term) pair naming one log position. */
export interface EntryId {
  index: number;
  term: number;
}

/** The in-memory Raft log. All indexes are Raft log indexes (1-based; 0 is "before the log"). */
export class RaftLog {
  private offsetIndex: number;
  private offsetTerm: number;
  private ents: Entry[] = [];
  /** Newest snapshot this member holds (saved by compact(), restored from the leader, or loaded at start); sent to lagging followers. */
  snapshot: Snapshot | null;
  /** Snapshot received from the leader that the application has not persisted yet (unstable). */
  pendingSnapshot: Snapshot | null = null;
  /** Highest index known to be committed (Figure 2 "commitIndex"). */
  committed: number;
  /** Highest index applied to the state machine (Figure 2 "lastApplied"). */
  applied: number;
  /** Entries with index <= stableIndex are durable; later ones still go out in Ready.entries. */
  stableIndex: number;

  /**
   * @param snapshot newest persisted snapshot or null
   * @param entries persisted entries (those <= snapshot index are skipped); must be contiguous
   * @param committed persisted commit index (HardState.commit)
   * @param applied index already applied by the state machine
   * @throws AssertionError when entries are not contiguous or indexes are inconsistent
   */
  constructor(snapshot: Snapshot | null, entries: Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.offsetIndex = snapshot?.metadata.index ?? 0;
    this.offsetTerm = snapshot?.metadata.term ?? 0;
    for (const e of entries) {
      if (e.index <= this.offsetIndex) continue;
      assert(
        e.index === this.lastIndex() + 1,
        "log: persisted entry %s not contiguous after %s",
        e.index,
        this.lastIndex(),
      );
      assert(
        e.term >= this.lastTerm(),
        "log: persisted entry %s has term %s below previous",
        e.index,
        e.term,
      );
      this.ents.push(e);
    }
    this.stableIndex = this.lastIndex();
    this.committed = Math.max(committed, this.offsetIndex);
    this.applied = applied;
    assert(
      this.committed <= this.lastIndex(),
      "log: commit %s beyond last index %s",
      this.committed,
      this.lastIndex(),
    );
    assert(applied >= this.offsetIndex, "log: applied %s below snapshot index %s", applied, this.offsetIndex);
    assert(applied <= this.committed, "log: applied %s beyond commit %s", applied, this.committed);
  }

  /** First index still held in memory (offsetIndex + 1). */
  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  /** Index of the last entry (or of the snapshot/dummy when no entry follows). */
  lastIndex(): number {
    return this.offsetIndex + this.ents.length;
  }

  /** Term of the last entry. */
  lastTerm(): number {
    const last = this.ents[this.ents.length - 1];
    return last ? last.term : this.offsetTerm;
  }

  /** (index, term) of the last entry. */
  lastEntryId(): EntryId {
    return { index: this.lastIndex(), term: this.lastTerm() };
  }

  /**
   * Term of the entry at `index`, or undefined when it is compacted (< offsetIndex) or beyond
   * the last index.
   */
  term(index: number): number | undefined {
    if (index === this.offsetIndex) return this.offsetTerm;
    if (index < this.offsetIndex || index > this.lastIndex()) return undefined;
    return this.ents[index - this.offsetIndex - 1]?.term;
  }

  /** True when the entry at `index` exists here with term `term` (Log Matching, §5.3). */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * Election restriction (§5.4.1): a log ending at (lastIndex, lastTerm) is at least as
   * up-to-date as ours when its last term is higher, or equal with an index at least ours.
   */
  isUpToDate(candidate: EntryId): boolean {
    const myTerm = this.lastTerm();
    return candidate.term > myTerm || (candidate.term === myTerm && candidate.index >= this.lastIndex());
  }

  /**
   * Index of the first of `entries` whose term differs from ours at that index or that we do
   * not have; 0 when every entry is already present (etcd raftLog.findConflict).
   */
  findConflict(entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Best guess of where this log last matches another log of which only one (index, term) is
   * known: the largest i <= index whose term is <= `term` or unknown (compacted). Returns that
   * index and its term (0 when unknown). etcd-io/raft raftLog.findConflictByTerm; used for fast
   * back-off of the next index after a rejected append (§5.3, "the follower can include the
   * term of the conflicting entry").
   */
  findConflictByTerm(index: number, term: number): EntryId {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * AppendEntries receiver rules 2–4 and 5 (§5.3, Figure 2): if our entry at `prev` matches,
   * drop any conflicting suffix, append the new entries and advance the commit index to
   * min(leaderCommit, index of last new entry). Returns the index of the last new entry, or
   * undefined when `prev` does not match (the caller rejects).
   * @throws AssertionError if a committed entry would be overwritten (Log Matching, §5.3)
   */
  maybeAppend(prev: EntryId, entries: Entry[], leaderCommit: number): number | undefined {
    if (!this.matchTerm(prev.index, prev.term)) return undefined;
    const lastNewIndex = prev.index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        "log: entry %s conflicts with committed %s (§5.3)",
        conflict,
        this.committed,
      );
      const first = entries[0];
      assert(first !== undefined && first.index === prev.index + 1, "log: entries do not follow prev");
      this.append(entries.slice(conflict - first.index));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /**
   * Appends `entries`, first truncating every entry at or after the first new index (§5.3: "if an
   * existing entry conflicts with a new one, delete the existing entry and all that follow it").
   * @throws AssertionError when a committed entry would be truncated or the entries leave a gap
   */
  append(entries: Entry[]): void {
    const first = entries[0];
    if (!first) return;
    assert(
      first.index > this.committed,
      "log: append at %s would truncate committed %s",
      first.index,
      this.committed,
    );
    assert(
      first.index <= this.lastIndex() + 1,
      "log: append at %s leaves a gap after %s",
      first.index,
      this.lastIndex(),
    );
    assert(first.index > this.offsetIndex, "log: append at %s into compacted part", first.index);
    if (first.index <= this.lastIndex()) {
      this.ents.length = first.index - this.offsetIndex - 1;
      this.stableIndex = Math.min(this.stableIndex, first.index - 1);
    }
    let prevTerm = this.lastTerm();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first.index + i, "log: appended entries not contiguous at %s", e.index);
      assert(
        e.term >= prevTerm,
        "log: appended entry %s term %s below previous %s",
        e.index,
        e.term,
        prevTerm,
      );
      prevTerm = e.term;
      this.ents.push(e);
    }
  }

  /**
   * Raises the commit index to `index` (never lowers it).
   * @throws AssertionError when `index` is beyond the last entry (the log was lost or truncated)
   */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), "log: commit %s beyond last index %s", index, this.lastIndex());
    this.committed = index;
  }

  /**
   * Leader commit rule (§5.4.2, Figure 8): commits `index` only if the entry there has the
   * leader's current `term`; older-term entries become committed indirectly. Returns whether the
   * commit index moved.
   */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /**
   * Entries with index in [lo, hi), at most `maxBytes` of them by {@link entrySizeBytes} but
   * always at least one when the range is non-empty.
   * @throws AssertionError when the range is compacted or beyond the log
   */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    assert(lo > this.offsetIndex, "log: slice from %s is compacted (first %s)", lo, this.firstIndex());
    assert(hi <= this.lastIndex() + 1, "log: slice to %s beyond last %s", hi, this.lastIndex());
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.offsetIndex - 1]!;
      bytes += entrySizeBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** All entries from `lo` to the last one (see {@link slice}). */
  entriesFrom(lo: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  /** Entries not yet durable (index > stableIndex): Ready.entries. */
  unstableEntries(): Entry[] {
    return this.stableIndex < this.lastIndex() ? this.slice(this.stableIndex + 1, this.lastIndex() + 1) : [];
  }

  /** True when committed entries wait to be applied (none while a snapshot is pending). */
  hasNextCommittedEntries(): boolean {
    return this.pendingSnapshot === null && this.committed > this.applied;
  }

  /** Committed entries not applied yet, (applied, committed]: Ready.committedEntries. */
  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applied + 1, this.committed + 1);
  }

  /**
   * `entries` (handed out in a Ready) are durable. Entries replaced since (a truncation after the
   * Ready was taken) are not marked; by Log Matching (§5.3) every entry up to the last one still
   * matching is the one persisted.
   */
  stableTo(entries: readonly Entry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (this.matchTerm(e.index, e.term)) {
        if (e.index > this.stableIndex) this.stableIndex = e.index;
        return;
      }
    }
  }

  /** The pending snapshot at `index` has been persisted by the application. */
  stableSnapshotTo(index: number): void {
    if (this.pendingSnapshot && this.pendingSnapshot.metadata.index === index) this.pendingSnapshot = null;
  }

  /**
   * The state machine applied everything up to `index`.
   * @throws AssertionError when `index` is beyond the commit index or goes backwards
   */
  appliedTo(index: number): void {
    assert(index <= this.committed, "log: applied %s beyond commit %s", index, this.committed);
    assert(index >= this.applied, "log: applied index going back from %s to %s", this.applied, index);
    this.applied = index;
  }

  /**
   * Replaces the whole log with a snapshot from the leader (§7, InstallSnapshot receiver rules
   * 6–7 when the log does not contain the snapshot's last entry): the log restarts after it,
   * commit moves to its index, and it becomes the pending snapshot for the next Ready.
   * @throws AssertionError when the snapshot is not newer than the commit index
   */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    assert(index > this.committed, "log: restoring snapshot %s not beyond commit %s", index, this.committed);
    this.offsetIndex = index;
    this.offsetTerm = term;
    this.ents = [];
    this.stableIndex = index;
    this.committed = index;
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
  }

  /**
   * Keeps `snapshot` (saved by the application at an applied index) to send to lagging followers
   * and drops entries <= `dropThrough` from memory. Returns false when the snapshot is not newer
   * than the one held.
   * @throws AssertionError when the snapshot is beyond the applied index or disagrees with the log
   */
  compact(snapshot: Snapshot, dropThrough: number): boolean {
    const { index, term } = snapshot.metadata;
    if (this.snapshot && index <= this.snapshot.metadata.index) return false;
    assert(index <= this.applied, "log: snapshot %s beyond applied %s", index, this.applied);
    const ourTerm = this.term(index);
    assert(ourTerm === term, "log: snapshot %s term %s != log term %s", index, term, ourTerm);
    this.snapshot = snapshot;
    const through = Math.min(dropThrough, index);
    if (through > this.offsetIndex) {
      assert(through <= this.stableIndex, "log: compacting %s beyond stable %s", through, this.stableIndex);
      const t = this.term(through);
      assert(t !== undefined, "log: no term at compaction point %s", through);
      this.ents = this.ents.slice(through - this.offsetIndex);
      this.offsetIndex = through;
      this.offsetTerm = t;
    }
    return true;
  }
}
