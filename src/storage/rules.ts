/**
 * The rules every RaftStorage implementation enforces on its inputs, in one place so that the
 * memory, file and PostgreSQL storages refuse exactly the same calls (TigerBeetle style: a broken
 * invariant stops the node before it reaches the disk).
 */
import { type Entry, EntryType, type HardState, type SnapshotMetadata } from "../raft/types.ts";
import { AssertionError, assert } from "../util/assert.ts";

/**
 * What the rules need to know about the stored log. Indexes are Raft log indexes (1-based);
 * 0 means "none".
 */
export interface StoredLogView {
  /** Index of the last stored entry, 0 when no entry is stored. */
  lastEntryIndex(): number;
  /** Term of the stored entry at `index`, or undefined when that entry is not stored (compacted or absent). */
  termAt(index: number): number | undefined;
  /** Index and term of the newest saved snapshot, 0 / 0 when none. */
  snapshotIndex: number;
  snapshotTerm: number;
  /** Last stored hard state, null when none. */
  hardState: HardState | null;
}

function checkCount(value: unknown, what: string, min: number): asserts value is number {
  assert(
    typeof value === "number" && Number.isSafeInteger(value) && value >= min,
    "%s must be a safe integer >= %s, got %s",
    what,
    min,
    value,
  );
}

/** Checks the shape of one entry (index >= 1, term >= 0, known type, bytes). @throws AssertionError */
export function checkEntryShape(e: Entry): void {
  checkCount(e.index, "entry index", 1);
  checkCount(e.term, "entry term", 0);
  assert(
    e.type === EntryType.Normal || e.type === EntryType.ConfChange,
    "entry %s: unknown entry type %s",
    e.index,
    e.type,
  );
  assert(e.data instanceof Uint8Array, "entry %s: data must be a Uint8Array", e.index);
}

/** Checks the shape of a hard state (term, commit >= 0, vote a string). @throws AssertionError */
export function checkHardStateShape(hs: HardState): void {
  checkCount(hs.term, "hard state term", 0);
  checkCount(hs.commit, "hard state commit", 0);
  assert(typeof hs.vote === "string", "hard state vote must be a string");
}

/** The larger of the last stored entry index and the snapshot index: where the next entry goes minus one. */
export function lastIndexOf(view: StoredLogView): number {
  return Math.max(view.lastEntryIndex(), view.snapshotIndex);
}

/**
 * Checks an `append(hardState, entries)` call against the stored state.
 * - entries are contiguous among themselves, with non-decreasing terms (Raft §5.3 Log Matching);
 * - the first one is at most lastIndex + 1 (no gap) and above the snapshot index (entries a snapshot
 *   covers are committed and cannot be overwritten, Raft §5.4 Leader Completeness);
 * - its term is >= the term of the entry before it;
 * - the hard state's term never decreases and its vote never changes within a term once cast
 *   (Raft Figure 2: "votedFor ... in current term"; one vote per term, §5.2);
 * - no entry has a term above the current term;
 * - commit <= last index after the append (etcd-io/raft raftLog.commitTo).
 * A Ready's snapshot must therefore be saved before its hard state and entries (etcd server order).
 * @throws AssertionError naming the broken rule
 */
