/** WAL record framing and payload codec (src/storage/file/wal-record.ts). */
import { describe, expect, it } from "vitest";
import { EntryType } from "../../../src/raft/types.ts";
import { DecodeError } from "../../../src/storage/file/binary.ts";
import {
  checkFrame,
  decodePayload,
  encodeRecords,
  RECORD_HEADER_BYTES,
  type WalRecord,
} from "../../../src/storage/file/wal-record.ts";
import { AssertionError } from "../../../src/util/assert.ts";
import { crc32, crc32Bytes } from "../../../src/util/crc.ts";

const records: WalRecord[] = [
  { kind: "hardState", hardState: { term: 7, vote: "0123456789abcdef", commit: 2 ** 40 + 3 } },
  { kind: "entry", entry: { term: 2 ** 52, index: 1, type: EntryType.Normal, data: new Uint8Array(0) } },
  {
    kind: "entry",
    entry: {
      term: 3,
      index: Number.MAX_SAFE_INTEGER,
      type: EntryType.ConfChange,
      data: new Uint8Array([0, 255, 1]),
    },
  },
  { kind: "logReset", term: 9, index: 12345 },
  { kind: "hardState", hardState: { term: 0, vote: "", commit: 0 } },
];

function decodeAll(buf: Buffer): WalRecord[] {
  const out: WalRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const f = checkFrame(buf, offset);
    if (!f.ok) throw new Error(f.reason);
    out.push(decodePayload(buf, f.payloadStart, f.end));
    offset = f.end;
  }
  return out;
}

const plain = (rs: WalRecord[]) =>
  rs.map((r) => (r.kind === "entry" ? { ...r, entry: { ...r.entry, data: Array.from(r.entry.data) } } : r));

describe("WAL records", () => {
  it("round-trip every kind in one buffer, with u64 fields up to 2^53 - 1", () => {
    expect(plain(decodeAll(encodeRecords(records)))).toEqual(plain(records));
  });

  it("tell each kind of damage apart", () => {
    const one = encodeRecords([records[2]!]);
    expect(checkFrame(one.subarray(0, RECORD_HEADER_BYTES - 1), 0)).toMatchObject({
      ok: false,
      reason: "incomplete header",
    });
    expect(checkFrame(one.subarray(0, one.length - 1), 0)).toMatchObject({
      ok: false,
      reason: "incomplete payload",
    });
    const badLength = Buffer.from(one);
    badLength[0] = badLength[0]! ^ 1;
    expect(checkFrame(badLength, 0)).toMatchObject({ ok: false, reason: "header checksum mismatch" });
    const badPayload = Buffer.from(one);
    badPayload[one.length - 1] = badPayload[one.length - 1]! ^ 1;
    expect(checkFrame(badPayload, 0)).toMatchObject({
      ok: false,
      reason: "payload checksum mismatch",
      end: one.length,
    });
    expect(checkFrame(Buffer.alloc(RECORD_HEADER_BYTES), 0)).toMatchObject({
      ok: false,
      reason: "header checksum mismatch",
    });
  });

  it("refuse payloads that are not a known record", () => {
    const buf = Buffer.from([9, 0, 0]);
    expect(() => decodePayload(buf, 0, buf.length)).toThrow(DecodeError);
    const entry = encodeRecords([records[2]!]);
    entry[RECORD_HEADER_BYTES + 1] = 7; // entry type
    expect(() => decodePayload(entry, RECORD_HEADER_BYTES, entry.length)).toThrow(/unknown entry type/);
  });

  it("refuse to encode integers beyond 2^53 - 1", () => {
    const bad: WalRecord = { kind: "logReset", term: 1, index: 2 ** 53 };
    expect(() => encodeRecords([bad])).toThrow(AssertionError);
  });
});

describe("crc32Bytes", () => {
  it("equals zlib's CRC-32 on any range", () => {
    const buf = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff));
    for (const [start, end] of [
      [0, 0],
      [0, 8],
      [3, 11],
      [0, 300],
      [299, 300],
    ] as const) {
      expect(crc32Bytes(buf, start, end)).toBe(crc32(buf.subarray(start, end)));
    }
    expect(crc32Bytes(Buffer.from("123456789"), 0, 9)).toBe(0xcbf43926); // the CRC-32 check value
  });
});
