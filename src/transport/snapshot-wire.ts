/**
 * Wire format of the body of a snapshot request (POST /cairn/raft/snapshot), and its incremental,
 * pull-based reader. Every frame is a 4-byte big-endian payload length then the payload
 * (framing.ts):
 *
 * ```
 * body          := messageFrame chunkFrame* endFrame <end of the request body>
 * messageFrame  := msgpack array of exactly one MsgSnap whose snapshot.data is empty (codec.ts),
 *                  payload ≤ MAX_SNAPSHOT_MESSAGE_BYTES
 * chunkFrame    := 0x01 | 1 … MAX_SNAPSHOT_CHUNK_BYTES bytes of state
 * endFrame      := 0x02 | u64 BE total bytes of state | u32 BE CRC-32 (IEEE, zlib) of the state
 * ```
 *
 * The state (`snapshot.data`) is the concatenation of the chunk frames' bytes, in order, at most
 * MAX_SNAPSHOT_DATA_BYTES. The end frame tells a complete body from one cut short (a sender that
 * died, a request that ended cleanly too early) or damaged: a body that ends without it, has bytes
 * after it, or whose count or CRC does not match is rejected, so the receiver never hands a partial
 * state to Raft. Neither side ever holds more than about one chunk (plus HTTP/2's flow-control
 * window) of the state.
 */
import type { Readable } from "node:stream";
import { type Message, MessageType } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { crc32 } from "../util/crc.ts";
import { FRAME_HEADER_BYTES, FrameDecoder, FrameTooLargeError } from "../util/framing.ts";
import { CodecError, decodeMessages } from "./codec.ts";
import { MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_MESSAGE_BYTES } from "./limits.ts";

/** First payload byte of a chunk frame. */
export const SNAPSHOT_CHUNK_KIND = 0x01;
/** First payload byte of the end frame. */
export const SNAPSHOT_END_KIND = 0x02;
/** Payload bytes of the end frame: kind, u64 total, u32 CRC. */
const END_PAYLOAD_BYTES = 1 + 8 + 4;
const TWO_POW_32 = 2 ** 32;

/** Why a snapshot request body was rejected; see {@link SnapshotStreamError.status}. */
export type SnapshotStreamFailure = "malformed" | "truncated" | "corrupt" | "too_large" | "aborted";

/** A snapshot request body that is not a complete, intact stream (thrown while reading it). */
export class SnapshotStreamError extends Error {
  override name = "SnapshotStreamError";
  constructor(
    readonly reason: SnapshotStreamFailure,
    message: string,
  ) {
    super(message);
  }

  /** HTTP status to answer the sender with: 413 too large, 0 (none: the request is gone) aborted, else 400. */
  get status(): number {
    if (this.reason === "too_large") return 413;
    if (this.reason === "aborted") return 0;
    return 400;
  }
}

/**
 * Returns the chunk frame carrying `data` (a new buffer: `data` is copied, so its owner may reuse it).
 * @throws AssertionError when `data` is empty or longer than MAX_SNAPSHOT_CHUNK_BYTES
 */
export function encodeSnapshotChunk(data: Uint8Array): Buffer {
  assert(data.byteLength > 0 && data.byteLength <= MAX_SNAPSHOT_CHUNK_BYTES, "snapshot chunk size");
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1 + data.byteLength);
  frame.writeUInt32BE(1 + data.byteLength, 0);
  frame[FRAME_HEADER_BYTES] = SNAPSHOT_CHUNK_KIND;
  frame.set(data, FRAME_HEADER_BYTES + 1);
  return frame;
}

/**
 * Returns the end frame of a state of `totalBytes` bytes whose CRC-32 is `crc`.
 * @throws AssertionError when totalBytes is not a safe non-negative integer or crc not a u32
 */
export function encodeSnapshotEnd(totalBytes: number, crc: number): Buffer {
  assert(Number.isSafeInteger(totalBytes) && totalBytes >= 0, "snapshot total bytes must be a count");
  assert(Number.isInteger(crc) && crc >= 0 && crc < TWO_POW_32, "snapshot crc must be a u32");
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + END_PAYLOAD_BYTES);
  frame.writeUInt32BE(END_PAYLOAD_BYTES, 0);
  frame[FRAME_HEADER_BYTES] = SNAPSHOT_END_KIND;
  frame.writeUInt32BE(Math.floor(totalBytes / TWO_POW_32), FRAME_HEADER_BYTES + 1);
  frame.writeUInt32BE(totalBytes % TWO_POW_32, FRAME_HEADER_BYTES + 5);
  frame.writeUInt32BE(crc, FRAME_HEADER_BYTES + 9);
  return frame;
}

