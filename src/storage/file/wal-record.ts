/**
 * WAL record format. Every record is framed as
 *
 * ```
 * u32 payloadLength | u32 crc32(payload) | u32 crc32(first 8 header bytes) | payload
 * ```
 *
 * (little-endian). The header's own checksum tells a torn payload (header valid, bytes missing)
 * from a damaged header, so a damaged length can never pass for a torn tail. Payloads start with
 * a kind byte:
 *
 * - 1 hard state: u64 term | u64 commit | u16 voteLength | vote (UTF-8)
 * - 2 entry:      u8 type | u64 term | u64 index | data (rest of the payload)
 * - 3 log reset:  u64 term | u64 index — a snapshot at (term, index) discarded the log before
 *                 this record (Raft §7); replay drops every entry read so far.
 */
import { type Entry, EntryType, type HardState } from "../../raft/types.ts";
import { assert } from "../../util/assert.ts";
import { crc32, crc32Bytes } from "../../util/crc.ts";
import { DecodeError, putStr16, putU64, Reader, str16Length } from "./binary.ts";

/** Bytes of a record header. */
export const RECORD_HEADER_BYTES = 12;

/** Largest payload of one record (a single entry): 256 MiB, far above --max-request-bytes. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;

const KIND_HARD_STATE = 1;
const KIND_ENTRY = 2;
const KIND_LOG_RESET = 3;

/** One decoded WAL record. Entry data is a view into the segment's buffer. */
export type WalRecord =
  | { kind: "hardState"; hardState: HardState }
  | { kind: "entry"; entry: Entry }
  | { kind: "logReset"; term: number; index: number };

/**
 * Payloads up to this many bytes get their CRC computed in JS (crc32Bytes): for a hard state of a
 * few dozen bytes that takes about as long as the native crc32 of a Buffer view (~0.2 µs either
 * way), without allocating the view. Longer payloads use the native one, which is much faster.
 */
const JS_CRC_MAX_BYTES = 64;

/** Asserts the payload bound and returns the size of the framed record. */
function framed(payloadBytes: number): number {
  assert(
    payloadBytes <= MAX_RECORD_PAYLOAD_BYTES,
    "WAL record of %s bytes exceeds %s",
    payloadBytes,
    MAX_RECORD_PAYLOAD_BYTES,
  );
  return RECORD_HEADER_BYTES + payloadBytes;
}

/**
 * Writes the header of the record whose payload is at [start + RECORD_HEADER_BYTES, end) of `buf`.
 * @returns `end`
 */
function frame(buf: Buffer, start: number, end: number): number {
  const payloadStart = start + RECORD_HEADER_BYTES;
  const crc =
    end - payloadStart <= JS_CRC_MAX_BYTES
      ? crc32Bytes(buf, payloadStart, end)
      : crc32(buf.subarray(payloadStart, end));
  buf.writeUInt32LE(end - payloadStart, start);
  buf.writeUInt32LE(crc, start + 4);
  buf.writeUInt32LE(crc32Bytes(buf, start, start + 8), start + 8);
  return end;
}

/** Bytes of the framed record of `entry`. @throws AssertionError when its payload exceeds MAX_RECORD_PAYLOAD_BYTES */
export function entryRecordBytes(entry: Entry): number {
  return framed(1 + 1 + 8 + 8 + entry.data.length);
}

/**
 * Writes the framed record of `entry` (of {@link entryRecordBytes} bytes) at `offset` of `buf`.
 * @returns the offset after it
 * @throws AssertionError when its term or index is not a safe u64
 */
export function encodeEntryRecord(buf: Buffer, offset: number, entry: Entry): number {
  let at = offset + RECORD_HEADER_BYTES;
  at = buf.writeUInt8(KIND_ENTRY, at);
  at = buf.writeUInt8(entry.type, at);
  at = putU64(buf, at, entry.term);
  at = putU64(buf, at, entry.index);
  buf.set(entry.data, at);
  return frame(buf, offset, at + entry.data.length);
}

/**
 * Bytes of the framed record of `hardState`.
 * @throws AssertionError when its vote is over 65535 bytes in UTF-8
 */
export function hardStateRecordBytes(hardState: HardState): number {
  return framed(1 + 8 + 8 + 2 + str16Length(hardState.vote));
}

/**
 * Writes the framed record of `hardState` (of {@link hardStateRecordBytes} bytes) at `offset` of
 * `buf`.
 * @returns the offset after it
 * @throws AssertionError when its term or commit is not a safe u64
 */
export function encodeHardStateRecord(buf: Buffer, offset: number, hardState: HardState): number {
  let at = offset + RECORD_HEADER_BYTES;
  at = buf.writeUInt8(KIND_HARD_STATE, at);
  at = putU64(buf, at, hardState.term);
  at = putU64(buf, at, hardState.commit);
  at = putStr16(buf, at, hardState.vote, str16Length(hardState.vote));
  return frame(buf, offset, at);
}

/** Bytes of the framed record of a log reset. */
const LOG_RESET_RECORD_BYTES = RECORD_HEADER_BYTES + 1 + 8 + 8;

