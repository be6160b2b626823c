/**
 * Writes the key frames of an MVCC snapshot (snapshot.ts) straight from the key histories into
 * msgpack bytes, without building a list per entry for a general encoder to walk: a member
 * snapshotting 100,000 revisions spent most of that time there, on every member at once.
 *
 * The bytes are exactly those msgpackr writes for the same records (useRecords false): the smallest
 * integer form for a safe integer up to 2^32 - 1 and a float64 above, the smallest bin, str and
 * array headers (msgpack spec, "Formats"). test/unit/mvcc/snapshot-writer.test.ts compares the two.
 */
import { FRAME_HEADER_BYTES } from "../util/framing.ts";
import type { HistoryEntry, KeyHistory } from "./key-history.ts";

/** Part of one key's history that goes into a frame: entries [from, to). */
export interface HistorySlice {
  history: KeyHistory;
  from: number;
  to: number;
}

const utf8 = new TextEncoder();

/** Encodes key frames; one writer per snapshot, its buffer reused from frame to frame. */
export class KeyFrameWriter {
  #buf: Buffer;
  #pos = 0;

  /** @param initialBytes starting buffer size (it grows as needed) */
  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /**
   * One length-prefixed frame whose payload is `[[key bin, [entry record, …]], …]` for `slices`
   * (EntryRecord in snapshot-records.ts: `[modRevision]` for a tombstone, else `[modRevision,
   * createRevision, version, value bin, lease, contentType str | nil]`).
   * @returns a new buffer owned by the caller
   */
  frame(slices: readonly HistorySlice[]): Uint8Array {
    this.#pos = FRAME_HEADER_BYTES;
    this.#arrayHeader(slices.length);
    for (const { history, from, to } of slices) {
      this.#ensure(1);
      this.#buf[this.#pos++] = 0x92;
      this.#bin(history.key);
      this.#arrayHeader(to - from);
      for (let i = from; i < to; i++) this.#entry(history.entries[i]!);
    }
    this.#buf.writeUInt32BE(this.#pos - FRAME_HEADER_BYTES, 0);
    return Uint8Array.prototype.slice.call(this.#buf, 0, this.#pos);
  }

  #entry(e: HistoryEntry): void {
    this.#ensure(1);
    if (e.tombstone) {
      this.#buf[this.#pos++] = 0x91;
      this.#uint(e.modRevision);
      return;
    }
    this.#buf[this.#pos++] = 0x96;
    this.#uint(e.modRevision);
    this.#uint(e.createRevision);
    this.#uint(e.version);
    this.#bin(e.value);
    this.#uint(e.lease);
    if (e.contentType === undefined) {
      this.#ensure(1);
      this.#buf[this.#pos++] = 0xc0;
    } else {
      this.#str(e.contentType);
    }
  }

  /** A non-negative safe integer (revisions, versions, lease ids). */
  #uint(v: number): void {
    this.#ensure(9);
    const b = this.#buf;
    if (v < 0x80) {
      b[this.#pos++] = v;
    } else if (v < 0x100) {
      b[this.#pos++] = 0xcc;
      b[this.#pos++] = v;
    } else if (v < 0x10000) {
      b[this.#pos++] = 0xcd;
      b.writeUInt16BE(v, this.#pos);
      this.#pos += 2;
    } else if (v <= 0xffffffff) {
      b[this.#pos++] = 0xce;
      b.writeUInt32BE(v, this.#pos);
      this.#pos += 4;
    } else {
      b[this.#pos++] = 0xcb;
      b.writeDoubleBE(v, this.#pos);
      this.#pos += 8;
    }
  }

  #bin(bytes: Uint8Array): void {
    this.#header(bytes.length, -1, 0, 0xc4, 0xc5, 0xc6);
    this.#raw(bytes);
  }

  #str(s: string): void {
    const bytes = utf8.encode(s);
    this.#header(bytes.length, 0xa0, 0x20, 0xd9, 0xda, 0xdb);
    this.#raw(bytes);
  }

  #arrayHeader(n: number): void {
    this.#header(n, 0x90, 0x10, -1, 0xdc, 0xdd);
  }

  /**
   * The smallest header for a length `n`: the fix form `fixBase | n` when n < fixLimit, else the
   * 8-, 16- or 32-bit form (a code of -1: the format has no such form).
   */
  #header(n: number, fixBase: number, fixLimit: number, code8: number, code16: number, code32: number): void {
    this.#ensure(5);
    const b = this.#buf;
    if (n < fixLimit) {
      b[this.#pos++] = fixBase | n;
    } else if (n < 0x100 && code8 >= 0) {
      b[this.#pos++] = code8;
      b[this.#pos++] = n;
    } else if (n < 0x10000) {
      b[this.#pos++] = code16;
      b.writeUInt16BE(n, this.#pos);
      this.#pos += 2;
    } else {
      b[this.#pos++] = code32;
      b.writeUInt32BE(n, this.#pos);
      this.#pos += 4;
    }
  }

  #raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + bytes));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}
