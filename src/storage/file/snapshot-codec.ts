/**
 * Snapshot file format (little-endian):
 *
 * ```
 * header (24 bytes): "CAIRNSNP" | u32 version = 1 | u32 crc32(body) | u64 bodyLength
 * body:              u64 term | u64 index
 *                    | u32 voterCount | voters (u16 length + UTF-8 each)
 *                    | u32 learnerCount | learners (u16 length + UTF-8 each)
 *                    | data (rest of the body)
 * ```
 *
 * The checksum and length cover the whole body, so a torn or damaged file never verifies. The
 * header comes first but is written last (snapshot-dir.ts streams the data, then fills it in), and
 * the metadata is small (at most MAX_SNAPSHOT_METADATA_BYTES), so neither writing nor verifying a
 * file ever holds its data whole.
 */
import type { SnapshotMetadata } from "../../raft/types.ts";
import { assert } from "../../util/assert.ts";
import { DecodeError, Reader, str16Bytes, Writer } from "./binary.ts";

const MAGIC = Buffer.from("CAIRNSNP", "ascii");
const VERSION = 1;
/** Bytes of the header before the body. */
export const SNAPSHOT_HEADER_BYTES = 24;
/** Largest metadata section (term, index, member ids) in bytes: thousands of members fit. */
export const MAX_SNAPSHOT_METADATA_BYTES = 64 * 1024;

/** The fields of a snapshot file's header. */
export interface SnapshotHeader {
  /** CRC-32 of the body (metadata then data). */
  crc: number;
  /** Bytes after the header. */
  bodyLength: number;
}

/**
 * The metadata section of a snapshot file.
 * @throws AssertionError when a term or index is not a safe u64, a member id is over 65535 bytes, or
 *   the section would exceed MAX_SNAPSHOT_METADATA_BYTES
 */
export function encodeSnapshotMetadata(metadata: SnapshotMetadata): Buffer {
  const voters = metadata.confState.voters.map(str16Bytes);
  const learners = metadata.confState.learners.map(str16Bytes);
  let bytes = 8 + 8 + 4 + 4;
  for (const b of [...voters, ...learners]) bytes += 2 + b.length;
  assert(bytes <= MAX_SNAPSHOT_METADATA_BYTES, "snapshot metadata of %s bytes is too large", bytes);
  const out = Buffer.alloc(bytes);
  const w = new Writer(out);
  w.u64(metadata.term);
  w.u64(metadata.index);
  for (const list of [voters, learners]) {
    w.u32(list.length);
    for (const b of list) {
      w.u16(b.length);
      w.bytes(b);
    }
  }
  return out;
}

/** The 24-byte header for a body of `bodyLength` bytes with checksum `crc`. */
export function encodeSnapshotHeader(header: SnapshotHeader): Buffer {
  const out = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  const w = new Writer(out);
  w.bytes(MAGIC);
  w.u32(VERSION);
  w.u32(header.crc);
  w.u64(header.bodyLength);
  return out;
}

/**
 * Parses the 24-byte header.
 * @throws DecodeError on a short buffer, a bad magic or an unknown version
 */
export function decodeSnapshotHeader(buf: Buffer): SnapshotHeader {
  if (buf.length < SNAPSHOT_HEADER_BYTES)
    throw new DecodeError(`file of ${buf.length} bytes is shorter than the header`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw new DecodeError("bad magic");
  const r = new Reader(buf, 8);
  const version = r.u32();
  if (version !== VERSION) throw new DecodeError(`unknown version ${version}`);
  const crc = r.u32();
  const bodyLength = r.u64();
  return { crc, bodyLength };
}

/**
 * Parses the metadata section at the start of `body` (which may hold more bytes after it).
 * @returns the metadata and the section's length in bytes (where the data starts in the body)
 * @throws DecodeError on malformed metadata
 */
export function decodeSnapshotMetadata(body: Buffer): { metadata: SnapshotMetadata; bytes: number } {
  const r = new Reader(body);
  const term = r.u64();
  const index = r.u64();
  const lists: string[][] = [];
  for (let k = 0; k < 2; k++) {
    const n = r.u32();
    if (n > r.remaining / 2) throw new DecodeError(`member count ${n} exceeds the file`);
    const list: string[] = [];
    for (let i = 0; i < n; i++) list.push(r.str16());
    lists.push(list);
  }
  return {
    metadata: { term, index, confState: { voters: lists[0]!, learners: lists[1]! } },
    bytes: r.offset,
  };
}
