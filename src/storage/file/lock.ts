/**
 * The data dir lock: `member/LOCK`, created exclusively and holding the owner's pid, so two
 * processes never write one WAL. A lock whose pid is no longer alive is stale and replaced.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { isErrno } from "./fsutil.ts";

/** The data dir is locked by a live process (or the lock file cannot be read as one). */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/** True when a process with `pid` exists (EPERM: it exists but belongs to another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, "EPERM");
  }
}

/** A held data dir lock. */
export class DataDirLock {
  #released = false;
  private constructor(readonly path: string) {}

  /**
   * Takes the lock at `path` for this process.
   * @throws DataDirLockedError when a live process (this one included) holds it, or when the lock file has no pid
   */
  static async acquire(path: string, dataDir: string): Promise<DataDirLock> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: "wx" });
        return new DataDirLock(path);
      } catch (err) {
        if (!isErrno(err, "EEXIST")) throw err;
      }
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if (isErrno(err, "ENOENT")) continue; // released meanwhile
        throw err;
      }
      const pid = Number(text.trim());
      if (!Number.isSafeInteger(pid) || pid <= 0) {
        throw new DataDirLockedError(
          `data dir ${dataDir}: lock file ${path} holds no pid; remove it if no process uses the data dir`,
        );
      }
      if (isAlive(pid)) {
        throw new DataDirLockedError(
          `data dir ${dataDir} is used by another process (pid ${pid}); lock file ${path}`,
        );
      }
      await rm(path, { force: true }); // stale: its process is gone
    }
    throw new DataDirLockedError(`data dir ${dataDir}: could not take the lock ${path} (contended)`);
  }

  /** Removes the lock file. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await rm(this.path, { force: true });
  }
}
