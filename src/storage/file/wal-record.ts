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
import { DecodeError, Reader, str16Bytes, Writer } from "./binary.ts";

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

function payloadBytes(r: WalRecord, vote: Buffer | null): number {
  switch (r.kind) {
    case "hardState":
      return 1 + 8 + 8 + 2 + vote!.length;
    case "entry":
      return 1 + 1 + 8 + 8 + r.entry.data.length;
    case "logReset":
      return 1 + 8 + 8;
  }
}

/**
 * Encodes `records` into one buffer of framed records, ready for a single write.
 * @throws AssertionError when a payload exceeds MAX_RECORD_PAYLOAD_BYTES or a number is not a safe u64
 */
export function encodeRecords(records: readonly WalRecord[]): Buffer {
  const votes = records.map((r) => (r.kind === "hardState" ? str16Bytes(r.hardState.vote) : null));
  let total = 0;
  const sizes = records.map((r, i) => {
    const n = payloadBytes(r, votes[i]!);
    assert(n <= MAX_RECORD_PAYLOAD_BYTES, "WAL record of %s bytes exceeds %s", n, MAX_RECORD_PAYLOAD_BYTES);
    total += RECORD_HEADER_BYTES + n;
    return n;
  });
  const buf = Buffer.allocUnsafe(total);
  const w = new Writer(buf);
  records.forEach((r, i) => {
    const start = w.offset;
    const size = sizes[i]!;
    w.offset = start + RECORD_HEADER_BYTES;
    switch (r.kind) {
      case "hardState":
        w.u8(KIND_HARD_STATE);
        w.u64(r.hardState.term);
        w.u64(r.hardState.commit);
        w.u16(votes[i]!.length);
        w.bytes(votes[i]!);
        break;
      case "entry":
        w.u8(KIND_ENTRY);
        w.u8(r.entry.type);
        w.u64(r.entry.term);
        w.u64(r.entry.index);
        w.bytes(r.entry.data);
        break;
      case "logReset":
        w.u8(KIND_LOG_RESET);
        w.u64(r.term);
        w.u64(r.index);
        break;
    }
    assert(w.offset === start + RECORD_HEADER_BYTES + size, "WAL record size mismatch");
    buf.writeUInt32LE(size, start);
    buf.writeUInt32LE(crc32(buf.subarray(start + RECORD_HEADER_BYTES, w.offset)), start + 4);
    buf.writeUInt32LE(crc32(buf.subarray(start, start + 8)), start + 8);
  });
  return buf;
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
