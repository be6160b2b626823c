/** Instrumented snapshot state sources and sinks for the snapshot streaming tests. */
import { createHash, randomFillSync } from "node:crypto";
import type { Message } from "../../../src/raft/types.ts";
import { sleep } from "./helpers.ts";

/** What a {@link stateSource} did so far. */
export interface SourceProgress {
  /** Times `data()` was called. */
  calls: number;
  /** Chunks and bytes yielded. */
  produced: number;
  producedBytes: number;
  /** The generator ran to its end. */
  finished: boolean;
  /** The generator's `finally` ran (exhausted, closed by return(), or thrown). */
  closed: boolean;
}

/**
 * A source of random chunks of the given sizes (bytes), read lazily, that records its progress and
 * hashes what it yielded. `failAt`: throw instead of yielding chunk number `failAt`; `stallAt`: wait
 * `stallMs` before yielding chunk number `stallAt`.
 */
export function stateSource(
  sizes: readonly number[],
  opts: { failAt?: number; stallAt?: number; stallMs?: number } = {},
) {
  const progress: SourceProgress = {
    calls: 0,
    produced: 0,
    producedBytes: 0,
    finished: false,
    closed: false,
  };
  const hash = createHash("sha256");
  const data = () => {
    progress.calls++;
    return (async function* () {
      try {
        for (const [i, size] of sizes.entries()) {
          if (i === opts.failAt) throw new Error("disk read failed");
          if (i === opts.stallAt) await sleep(opts.stallMs ?? 0);
          const chunk = randomFillSync(new Uint8Array(size));
          hash.update(chunk);
          progress.produced++;
          progress.producedBytes += size;
          yield chunk;
        }
        progress.finished = true;
      } finally {
        progress.closed = true;
      }
    })();
  };
  return { data, progress, digest: () => hash.copy().digest("hex") };
}

/** What a {@link stateSink} received. */
export interface SinkRecord {
  messages: Message[];
  chunks: number;
  bytes: number;
  /** Largest chunk handed over (bytes). */
  maxChunkBytes: number;
  /** Errors thrown while iterating the data. */
  errors: Error[];
  /** Calls that resolved. */
  staged: number;
  digest: () => string;
}

/**
 * An onSnapshot that consumes the data (hashing it, waiting `delayMs` after each chunk, calling
 * `onChunk`), then resolves, or rejects with `rejectWith` after reading `rejectAfterChunks` chunks
 * (0: before reading any).
 */
export function stateSink(
  opts: { delayMs?: number; onChunk?: (chunk: Uint8Array) => void; rejectAfterChunks?: number } = {},
) {
  const hash = createHash("sha256");
  const record: SinkRecord = {
    messages: [],
    chunks: 0,
    bytes: 0,
    maxChunkBytes: 0,
    errors: [],
    staged: 0,
    digest: () => hash.copy().digest("hex"),
  };
  const onSnapshot = async (message: Message, data: AsyncIterable<Uint8Array>): Promise<void> => {
    record.messages.push(message);
    try {
      if (opts.rejectAfterChunks === 0) throw new Error("no space left on device");
      for await (const chunk of data) {
        hash.update(chunk);
        record.chunks++;
        record.bytes += chunk.byteLength;
        record.maxChunkBytes = Math.max(record.maxChunkBytes, chunk.byteLength);
        opts.onChunk?.(chunk);
        if (opts.delayMs !== undefined) await sleep(opts.delayMs);
        if (record.chunks === opts.rejectAfterChunks) throw new Error("no space left on device");
      }
    } catch (err) {
      record.errors.push(err as Error);
      throw err;
    }
    record.staged++;
  };
  return { onSnapshot, record };
}
