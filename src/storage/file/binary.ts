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
    assert(Number.isSafeInteger(v) && v >= 0, "u64 field must be a non-negative safe integer, got %s", v);
    this.buf.writeUInt32LE(v % TWO_32, this.offset);
    this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.offset + 4);
    this.offset += 8;
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
