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
 * Reads the records of `buf` (the whole segment file `file`) in order until the end or the
 * first record failing its framing or checksums.
 * @throws StorageCorruptError when a checksummed record does not decode (a bug or a foreign file, never a torn write)
 */
export function scanSegment(buf: Buffer, file: string): SegmentScan {
  const records: WalRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
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
  for (let p = from; p + RECORD_HEADER_BYTES <= buf.length; p++) {
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
