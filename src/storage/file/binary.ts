/**
 * Little-endian binary writing and bounds-checked reading for the WAL and snapshot codecs.
 * Integers that are Raft terms and indexes are stored as u64 (two u32 halves) and must be safe
 * JS integers (< 2^53).
 */
import { assert } from "../../util/assert.ts";

/** Thrown by {@link Reader} on malformed bytes; codecs turn it into StorageCorruptError. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

const TWO_32 = 2 ** 32;

/**
 * Writes the non-negative safe integer `v` as a u64 at `offset` of `buf` (for encoders that write
 * at known offsets without a {@link Writer}).
 * @returns the offset after it
 * @throws AssertionError when `v` is not a non-negative safe integer
 */
export function putU64(buf: Buffer, offset: number, v: number): number {
  assert(Number.isSafeInteger(v) && v >= 0, "u64 field must be a non-negative safe integer, got %s", v);
  buf.writeUInt32LE(v % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(v / TWO_32), offset + 4);
  return offset + 8;
}

/** Sequential writer into a pre-sized Buffer. */
export class Writer {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }
  u8(v: number): void {
    this.buf.writeUInt8(v, this.offset);
    this.offset += 1;
  }
  u16(v: number): void {
    this.buf.writeUInt16LE(v, this.offset);
    this.offset += 2;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v >>> 0, this.offset);
    this.offset += 4;
  }
  /** A non-negative safe integer as u64. @throws AssertionError otherwise */
  u64(v: number): void {
    this.offset = putU64(this.buf, this.offset, v);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.offset);
    this.offset += b.length;
  }
}

/** Sequential reader over a byte range; every read checks bounds. @throws DecodeError */
export class Reader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
  ) {
    this.offset = offset;
  }
  get remaining(): number {
    return this.end - this.offset;
  }
  #need(n: number): void {
    if (this.offset + n > this.end) {
      throw new DecodeError(`need ${n} bytes at offset ${this.offset}, only ${this.end - this.offset} left`);
    }
  }
  u8(): number {
    this.#need(1);
    return this.buf.readUInt8(this.offset++);
  }
  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const lo = this.buf.readUInt32LE(this.offset);
    const hi = this.buf.readUInt32LE(this.offset + 4);
    this.offset += 8;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) throw new DecodeError(`u64 ${hi}:${lo} is not a safe integer`);
    return v;
  }
  /** `n` bytes as a view into the underlying buffer (no copy). */
  bytes(n: number): Buffer {
    this.#need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  /** A u16-length-prefixed UTF-8 string. */
  str16(): string {
    return this.bytes(this.u16()).toString("utf8");
  }
}

/** Bytes of a u16-length-prefixed UTF-8 string. @throws AssertionError when over 65535 bytes */
export function str16Bytes(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  assert(b.length <= 0xffff, "string of %s bytes does not fit a u16 length", b.length);
  return b;
}

/**
 * UTF-8 length of `s`, for writing it with {@link putStr16} without encoding it twice.
 * @throws AssertionError when over 65535 bytes
 */
export function str16Length(s: string): number {
  const n = Buffer.byteLength(s, "utf8");
  assert(n <= 0xffff, "string of %s bytes does not fit a u16 length", n);
  return n;
}

/**
 * Writes `s` as a u16-length-prefixed UTF-8 string at `offset` of `buf`; `length` is its
 * {@link str16Length}, and `buf` must have room for 2 + `length` bytes there.
 * @returns the offset after it
 */
export function putStr16(buf: Buffer, offset: number, s: string, length: number): number {
  buf.writeUInt16LE(length, offset);
  const written = buf.write(s, offset + 2, length, "utf8");
  assert(written === length, "string encoded to %s bytes, expected %s", written, length);
  return offset + 2 + length;
}
