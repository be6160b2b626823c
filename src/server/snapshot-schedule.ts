/**
 * When a member takes its periodic local snapshot (--snapshot-count, etcd's "number of committed
 * transactions to trigger a snapshot to disk").
 *
 * Serializing the state costs a member CPU and disk for a while (the whole MVCC history, written in
 * the background at a paced rate). Members apply the same entries, so with one threshold every
 * voter would snapshot at the same index, and every commit in that stretch would wait on a busy
 * member: a cluster-wide latency spike. A fresh member's first snapshot is therefore shifted by
 * its rank among the voters, by up to half a period in all; each later snapshot comes
 * `snapshotCount` entries after the previous one, so the members stay out of step (three voters:
 * a sixth of a period apart). No two voters start serializing at the same index, and while one
 * does, a quorum of the others keeps committing.
 */

/**
 * The applied index at which the next local snapshot is due.
 * @param snapshotIndex index of this member's newest snapshot (0 when it has none)
 * @param snapshotCount applied entries between snapshots (> 0)
 * @param memberId this member's id
 * @param voters the voters' ids (any order)
 * @returns `snapshotIndex + snapshotCount`, plus for a member without a snapshot
 *   `floor(rank * snapshotCount / (2 * voters))` where rank is its position among the sorted voter ids
 */
export function snapshotDueIndex(
  snapshotIndex: number,
  snapshotCount: number,
  memberId: string,
  voters: readonly string[],
): number {
  const due = snapshotIndex + snapshotCount;
  if (snapshotIndex > 0 || voters.length <= 1 || !voters.includes(memberId)) return due;
  // Counted rather than sorted: this runs on every pass of the ready loop until the snapshot is due.
  let rank = 0;
  for (const id of voters) if (id < memberId) rank++;
  return due + Math.floor((rank * snapshotCount) / (2 * voters.length));
}
