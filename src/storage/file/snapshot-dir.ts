/**
 * The snapshot directory: one file per snapshot, named `<term>-<index>.snap`, the newest few kept.
 * After etcd's snap.Snapshotter. A file is written by streaming its data into a temp file (with
 * the checksum computed on the way), fsync, rename, fsync of the directory; it is verified and
 * read back in chunks, so no step holds a snapshot's data whole.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotMetadata } from "../../raft/types.ts";
import { crc32 } from "../../util/crc.ts";
import { SNAPSHOT_READ_CHUNK_BYTES } from "../../util/limits.ts";
import type { SnapshotChunks } from "../types.ts";
import { StorageCorruptError } from "../types.ts";
import { DecodeError } from "./binary.ts";
import { fsyncDir, writeFully } from "./fsutil.ts";
import { BROKEN_SUFFIX, parseSnapshotName, SNAPSHOT_FILES_KEPT, snapshotName, TMP_SUFFIX } from "./layout.ts";
import { PacedWriter, type WritePacing } from "./paced-writer.ts";
import {
  decodeSnapshotHeader,
  decodeSnapshotMetadata,
  encodeSnapshotHeader,
  encodeSnapshotMetadata,
  MAX_SNAPSHOT_METADATA_BYTES,
  SNAPSHOT_HEADER_BYTES,
} from "./snapshot-codec.ts";

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

/** A snapshot file that verified: its metadata and where its data lies. */
export interface VerifiedSnapshot {
  file: SnapshotFile;
  metadata: SnapshotMetadata;
  /** Offset of the data in the file (bytes). */
  dataOffset: number;
  /** Bytes of data. */
  dataBytes: number;
  /** CRC-32 of the body (metadata and data), as in the header. */
  crc: number;
}

/** A snapshot written to a temp file by {@link SnapshotDir.stage}. */
export interface StagedFile {
  path: string;
  metadata: SnapshotMetadata;
  dataOffset: number;
  dataBytes: number;
  crc: number;
}

/** Newest first: by index, then term. */
function newestFirst(a: SnapshotFile, b: SnapshotFile): number {
  return b.index - a.index || b.term - a.term;
}