/** Bytes of the framed record `r`. @throws AssertionError as {@link entryRecordBytes} and {@link hardStateRecordBytes} */
export function recordBytes(r: WalRecord): number {
  switch (r.kind) {
    case "hardState":
      return hardStateRecordBytes(r.hardState);
    case "entry":
      return entryRecordBytes(r.entry);
    case "logReset":
      return LOG_RESET_RECORD_BYTES;
  }
}

/**
 * Writes the framed record `r` (of {@link recordBytes} bytes) at `offset` of `buf`.
 * @returns the offset after it
 * @throws AssertionError when a number is not a safe u64
 */
export function encodeRecord(buf: Buffer, offset: number, r: WalRecord): number {
  switch (r.kind) {
    case "hardState":
      return encodeHardStateRecord(buf, offset, r.hardState);
    case "entry":
      return encodeEntryRecord(buf, offset, r.entry);
    case "logReset": {
      let at = offset + RECORD_HEADER_BYTES;
      at = buf.writeUInt8(KIND_LOG_RESET, at);
      at = putU64(buf, at, r.term);
      at = putU64(buf, at, r.index);
      return frame(buf, offset, at);
    }
  }
}

/**
 * Encodes `records` into one buffer of framed records, ready for a single write.
 * @throws AssertionError when a payload exceeds MAX_RECORD_PAYLOAD_BYTES or a number is not a safe u64
 */
export function encodeRecords(records: readonly WalRecord[]): Buffer {
  const buf = Buffer.allocUnsafe(recordsBytes(records));
  encodeRecordsAt(buf, 0, records);
  return buf;
}

/** Framed bytes of `records` (the sum of {@link recordBytes}). */
export function recordsBytes(records: readonly WalRecord[]): number {
  let total = 0;
  for (const r of records) total += recordBytes(r);
  return total;
}

/**
 * Encodes `records` one after the other into `buf` from `offset`, which must have
 * {@link recordsBytes} of room. @returns the offset after the last one
 * @throws AssertionError when a record's encoding does not take {@link recordBytes}
 */
export function encodeRecordsAt(buf: Buffer, offset: number, records: readonly WalRecord[]): number {
  let at = offset;
  for (const r of records) {
    const start = at;
    at = encodeRecord(buf, at, r);
    assert(at - start === recordBytes(r), "WAL record size mismatch at offset %s", start);
  }
  return at;
}

/** Result of checking the frame of the record at some offset. */
export type FrameCheck =
  /** Fewer than RECORD_HEADER_BYTES bytes remain. */
  | { ok: false; reason: "incomplete header" }
  /** The header's checksum (or its length bound) fails: the length cannot be trusted. */
  | { ok: false; reason: "header checksum mismatch" }
  /** The header is valid but the payload runs past the end of the data. */
  | { ok: false; reason: "incomplete payload"; end: number }
  /** The header is valid, the payload is whole but fails its checksum. */
  | { ok: false; reason: "payload checksum mismatch"; end: number }
  /** A whole, checksummed record: payload is [payloadStart, end). */
  | { ok: true; payloadStart: number; end: number };

/** Checks the framing and checksums of the record starting at `offset` in `buf`. */
export function checkFrame(buf: Buffer, offset: number): FrameCheck {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { ok: false, reason: "incomplete header" };
  const length = buf.readUInt32LE(offset);
  const headerCrc = buf.readUInt32LE(offset + 8);
  if (crc32Bytes(buf, offset, offset + 8) !== headerCrc || length > MAX_RECORD_PAYLOAD_BYTES) {
    return { ok: false, reason: "header checksum mismatch" };
  }
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const end = payloadStart + length;
  if (end > buf.length) return { ok: false, reason: "incomplete payload", end };
  if (crc32(buf.subarray(payloadStart, end)) !== buf.readUInt32LE(offset + 4)) {
    return { ok: false, reason: "payload checksum mismatch", end };
  }
  return { ok: true, payloadStart, end };
}

/** Decodes a checksummed payload. Entry data is a view into `buf`. @throws DecodeError */
export function decodePayload(buf: Buffer, start: number, end: number): WalRecord {
  const r = new Reader(buf, start, end);
  const kind = r.u8();
  let rec: WalRecord;
  switch (kind) {
    case KIND_HARD_STATE: {
      const term = r.u64();
      const commit = r.u64();
      const vote = r.str16();
      rec = { kind: "hardState", hardState: { term, vote, commit } };
      break;
    }
    case KIND_ENTRY: {
      const type = r.u8();
      if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
        throw new DecodeError(`unknown entry type ${type}`);
      }
      const term = r.u64();
      const index = r.u64();
      if (index < 1) throw new DecodeError("entry index 0");
      rec = { kind: "entry", entry: { term, index, type, data: r.bytes(r.remaining) } };
      break;
    }
    case KIND_LOG_RESET: {
      const term = r.u64();
      const index = r.u64();
      rec = { kind: "logReset", term, index };
      break;
    }
    default:
      throw new DecodeError(`unknown record kind ${kind}`);
  }
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes in record payload`);
  return rec;
}
