/**
 * The snapshot directory: one file per snapshot, named `<term>-<index>.snap`, written atomically
 * (temp file, fsync, rename, fsync dir), the newest few kept. After etcd's snap.Snapshotter.
 */
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Snapshot } from "../../raft/types.ts";
import { DecodeError } from "./binary.ts";
import { writeFileAtomic } from "./fsutil.ts";
import { BROKEN_SUFFIX, parseSnapshotName, SNAPSHOT_FILES_KEPT, snapshotName, TMP_SUFFIX } from "./layout.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-codec.ts";

/** A snapshot file by name. */
export interface SnapshotFile {
  name: string;
  path: string;
  term: number;
  index: number;
}

/** A snapshot file that failed verification. */
export interface BrokenSnapshot extends SnapshotFile {
  reason: string;
}

/** Newest first: by index, then term. */
function newestFirst(a: SnapshotFile, b: SnapshotFile): number {
  return b.index - a.index || b.term - a.term;
}

/** Operations on `<data-dir>/member/snap`. */
export class SnapshotDir {
  constructor(readonly dir: string) {}

  /** Snapshot files, newest first (leftover temp files are ignored). */
  async list(): Promise<SnapshotFile[]> {
    const files: SnapshotFile[] = [];
    for (const name of await readdir(this.dir)) {
      const parsed = parseSnapshotName(name);
      if (parsed) files.push({ name, path: join(this.dir, name), ...parsed });
    }
    return files.sort(newestFirst);
  }

  /** Removes temp files left by a crash during a write. */
  async removeTempFiles(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.endsWith(TMP_SUFFIX)) await rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * Reads and verifies `file`.
   * @returns the snapshot, or the reason it failed (checksum, length, name/content mismatch)
   */
  async read(file: SnapshotFile): Promise<Snapshot | { broken: string }> {
    let s: Snapshot;
    try {
      s = decodeSnapshot(await readFile(file.path));
    } catch (err) {
      if (err instanceof DecodeError) return { broken: err.message };
      throw err;
    }
    if (s.metadata.index !== file.index || s.metadata.term !== file.term) {
      return { broken: `holds term ${s.metadata.term} index ${s.metadata.index}, not what its name says` };
    }
    return s;
  }

  /**
   * Finds the newest snapshot that verifies.
   * @returns it (or null) and the newer files that failed, newest first
   */
  async newestValid(): Promise<{
    snapshot: Snapshot | null;
    file: SnapshotFile | null;
    broken: BrokenSnapshot[];
  }> {
    const broken: BrokenSnapshot[] = [];
    for (const file of await this.list()) {
      const r = await this.read(file);
      if ("broken" in r) broken.push({ ...file, reason: r.broken });
      else return { snapshot: r, file, broken };
    }
    return { snapshot: null, file: null, broken };
  }

  /** Durably and atomically writes `snapshot`, then deletes all but the newest SNAPSHOT_FILES_KEPT files. */
  async save(snapshot: Snapshot): Promise<SnapshotFile> {
    const { term, index } = snapshot.metadata;
    const name = snapshotName(term, index);
    const path = join(this.dir, name);
    await writeFileAtomic(path, this.dir, encodeSnapshot(snapshot));
    const files = await this.list();
    for (const old of files.slice(SNAPSHOT_FILES_KEPT)) await rm(old.path, { force: true });
    return { name, path, term, index };
  }

  /** Renames a failed file to `<name>.broken` so it is kept for inspection but never loaded again (etcd). */
  async markBroken(file: SnapshotFile): Promise<void> {
    await rename(file.path, file.path + BROKEN_SUFFIX);
  }

  /** Total bytes of the snapshot files. */
  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const f of await this.list()) total += (await stat(f.path)).size;
    return total;
  }
}