/**
 * Reads one snapshot request body from `stream` as it arrives: {@link readMessage} first, then
 * {@link chunks}. Pull-based: `stream` is paused whenever nobody waits for a frame, so HTTP/2 flow
 * control stops the sender while the consumer is busy; at most one partial frame and the frames
 * completed by one received buffer are held.
 */
export class SnapshotBodyReader {
  private readonly puller: BufferPuller;
  private readonly decoder = new FrameDecoder(
    Math.max(MAX_SNAPSHOT_MESSAGE_BYTES, 1 + MAX_SNAPSHOT_CHUNK_BYTES),
  );
  private readonly frames: Buffer[] = [];
  private chunksTaken = false;
  private failed: SnapshotStreamError | null = null;
  private completed = false;

  /** @param maxDataBytes most bytes of state accepted; more makes {@link chunks} throw too_large */
  constructor(
    stream: Readable,
    private readonly maxDataBytes: number,
  ) {
    this.puller = new BufferPuller(stream);
  }

  /** The first error reading threw (or null): it decides the status of the answer. */
  get failure(): SnapshotStreamError | null {
    return this.failed;
  }

  /** True once the end frame was verified and the body ended right after it. */
  get complete(): boolean {
    return this.completed;
  }

  /** Makes the pending and every later read throw `err` (idle timeout, shutdown). */
  abort(err: SnapshotStreamError): void {
    this.puller.fail(err);
  }

  /**
   * Reads the message frame.
   * @returns the MsgSnap, with a snapshot whose data is empty
   * @throws SnapshotStreamError too_large when its frame is over MAX_SNAPSHOT_MESSAGE_BYTES, malformed
   *   when it is not exactly one such MsgSnap, truncated when the body ends first, aborted when the
   *   request is reset
   */
  async readMessage(): Promise<Message> {
    try {
      return await this.readMessageFrame();
    } catch (err) {
      return this.record(err);
    }
  }

