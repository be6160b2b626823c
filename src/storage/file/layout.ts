/**
 * On-disk layout of a file storage data dir, after etcd's (member/wal, member/snap):
 *
 * ```
 * <data-dir>/member/LOCK                         pid of the process using the data dir
 * <data-dir>/member/meta.json                    ClusterMetadata, written atomically
 * <data-dir>/member/wal/<seq>-<firstIndex>.wal   WAL segments, 16 lowercase hex digits each
 * <data-dir>/member/snap/<term>-<index>.snap     snapshot files, 16 lowercase hex digits each
 * ```
 */
import { join } from "node:path";

/** Default size after which the WAL rolls over to a new segment (etcd: SegmentSizeBytes, 64 MiB). */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Snapshot files kept: the newest plus two older ones (etcd keeps 5 by --max-snapshots). */
export const SNAPSHOT_FILES_KEPT = 3;

/** Suffix of files being written before their atomic rename. */
export const TMP_SUFFIX = ".tmp";

/** Suffix given to a snapshot file that failed its checksum (etcd: ".broken"). */
export const BROKEN_SUFFIX = ".broken";

/** Paths of one data dir. */
export interface DataDirPaths {
  member: string;
  wal: string;
  snap: string;
  meta: string;
  lock: string;
}

/** The paths under `dataDir`. */
export function dataDirPaths(dataDir: string): DataDirPaths {
  const member = join(dataDir, "member");
  return {
    member,
    wal: join(member, "wal"),
    snap: join(member, "snap"),
    meta: join(member, "meta.json"),
    lock: join(member, "LOCK"),
  };
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

/** File name of WAL segment `seq` whose first entry index is `firstIndex`: `%016x-%016x.wal` (etcd). */
export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

/** Parses a WAL segment file name; null when the name is not one. */
export function parseSegmentName(name: string): { seq: number; firstIndex: number } | null {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (!m) return null;
  const seq = Number.parseInt(m[1]!, 16);
  const firstIndex = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return null;
  return { seq, firstIndex };
}

/** File name of the snapshot at (`term`, `index`): `%016x-%016x.snap` (etcd). */
export function snapshotName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

/** Parses a snapshot file name; null when the name is not one. */
export function parseSnapshotName(name: string): { term: number; index: number } | null {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (!m) return null;
  const term = Number.parseInt(m[1]!, 16);
  const index = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return null;
  return { term, index };
}