/** Reads exactly `length` bytes at `position` (fewer only at the end of the file). */
async function readAt(h: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await h.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/**
 * Streams `length` bytes from `position` in chunks of at most SNAPSHOT_READ_CHUNK_BYTES, each a
 * fresh buffer, and returns the CRC-32 continued from `crc` over them through `onCrc` at the end.
 * @throws DecodeError when the file ends early
 */
async function* readRange(
  h: FileHandle,
  position: number,
  length: number,
  crc: number,
  onCrc: (crc: number) => void,
): AsyncGenerator<Buffer> {
  let at = position;
  const end = position + length;
  while (at < end) {
    const chunk = await readAt(h, Math.min(SNAPSHOT_READ_CHUNK_BYTES, end - at), at);
    if (chunk.length === 0) throw new DecodeError(`file ends at ${at}, before ${end}`);
    crc = crc32(chunk, crc);
    at += chunk.length;
    yield chunk;
  }
  onCrc(crc);
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

  /** Removes temp files left by a crash during a write, and staged snapshots never saved. */
  async removeTempFiles(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.endsWith(TMP_SUFFIX)) await rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * Verifies `file` by reading it in chunks (checksum, length, name against content).
   * @returns where its metadata and data are, or the reason it failed
   */
  async verify(file: SnapshotFile): Promise<VerifiedSnapshot | { broken: string }> {
    const h = await open(file.path, "r");
    try {
      const { crc, bodyLength } = decodeSnapshotHeader(await readAt(h, SNAPSHOT_HEADER_BYTES, 0));
      const size = (await h.stat()).size;
      if (bodyLength !== size - SNAPSHOT_HEADER_BYTES) {
        return {
          broken: `body length ${bodyLength} but ${size - SNAPSHOT_HEADER_BYTES} bytes follow the header`,
        };
      }
      const head = await readAt(h, Math.min(bodyLength, MAX_SNAPSHOT_METADATA_BYTES), SNAPSHOT_HEADER_BYTES);
      const { metadata, bytes } = decodeSnapshotMetadata(head);
      let actual = 0;
      for await (const _ of readRange(h, SNAPSHOT_HEADER_BYTES, bodyLength, 0, (c) => {
        actual = c;
      }));
      if (actual !== crc) return { broken: "checksum mismatch" };
      if (metadata.index !== file.index || metadata.term !== file.term) {
        return { broken: `holds term ${metadata.term} index ${metadata.index}, not what its name says` };
      }
      return {
        file,
        metadata,
        dataOffset: SNAPSHOT_HEADER_BYTES + bytes,
        dataBytes: bodyLength - bytes,
        crc,
      };
    } catch (err) {
      if (err instanceof DecodeError) return { broken: err.message };
      throw err;
    } finally {
      await h.close();
    }
  }

  /**
   * The data of a verified snapshot in chunks, checked against its checksum again as it is read.
   * The file is opened at the first iteration and closed at the end (or on return/throw).
   * @throws StorageCorruptError when the file changed since it verified
   */
  async *readData(v: VerifiedSnapshot): AsyncGenerator<Uint8Array> {
    const h = await open(v.file.path, "r");
    try {
      const meta = await readAt(h, v.dataOffset - SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES);
      let actual = 0;
      yield* readRange(h, v.dataOffset, v.dataBytes, crc32(meta), (c) => {
        actual = c;
      });
      if (actual !== v.crc)
        throw new StorageCorruptError(`snapshot file ${v.file.path}: checksum mismatch on read`);
    } catch (err) {
      if (err instanceof DecodeError)
        throw new StorageCorruptError(`snapshot file ${v.file.path}: ${err.message}`);
      throw err;
    } finally {
      await h.close();
    }
  }

  /**
   * Finds the newest snapshot that verifies.
   * @returns it (or null) and the newer files that failed, newest first
   */
  async newestValid(): Promise<{ snapshot: VerifiedSnapshot | null; broken: BrokenSnapshot[] }> {
    const broken: BrokenSnapshot[] = [];
    for (const file of await this.list()) {
      const r = await this.verify(file);
      if ("broken" in r) broken.push({ ...file, reason: r.broken });
      else return { snapshot: r, broken };
    }
    return { snapshot: null, broken };
  }

  /**
   * Writes a snapshot to a temp file (`<name>.<random>.tmp`): header placeholder, metadata, the
   * data chunk by chunk at `pacing`, then the real header; fsync. Removed again when anything fails.
   * @throws whatever iterating `data` or the file system throws
   */
  async stage(metadata: SnapshotMetadata, data: SnapshotChunks, pacing: WritePacing): Promise<StagedFile> {
    const name = snapshotName(metadata.term, metadata.index);
    const path = join(this.dir, `${name}.${randomBytes(6).toString("hex")}${TMP_SUFFIX}`);
    const meta = encodeSnapshotMetadata(metadata);
    const h = await open(path, "w");
    try {
      const writer = new PacedWriter(h, SNAPSHOT_HEADER_BYTES, pacing);
      await writer.write(meta);
      let crc = crc32(meta);
      for await (const chunk of data) {
        crc = crc32(chunk, crc);
        await writer.write(chunk);
      }
      await writer.end();
      const bodyLength = writer.position - SNAPSHOT_HEADER_BYTES;
      await writeFully(h, encodeSnapshotHeader({ crc, bodyLength }), 0);
      await h.sync();
      await h.close();
      return {
        path,
        metadata,
        dataOffset: SNAPSHOT_HEADER_BYTES + meta.length,
        dataBytes: bodyLength - meta.length,
        crc,
      };
    } catch (err) {
      await h.close().catch(() => undefined);
      await rm(path, { force: true });
      throw err;
    }
  }

  /**
   * Renames a staged file to its snapshot name (atomic), fsyncs the directory, then deletes all but
   * the newest SNAPSHOT_FILES_KEPT snapshot files.
   */
  async install(staged: StagedFile): Promise<VerifiedSnapshot> {
    const { term, index } = staged.metadata;
    const name = snapshotName(term, index);
    const path = join(this.dir, name);
    await rename(staged.path, path);
    await fsyncDir(this.dir);
    const files = await this.list();
    for (const old of files.slice(SNAPSHOT_FILES_KEPT)) await rm(old.path, { force: true });
    const { metadata, dataOffset, dataBytes, crc } = staged;
    return { file: { name, path, term, index }, metadata, dataOffset, dataBytes, crc };
  }

  /** Deletes a staged file (idempotent). */
  async discard(staged: StagedFile): Promise<void> {
    await rm(staged.path, { force: true });
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
