/** Shared pieces of the file storage tests: temp data dirs, a capturing pino logger, small WAL helpers. */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type Entry, EntryType } from "../../../src/raft/types.ts";
import {
  type FileStorage,
  type FileStorageOptions,
  openFileStorage,
} from "../../../src/storage/file/index.ts";

/** A pino logger that keeps its JSON lines for assertions. */
export function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Lines at level warn (40) or above. */
export function warnings(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => typeof l.level === "number" && l.level >= 40);
}

/** A temp data dir, its opened storages, and cleanup. */
export class TempDataDir {
  readonly opened: FileStorage[] = [];
  private constructor(readonly dir: string) {}

  static async create(): Promise<TempDataDir> {
    return new TempDataDir(await mkdtemp(join(tmpdir(), "cairn-storage-unit-")));
  }

  get walDir(): string {
    return join(this.dir, "member", "wal");
  }

  get snapDir(): string {
    return join(this.dir, "member", "snap");
  }

  /** Opens the storage; WAL preallocation is off unless asked for, so file sizes are record sizes. */
  async open(opts: FileStorageOptions = {}): Promise<FileStorage> {
    const s = await openFileStorage(this.dir, {
      logger: capturingLogger().logger,
      preallocate: false,
      ...opts,
    });
    this.opened.push(s);
    return s;
  }

  /** WAL segment paths, oldest first. */
  async segments(): Promise<string[]> {
    return (await readdir(this.walDir))
      .filter((n) => n.endsWith(".wal"))
      .sort()
      .map((n) => join(this.walDir, n));
  }

  /** Snapshot directory file names, sorted. */
  async snapFiles(): Promise<string[]> {
    return (await readdir(this.snapDir)).sort();
  }

  async cleanup(): Promise<void> {
    for (const s of this.opened) await s.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Entry with `size` bytes of data derived from its index. */
export function entry(index: number, term: number, size = 16): Entry {
  const data = new Uint8Array(size);
  for (let k = 0; k < size; k++) data[k] = (index * 31 + k) & 0xff;
  return { index, term, type: EntryType.Normal, data };
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Flips (xor 0xff) the byte at `offset` of `path`; negative offsets count from the end. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const buf = await readFile(path);
  const at = offset < 0 ? buf.length + offset : offset;
  buf[at] = buf[at]! ^ 0xff;
  await writeFile(path, buf);
}
