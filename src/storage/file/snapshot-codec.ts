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
 * The checksum and length cover the whole body, so a torn or damaged file never decodes.
 */
import type { Snapshot } from "../../raft/types.ts";
import { DecodeError, Reader, str16Bytes, Writer } from "./binary.ts";
import { crc32 } from "./crc.ts";

const MAGIC = Buffer.from("CAIRNSNP", "ascii");
const VERSION = 1;
/** Bytes of the header before the body. */
export const SNAPSHOT_HEADER_BYTES = 24;

/**
 * Encodes `snapshot` as [head, data]: the head holds the header and metadata, `data` is the
 * snapshot's own bytes (not copied), so the two can be written one after the other.
 * @throws AssertionError when a term or index is not a safe u64 or a member id is over 65535 bytes
 */
export function encodeSnapshot(snapshot: Snapshot): [Buffer, Uint8Array] {
  const { term, index, confState } = snapshot.metadata;
  const voters = confState.voters.map(str16Bytes);
  const learners = confState.learners.map(str16Bytes);
  let metaBytes = 8 + 8 + 4 + 4;
  for (const b of [...voters, ...learners]) metaBytes += 2 + b.length;
  const head = Buffer.alloc(SNAPSHOT_HEADER_BYTES + metaBytes);
  const w = new Writer(head);
  w.bytes(MAGIC);
  w.u32(VERSION);
  w.u32(0); // crc, filled below
  w.u64(metaBytes + snapshot.data.length);
  w.u64(term);
  w.u64(index);
  for (const list of [voters, learners]) {
    w.u32(list.length);
    for (const b of list) {
      w.u16(b.length);
      w.bytes(b);
    }
  }
  const crc = crc32(snapshot.data, crc32(head.subarray(SNAPSHOT_HEADER_BYTES)));
  head.writeUInt32LE(crc, 12);
  return [head, snapshot.data];
}

/**
 * Decodes and verifies a snapshot file's bytes. `data` of the result is a plain Uint8Array view into `buf`.
 * @throws DecodeError on a bad magic, version, length or checksum, or malformed metadata
 */
export function decodeSnapshot(buf: Buffer): Snapshot {
  if (buf.length < SNAPSHOT_HEADER_BYTES)
    throw new DecodeError(`file of ${buf.length} bytes is shorter than the header`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw new DecodeError("bad magic");
  const r = new Reader(buf, 8);
  const version = r.u32();
  if (version !== VERSION) throw new DecodeError(`unknown version ${version}`);
  const crc = r.u32();
  const bodyLength = r.u64();
  if (bodyLength !== buf.length - SNAPSHOT_HEADER_BYTES) {
    throw new DecodeError(
      `body length ${bodyLength} but ${buf.length - SNAPSHOT_HEADER_BYTES} bytes follow the header`,
    );
  }
  if (crc32(buf.subarray(SNAPSHOT_HEADER_BYTES)) !== crc) throw new DecodeError("checksum mismatch");
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
  const data = r.bytes(r.remaining);
  return {
    metadata: { term, index, confState: { voters: lists[0]!, learners: lists[1]! } },
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}