export function checkAppend(
  view: StoredLogView,
  hardState: HardState | null,
  entries: readonly Entry[],
): void {
  const first = entries[0];
  let lastAfter = lastIndexOf(view);
  if (first !== undefined) {
    let prev: Entry | undefined;
    for (const e of entries) {
      checkEntryShape(e);
      if (prev !== undefined) {
        assert(
          e.index === prev.index + 1,
          "appended entries not contiguous: %s then %s",
          prev.index,
          e.index,
        );
        assert(
          e.term >= prev.term,
          "appended entry %s has term %s < previous term %s",
          e.index,
          e.term,
          prev.term,
        );
      }
      prev = e;
    }
    const lastIndex = lastIndexOf(view);
    assert(
      first.index <= lastIndex + 1,
      "non-contiguous append: first index %s > last index %s + 1",
      first.index,
      lastIndex,
    );
    assert(
      first.index > view.snapshotIndex,
      "append at index %s <= snapshot index %s: entries a snapshot covers are committed",
      first.index,
      view.snapshotIndex,
    );
    const prevTerm =
      first.index - 1 === view.snapshotIndex ? view.snapshotTerm : view.termAt(first.index - 1);
    if (prevTerm !== undefined) {
      assert(
        first.term >= prevTerm,
        "appended entry %s has term %s < term %s of entry %s",
        first.index,
        first.term,
        prevTerm,
        first.index - 1,
      );
    }
    lastAfter = prev!.index;
  }
  const prevHs = view.hardState;
  if (hardState !== null) {
    checkHardStateShape(hardState);
    if (prevHs !== null) {
      assert(
        hardState.term >= prevHs.term,
        "hard state term went back from %s to %s",
        prevHs.term,
        hardState.term,
      );
      if (hardState.term === prevHs.term && prevHs.vote !== "") {
        assert(
          hardState.vote === prevHs.vote,
          "vote changed within term %s from %s to %s",
          hardState.term,
          prevHs.vote,
          hardState.vote || '""',
        );
      }
    }
    assert(
      hardState.commit <= lastAfter,
      "hard state commit %s > last index %s (persist a Ready's snapshot before its hard state)",
      hardState.commit,
      lastAfter,
    );
  }
  const currentTerm = (hardState ?? prevHs)?.term;
  const lastEntry = entries.at(-1);
  if (currentTerm !== undefined && lastEntry !== undefined) {
    assert(
      lastEntry.term <= currentTerm,
      "appended entry %s has term %s > current term %s",
      lastEntry.index,
      lastEntry.term,
      currentTerm,
    );
  }
}

/**
 * Checks a `saveSnapshot` call and decides whether it discards the stored log.
 * Rule (Raft paper §7): if the log holds an entry at the snapshot's index with the snapshot's term,
 * the entries after it are kept; otherwise the whole log is discarded (it is either covered by the
 * snapshot or conflicts with it). A conflicting entry at or below the stored commit index would be a
 * committed entry contradicting the snapshot: refused.
 * Snapshots never go back: index >= the current snapshot index (same index implies same term).
 * @returns true when the stored log must be discarded
 * @throws AssertionError
 */
export function checkSnapshot(view: StoredLogView, meta: SnapshotMetadata): boolean {
  checkCount(meta.index, "snapshot index", 0);
  checkCount(meta.term, "snapshot term", 0);
  assert(
    Array.isArray(meta.confState?.voters) && Array.isArray(meta.confState?.learners),
    "snapshot confState must have voters and learners arrays",
  );
  assert(
    meta.index >= view.snapshotIndex,
    "snapshot index %s < current snapshot index %s: snapshots never go back",
    meta.index,
    view.snapshotIndex,
  );
  if (meta.index === view.snapshotIndex && view.snapshotIndex > 0) {
    assert(
      meta.term === view.snapshotTerm,
      "snapshot at index %s has term %s, the saved one has term %s",
      meta.index,
      meta.term,
      view.snapshotTerm,
    );
  }
  const lastEntry = view.lastEntryIndex();
  if (lastEntry === 0) return false;
  if (lastEntry < meta.index) return true;
  const term = view.termAt(meta.index);
  if (term === undefined || term === meta.term) return false;
  const commit = view.hardState?.commit ?? 0;
  if (meta.index <= commit)
    throw new AssertionError(
      `snapshot (index ${meta.index}, term ${meta.term}) conflicts with committed entry ${meta.index} of term ${term} (commit ${commit})`,
    );
  return true;
}

/**
 * Checks a `compact(index)` call: only entries a saved snapshot covers may be dropped.
 * @throws AssertionError
 */
export function checkCompact(view: StoredLogView, index: number): void {
  checkCount(index, "compact index", 0);
  assert(
    index <= view.snapshotIndex,
    "compact index %s > snapshot index %s: only entries a snapshot covers may be dropped",
    index,
    view.snapshotIndex,
  );
}

/**
 * The hard state `load` returns: a copy whose commit is at least the snapshot index. A snapshot only
 * holds committed state, and a crash between saving a Ready's snapshot and its hard state leaves an
 * older commit on disk (etcd-io/raft would panic on commit < snapshot index at restart).
 */
export function loadedHardState(hs: HardState | null, snapshotIndex: number): HardState | null {
  if (hs === null) return null;
  return { term: hs.term, vote: hs.vote, commit: Math.max(hs.commit, snapshotIndex) };
}
