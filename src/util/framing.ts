/**
 * Length-prefixed framing of a byte stream: each frame is a 4-byte big-endian unsigned length
 * followed by that many payload bytes. {@link FrameDecoder} reassembles frames incrementally from
 * arbitrary chunks (a frame split across chunks, many frames in one chunk).
 */
import { assert } from "../util/assert.ts";

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Largest payload the 4-byte prefix can describe. */
const MAX_ENCODABLE_PAYLOAD_BYTES = 0xffff_ffff;

/** A frame whose announced length exceeds the decoder's limit. */
export class FrameTooLargeError extends Error {
  override name = "FrameTooLargeError";
  constructor(
    readonly frameBytes: number,
    readonly maxFrameBytes: number,
  ) {
    super(`frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes} bytes`);
  }
}

/**
 * Returns `payload` prefixed by its length (a new buffer; `payload` is copied).
 * @throws AssertionError when the payload is larger than 2^32-1 bytes
 */
export function encodeFrame(payload: Uint8Array): Buffer {
  assert(payload.byteLength <= MAX_ENCODABLE_PAYLOAD_BYTES, "frame payload exceeds 4 GiB");
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Incremental frame decoder. Holds at most one partial frame (≤ maxFrameBytes + 4 bytes) between
 * calls. After it has thrown, it must not be used again.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Payload length of the frame being assembled, or -1 while its header is incomplete. */
  private payloadBytes = -1;

  /** @param maxFrameBytes largest payload accepted, in bytes */
  constructor(readonly maxFrameBytes: number) {
    assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes >= 0, "maxFrameBytes must be a count");
  }

  /** Bytes received but not yet returned as a complete frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /**
   * Adds a chunk and calls `onFrame` with the payload of each frame it completes, in order. A frame
   * before a bad header in the same chunk is still handed over first.
   * @throws FrameTooLargeError as soon as a header announces a payload over maxFrameBytes; whatever
   *   `onFrame` throws (the remaining frames of the chunk are then not handed over)
   */
  push(chunk: Uint8Array, onFrame: (payload: Buffer) => void): void {
    if (chunk.byteLength > 0) {
      this.chunks.push(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
      this.bufferedBytes += chunk.byteLength;
    }
    for (;;) {
      if (this.payloadBytes < 0) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
        this.payloadBytes = length;
      }
      if (this.bufferedBytes < this.payloadBytes) break;
      const payload = this.take(this.payloadBytes);
      this.payloadBytes = -1;
      onFrame(payload);
    }
  }

  /** Removes and returns the first `n` buffered bytes (copied only when they span chunks). */
  private take(n: number): Buffer {
    assert(n <= this.bufferedBytes, "take beyond buffered bytes");
    this.bufferedBytes -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0];
      assert(head !== undefined, "frame decoder ran out of chunks");
      const used = Math.min(head.byteLength, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.byteLength) this.chunks.shift();
      else this.chunks[0] = head.subarray(used);
    }
    return out;
  }
}