  /**
   * The state, chunk by chunk (each 1 … MAX_SNAPSHOT_CHUNK_BYTES bytes, a view the consumer may
   * keep). Call once, after {@link readMessage}. Ends normally only after the end frame matched and
   * the body ended.
   * @throws SnapshotStreamError truncated (no end frame), corrupt (count or CRC mismatch), too_large
   *   (more than maxDataBytes), malformed (bad frame kind or size, bytes after the end), aborted
   *   (request reset, idle timeout, shutdown)
   */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    assert(!this.chunksTaken, "snapshot chunks iterated twice");
    this.chunksTaken = true;
    try {
      yield* this.readChunks();
    } catch (err) {
      this.record(err);
    }
  }

  private async readMessageFrame(): Promise<Message> {
    const frame = await this.nextFrame();
    if (frame === null) throw new SnapshotStreamError("truncated", "snapshot request without a message");
    if (frame.byteLength > MAX_SNAPSHOT_MESSAGE_BYTES) {
      throw new SnapshotStreamError(
        "too_large",
        `snapshot message of ${frame.byteLength} bytes exceeds the limit of ${MAX_SNAPSHOT_MESSAGE_BYTES} bytes`,
      );
    }
    let messages: Message[];
    try {
      messages = decodeMessages(frame);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      throw new SnapshotStreamError("malformed", err.message);
    }
    const message = messages[0];
    if (messages.length !== 1 || message?.type !== MessageType.Snap || message.snapshot === undefined) {
      throw new SnapshotStreamError(
        "malformed",
        "a snapshot request holds exactly one MsgSnap with a snapshot",
      );
    }
    if (message.snapshot.data.byteLength !== 0) {
      throw new SnapshotStreamError(
        "malformed",
        "the MsgSnap of a snapshot request carries its data in chunks",
      );
    }
    return message;
  }

  private async *readChunks(): AsyncGenerator<Uint8Array, void, undefined> {
    let totalBytes = 0;
    let crc = 0;
    for (;;) {
      const frame = await this.nextFrame();
      if (frame === null || frame[0] === SNAPSHOT_END_KIND) {
        await this.checkEnd(frame, totalBytes, crc);
        this.completed = true;
        return;
      }
      if (frame[0] !== SNAPSHOT_CHUNK_KIND) {
        throw new SnapshotStreamError("malformed", `unknown snapshot frame kind ${frame[0]}`);
      }
      const data = new Uint8Array(frame.buffer, frame.byteOffset + 1, frame.byteLength - 1);
      if (data.byteLength === 0 || data.byteLength > MAX_SNAPSHOT_CHUNK_BYTES) {
        throw new SnapshotStreamError("malformed", `snapshot chunk of ${data.byteLength} bytes`);
      }
      totalBytes += data.byteLength;
      if (totalBytes > this.maxDataBytes) {
        throw new SnapshotStreamError(
          "too_large",
          `snapshot data exceeds the limit of ${this.maxDataBytes} bytes`,
        );
      }
      crc = crc32(data, crc);
      yield data;
    }
  }

  /** Checks the end frame (null: the body ended without one) and that the body ends right after it. */
  private async checkEnd(frame: Buffer | null, totalBytes: number, crc: number): Promise<void> {
    if (frame === null) {
      throw new SnapshotStreamError(
        "truncated",
        `snapshot request ended after ${totalBytes} bytes of data without an end frame`,
      );
    }
    if (frame.byteLength !== END_PAYLOAD_BYTES) {
      throw new SnapshotStreamError("malformed", `snapshot end frame of ${frame.byteLength} bytes`);
    }
    const announced = frame.readUInt32BE(1) * TWO_POW_32 + frame.readUInt32BE(5);
    const announcedCrc = frame.readUInt32BE(9);
    if (announced !== totalBytes || announcedCrc !== crc) {
      throw new SnapshotStreamError(
        "corrupt",
        `snapshot data mismatch: received ${totalBytes} bytes with CRC ${crc}, the sender announced ${announced} bytes with CRC ${announcedCrc}`,
      );
    }
    if ((await this.nextFrame()) !== null) {
      throw new SnapshotStreamError("malformed", "bytes after the end frame of a snapshot request");
    }
  }

  /** Remembers the first SnapshotStreamError (it decides the answer's status) and rethrows `err`. */
  private record(err: unknown): never {
    if (err instanceof SnapshotStreamError) this.failed ??= err;
    throw err;
  }

  /** The next complete frame's payload, or null when the body ended on a frame boundary. */
  private async nextFrame(): Promise<Buffer | null> {
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      const buf = await this.puller.next();
      if (buf === null) {
        if (this.decoder.pendingBytes > 0) {
          throw new SnapshotStreamError("truncated", "snapshot request ended inside a frame");
        }
        return null;
      }
      try {
        this.decoder.push(buf, (f) => this.frames.push(f));
      } catch (err) {
        if (!(err instanceof FrameTooLargeError)) throw err;
        // The frames completed before the bad header are still handed over first.
        this.puller.fail(new SnapshotStreamError("too_large", err.message));
      }
    }
  }
}

/**
 * The buffers of a Readable, one per {@link next} call. The stream stays paused except while a
 * caller waits, so unread data is held back by the stream's own flow control.
 */
class BufferPuller {
  private readonly buffered: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly stream: Readable) {
    stream.pause(); // before the 'data' listener, which would otherwise start the flow
    stream.on("data", (buf: Buffer) => {
      this.buffered.push(buf);
      stream.pause();
      this.notify();
    });
    stream.once("end", () => {
      this.ended = true;
      this.notify();
    });
    stream.once("close", () => {
      if (!this.ended) this.fail(new SnapshotStreamError("aborted", "snapshot request reset by the sender"));
    });
    stream.on("error", (err) => this.fail(new SnapshotStreamError("aborted", err.message)));
  }

  /** Makes every later {@link next} throw `err` (the first failure wins); buffers held are dropped. */
  fail(err: Error): void {
    this.failure ??= err;
    this.buffered.length = 0;
    this.notify();
  }

  /** The next buffer, or null at the end of the body. @throws the failure, if any */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const buf = this.buffered.shift();
      if (buf !== undefined) return buf;
      if (this.ended) return null;
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.stream.resume();
      await woken;
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
