/** Small durable-file helpers (fsync of directories, atomic replace, full writes). */
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { TMP_SUFFIX } from "./layout.ts";

/**
 * fsyncs a directory so that file creations, renames and deletions in it are durable
 * (POSIX: a new directory entry is durable only once its directory is synced).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes all of `data` at `position`, looping over short writes (one syscall in the usual case). */
export async function writeFully(
  h: Pick<FileHandle, "write">,
  data: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await h.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${data.length} bytes`);
    done += bytesWritten;
  }
}

/**
 * Replaces `path` atomically with `parts` concatenated: writes `<path>.tmp`, fsyncs it, renames it
 * over `path`, fsyncs the directory. After a crash either the old or the new file exists whole.
 */
export async function writeFileAtomic(
  path: string,
  dir: string,
  parts: readonly Uint8Array[],
): Promise<void> {
  const tmp = path + TMP_SUFFIX;
  const h = await open(tmp, "w");
  try {
    let position = 0;
    for (const p of parts) {
      await writeFully(h, p, position);
      position += p.length;
    }
    await h.sync();
  } catch (err) {
    await h.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await h.close();
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** True when `err` is a Node system error with `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
