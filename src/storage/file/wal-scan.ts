/**
 * Reading a WAL segment's bytes into records, stopping at the first damaged record, and telling a
 * torn tail (damage with nothing valid after it) from corruption before the tail.
 */
import { StorageCorruptError } from "../types.ts";
import { DecodeError } from "./binary.ts";
import { checkFrame, decodePayload, RECORD_HEADER_BYTES, type WalRecord } from "./wal-record.ts";

/** The first damaged record of a segment. */
export interface SegmentDamage {
  /** Byte offset where the damaged record starts (everything before is valid). */
  offset: number;
  /** What is wrong, e.g. "payload checksum mismatch". */
  reason: string;
  /** Offset from which a valid record would prove the damage is not at the tail. */
  probeFrom: number;
}

/** Records of one segment up to its first damaged record. */
export interface SegmentScan {
  records: WalRecord[];
  /** Offset just after the last valid record. */
  validEnd: number;
  damage: SegmentDamage | null;
}

/**
 * Reads the records of `buf` (the whole segment file `file`) in order until the end, the first
 * record failing its framing or checksums, or the zero bytes of preallocated space after the last
 * record (a clean end: every record starts with a non-zero length).
 * @throws StorageCorruptError when a checksummed record does not decode (a bug or a foreign file, never a torn write)
 */
export function scanSegment(buf: Buffer, file: string): SegmentScan {
  const records: WalRecord[] = [];
  const dataEnd = endOfData(buf);
  let offset = 0;
  while (offset < dataEnd) {
    const f = checkFrame(buf, offset);
    if (!f.ok) {
      const probeFrom =
        f.reason === "incomplete payload"
          ? buf.length
          : f.reason === "payload checksum mismatch"
            ? f.end
            : offset + 1;
      return { records, validEnd: offset, damage: { offset, reason: f.reason, probeFrom } };
    }
    try {
      records.push(decodePayload(buf, f.payloadStart, f.end));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      throw new StorageCorruptError(
        `WAL segment ${file}: record at offset ${offset} passes its checksum but does not decode (${err.message})`,
      );
    }
    offset = f.end;
  }
  return { records, validEnd: offset, damage: null };
}

/**
 * Offset of the first whole, checksummed, decodable record starting at or after `from`, or -1.
 * Used after a damaged record: any valid record after it means the damage is not a torn tail.
 */
export function findValidRecordFrom(buf: Buffer, from: number): number {
  // A record starts with its non-zero length: none starts in the zeros at the end.
  const dataEnd = endOfData(buf);
  for (let p = from; p < dataEnd && p + RECORD_HEADER_BYTES <= buf.length; p++) {
    const f = checkFrame(buf, p);
    if (!f.ok) continue;
    try {
      decodePayload(buf, f.payloadStart, f.end);
      return p;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
  }
  return -1;
}

/** Offset just after the last non-zero byte of `buf` (0 when all zero): where preallocated zeros begin. */
export function endOfData(buf: Buffer): number {
  let end = buf.length;
  // Whole zero chunks first (a native compare), then byte by byte inside the last non-zero chunk.
  while (
    end >= ZERO_CHUNK.length &&
    buf.compare(ZERO_CHUNK, 0, ZERO_CHUNK.length, end - ZERO_CHUNK.length, end) === 0
  )
    end -= ZERO_CHUNK.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);
