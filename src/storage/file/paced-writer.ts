/**
 * Sequential writes of a file made in the background while the WAL keeps appending on the same
 * disk: a spare WAL segment's preallocated zeros, a local snapshot being staged. Written at full
 * speed, tens of MiB of dirty pages reach the disk at once (on every member at about the same
 * index), and the WAL's fdatasyncs, on which every acknowledged write waits, queue behind them:
 * measured on the development VM, fdatasyncs of 5–15 ms (against a p50 of 0.25 ms) for as long
 * as three members wrote their spare segments at once. A paced writer holds its rate under
 * `bytesPerSecond` and flushes every `syncEveryBytes`, so at most that much of it is ever dirty.
 * (etcd avoids the zeros with fallocate, which Node.js does not offer, and its snapshots are
 * small: its state lives in bbolt, written in 100 ms batches.)
 */
import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFully } from "./fsutil.ts";

/** How fast a file write may go; one object per write, so that the write can be hurried. */
export class WritePacing {
  /**
   * @param bytesPerSecond average rate limit, bytes per second (> 0; Infinity: none)
   * @param syncEveryBytes fdatasync after this many bytes written since the last one (> 0)
   */
  constructor(
    public bytesPerSecond: number,
    readonly syncEveryBytes: number,
  ) {}

  /** Lifts the rate limit from the next chunk on: something now waits for the write (a WAL rollover for its spare). */
  hurry(): void {
    this.bytesPerSecond = Number.POSITIVE_INFINITY;
  }
}

/** Pacing of a background write: 32 MiB/s (a 64 MiB spare segment in ~2 s), 1 MiB dirty at most. */
export function backgroundPacing(): WritePacing {
  return new WritePacing(32 * 1024 * 1024, 1024 * 1024);
}

/** Pacing of a write something waits for (a member starting, a rollover without a spare): no rate limit. */
export function foregroundPacing(): WritePacing {
  return new WritePacing(Number.POSITIVE_INFINITY, 8 * 1024 * 1024);
}

/** The calls a paced writer makes on its file (a FileHandle has them). */
export type PacedFile = Pick<FileHandle, "write" | "datasync">;

/** Time as a paced writer sees it. */
export interface PaceTimer {
  /** Monotonic milliseconds. */
  nowMs(): number;
  sleep(ms: number): Promise<unknown>;
}

const REAL_TIMER: PaceTimer = { nowMs: () => performance.now(), sleep: (ms) => sleep(ms) };

/** Smaller chunks are gathered into writes of up to this many bytes (fewer system calls and promises). */
export const GATHER_WRITE_BYTES = 256 * 1024;

/**
 * Writes a file front to back at a paced rate (module comment). Small chunks are gathered into
 * writes of up to GATHER_WRITE_BYTES; call {@link end} after the last one, then sync the file (`sync()` or
 * `datasync()`): only whole `syncEveryBytes` runs are flushed here.
 */
export class PacedWriter {
  /** Offset of the next write to the file (chunks gathered and not written yet follow it). */
  #position: number;
  /** Chunks gathered for the next write are copied here (one buffer per writer, reused). */
  #gathered: Buffer | null = null;
  #gatheredBytes = 0;
  #unsyncedBytes = 0;
  #writtenBytes = 0;
  readonly #startedAtMs: number;

  /**
   * @param handle an open file
   * @param position byte offset of the first write
   * @param pacing rate and flush interval (read at every write: {@link WritePacing.hurry} applies at once)
   * @param timer clock (ms) and sleep; tests pass their own
   */
  constructor(
    private readonly handle: PacedFile,
    position: number,
    private readonly pacing: WritePacing,
    private readonly timer: PaceTimer = REAL_TIMER,
  ) {
    this.#position = position;
    this.#startedAtMs = timer.nowMs();
  }

  /** Offset right after the last chunk given, bytes (written or still gathered). */
  get position(): number {
    return this.#position + this.#gatheredBytes;
  }

  /**
   * Appends `data` after the last chunk. Once GATHER_WRITE_BYTES are gathered they are written,
   * flushed when `syncEveryBytes` are unsynced, and the call then waits as long as the writer is
   * ahead of `bytesPerSecond`. A chunk smaller than GATHER_WRITE_BYTES is copied: the caller may
   * reuse its memory as soon as the call returns. A larger one goes out as it is.
   * @throws whatever the file system throws
   */
  async write(data: Uint8Array): Promise<void> {
    if (this.#gatheredBytes + data.length > GATHER_WRITE_BYTES && this.#gatheredBytes > 0) {
      await this.#writeOut(this.#takeGathered());
    }
    if (data.length >= GATHER_WRITE_BYTES) {
      await this.#writeOut(data);
      return;
    }
    this.#gathered ??= Buffer.allocUnsafe(GATHER_WRITE_BYTES);
    this.#gathered.set(data, this.#gatheredBytes);
    this.#gatheredBytes += data.length;
  }

  /** Writes what is still gathered. @throws whatever the file system throws */
  async end(): Promise<void> {
    if (this.#gatheredBytes > 0) await this.#writeOut(this.#takeGathered());
  }

  /** The gathered bytes (a view of the reused buffer: valid until the next chunk is gathered). */
  #takeGathered(): Uint8Array {
    const data = this.#gathered!.subarray(0, this.#gatheredBytes);
    this.#gatheredBytes = 0;
    return data;
  }

  async #writeOut(data: Uint8Array): Promise<void> {
    await writeFully(this.handle, data, this.#position);
    this.#position += data.length;
    this.#writtenBytes += data.length;
    this.#unsyncedBytes += data.length;
    if (this.#unsyncedBytes >= this.pacing.syncEveryBytes) {
      await this.handle.datasync();
      this.#unsyncedBytes = 0;
    }
    const dueAtMs = this.#startedAtMs + (this.#writtenBytes / this.pacing.bytesPerSecond) * 1000;
    const aheadMs = dueAtMs - this.timer.nowMs();
    if (aheadMs >= 1) await this.timer.sleep(aheadMs);
  }
}
