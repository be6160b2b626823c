/**
 * KeyFrameWriter (src/mvcc/snapshot-writer.ts) writes exactly the bytes msgpackr writes for the
 * same key records, for every integer, bin, str and array header size the format can meet, so
 * snapshots keep their layout and any msgpack reader decodes them.
 */
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { type HistoryEntry, KeyHistory, tombstoneEntry } from "../../../src/mvcc/key-history.ts";
import { entryRecord } from "../../../src/mvcc/snapshot-records.ts";
import { type HistorySlice, KeyFrameWriter } from "../../../src/mvcc/snapshot-writer.ts";
import { encodeFrame } from "../../../src/util/framing.ts";
import { seededRandom } from "../../../src/util/random.ts";

const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

/** The frame snapshot.ts built with msgpackr before KeyFrameWriter. */
function msgpackrFrame(slices: HistorySlice[]): Uint8Array {
  return encodeFrame(
    packr.pack(slices.map((s) => [s.history.key, s.history.entries.slice(s.from, s.to).map(entryRecord)])),
  );
}

const INTS = [
  0,
  1,
  31,
  32,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 40 + 7,
  Number.MAX_SAFE_INTEGER,
];
const LENGTHS = [0, 1, 31, 32, 255, 256, 65535, 65536, 70000];
const CONTENT_TYPES = [
  undefined,
  "",
  "text/plain",
  "application/json; charset=utf-8",
  "é".repeat(20),
  "x".repeat(300),
  "y".repeat(70000),
];

function put(random: () => number, modRevision: number): HistoryEntry {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  return {
    modRevision,
    createRevision: Math.max(1, Math.min(modRevision, pick(INTS))),
    version: Math.max(1, pick(INTS)),
    value: new Uint8Array(pick(LENGTHS)).fill(Math.floor(random() * 256)),
    lease: pick(INTS),
    contentType: pick(CONTENT_TYPES),
    tombstone: false,
  };
}

describe("KeyFrameWriter", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`writes msgpackr's bytes for random histories (seed ${seed})`, () => {
      const random = seededRandom(seed);
      const writer = new KeyFrameWriter(16);
      const slices: HistorySlice[] = [];
      for (let k = 0; k < 40; k++) {
        const h = new KeyHistory(
          new TextEncoder().encode(`key-${k}-${"k".repeat(Math.floor(random() * 300))}`),
        );
        let rev = 1 + Math.floor(random() * 2 ** 34);
        const n = 1 + Math.floor(random() * 20);
        for (let i = 0; i < n; i++) {
          rev += 1 + Math.floor(random() * 1000);
          h.entries.push(random() < 0.2 && i > 0 ? tombstoneEntry(rev) : put(random, rev));
        }
        const from = Math.floor(random() * n);
        slices.push({ history: h, from, to: from + 1 + Math.floor(random() * (n - from)) });
      }
      // Frames of 1, 15, 16 (array16 header) and all slices.
      for (const count of [1, 15, 16, slices.length]) {
        const part = slices.slice(0, count);
        expect(Buffer.from(writer.frame(part)).equals(Buffer.from(msgpackrFrame(part)))).toBe(true);
      }
    });
  }

  it("writes array32 headers for a history slice of 65,536 entries or more", () => {
    const h = new KeyHistory(new Uint8Array([1]));
    for (let i = 1; i <= 70_000; i++) h.entries.push(tombstoneEntry(i));
    const slices = [{ history: h, from: 0, to: h.entries.length }];
    expect(Buffer.from(new KeyFrameWriter().frame(slices)).equals(Buffer.from(msgpackrFrame(slices)))).toBe(
      true,
    );
  });

  it("hands out a new buffer per frame (the writer's own buffer is reused)", () => {
    const h = new KeyHistory(new Uint8Array([7]));
    h.entries.push(tombstoneEntry(3));
    const writer = new KeyFrameWriter();
    const a = writer.frame([{ history: h, from: 0, to: 1 }]);
    const copy = Buffer.from(a);
    writer.frame([{ history: new KeyHistory(new Uint8Array([9, 9, 9])), from: 0, to: 0 }]);
    expect(Buffer.from(a).equals(copy)).toBe(true);
  });
});
