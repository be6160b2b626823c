import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { EntryType, type Message, MessageType } from "../../../src/raft/types.ts";
import {
  CodecError,
  decodeMessages,
  encodeMessages,
  estimateEncodedBytes,
} from "../../../src/transport/codec.ts";
import { entry, ID_A, ID_B, message } from "./helpers.ts";

/** Asserts `decoded` equals `sent` and that every byte field is a plain Uint8Array (not a Buffer view). */
function expectSame(decoded: Message[], sent: Message[]): void {
  expect(decoded).toStrictEqual(sent);
  for (const m of decoded) {
    for (const e of m.entries) expect(Object.getPrototypeOf(e.data)).toBe(Uint8Array.prototype);
    if (m.context) expect(Object.getPrototypeOf(m.context)).toBe(Uint8Array.prototype);
    if (m.snapshot) expect(Object.getPrototypeOf(m.snapshot.data)).toBe(Uint8Array.prototype);
  }
}

describe("codec (msgpack batches of Raft messages)", () => {
  it("round-trips a MsgApp with entries of binary data, including empty data and a conf change", () => {
    const sent = [
      message({
        type: MessageType.App,
        from: ID_A,
        to: ID_B,
        term: 7,
        logTerm: 6,
        index: 41,
        commit: 40,
        entries: [
          entry(42, 256),
          { term: 7, index: 43, type: EntryType.Normal, data: new Uint8Array(0) },
          { term: 7, index: 44, type: EntryType.ConfChange, data: new Uint8Array([0, 255, 128, 1]) },
        ],
      }),
    ];
    expectSame(decodeMessages(encodeMessages(sent)), sent);
  });

  it("round-trips empty entries, reject hints, large terms and indexes", () => {
    const sent = [
      message({
        type: MessageType.AppResp,
        from: ID_B,
        to: ID_A,
        term: 2 ** 40 + 3,
        index: Number.MAX_SAFE_INTEGER,
        reject: true,
        rejectHint: 2 ** 33,
      }),
      message({ type: MessageType.Vote, from: ID_A, to: "", term: 1 }),
    ];
    expectSame(decodeMessages(encodeMessages(sent)), sent);
  });

  it("round-trips a snapshot with its configuration and data, and a context", () => {
    const data = new Uint8Array(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const sent = [
      message({
        type: MessageType.Snap,
        from: ID_A,
        to: ID_B,
        term: 3,
        snapshot: {
          metadata: { index: 900, term: 3, confState: { voters: [ID_A, ID_B], learners: [] } },
          data,
        },
      }),
      message({ type: MessageType.ReadIndex, from: ID_B, to: ID_A, context: new Uint8Array([9, 8, 7]) }),
      message({ type: MessageType.Heartbeat, from: ID_A, to: ID_B, context: new Uint8Array(0) }),
    ];
    expectSame(decodeMessages(encodeMessages(sent)), sent);
  });

  it("round-trips a commit-only MsgApp; a message without the flag decodes without it", () => {
    const sent = [
      message({
        type: MessageType.App,
        from: ID_A,
        to: ID_B,
        term: 3,
        index: 9,
        logTerm: 3,
        commit: 9,
        commitOnly: true,
      }),
      message({ type: MessageType.App, from: ID_A, to: ID_B, term: 3, index: 9, logTerm: 3, commit: 9 }),
    ];
    const decoded = decodeMessages(encodeMessages(sent));
    expectSame(decoded, sent);
    expect(decoded[0]!.commitOnly).toBe(true);
    expect("commitOnly" in decoded[1]!).toBe(false);
  });

  it("decoded byte fields do not share memory with the payload", () => {
    const sent = [message({ type: MessageType.App, from: ID_A, to: ID_B, entries: [entry(1, 16)] })];
    const payload = encodeMessages(sent);
    const decoded = decodeMessages(payload);
    payload.fill(0);
    expect(decoded[0]!.entries[0]!.data).toStrictEqual(entry(1, 16).data);
  });

  it("round-trips an empty batch", () => {
    expect(decodeMessages(encodeMessages([]))).toStrictEqual([]);
  });

  const packr = new Packr({ useRecords: false });
  const valid = () => ({ ...message({ from: ID_A, to: ID_B }) }) as Record<string, unknown>;
  it.each([
    ["not an array", { a: 1 }],
    ["unknown type", [{ ...valid(), type: "MsgNope" }]],
    ["negative term", [{ ...valid(), term: -1 }]],
    ["fractional index", [{ ...valid(), index: 1.5 }]],
    ["id not 16 hex digits", [{ ...valid(), from: "node-a" }]],
    ["missing entries", [{ ...valid(), entries: undefined }]],
    ["entry data not bytes", [{ ...valid(), entries: [{ term: 1, index: 1, type: 0, data: "x" }] }]],
    [
      "entry type unknown",
      [{ ...valid(), entries: [{ term: 1, index: 1, type: 9, data: new Uint8Array(1) }] }],
    ],
    ["reject not boolean", [{ ...valid(), reject: 0 }]],
    ["snapshot without metadata", [{ ...valid(), snapshot: { data: new Uint8Array(1) } }]],
    ["context not bytes", [{ ...valid(), context: [1, 2] }]],
    ["commitOnly not boolean", [{ ...valid(), commitOnly: 1 }]],
  ])("rejects a batch with %s", (_name, value) => {
    expect(() => decodeMessages(packr.pack(value))).toThrow(CodecError);
  });

  it("rejects bytes that are not msgpack", () => {
    expect(() => decodeMessages(new Uint8Array([0xc1]))).toThrow(CodecError);
  });

  it("refuses to encode a malformed message", () => {
    expect(() => encodeMessages([message({ from: ID_A, to: ID_B, term: -5 })])).toThrow(CodecError);
  });

  it("estimates never below the encoded size", () => {
    const samples = [
      message({ from: ID_A, to: ID_B, term: 2 ** 50, index: 2 ** 50, commit: 2 ** 50, logTerm: 2 ** 50 }),
      message({
        type: MessageType.App,
        from: ID_A,
        to: ID_B,
        entries: Array.from({ length: 100 }, (_, i) => entry(2 ** 40 + i, i)),
        context: new Uint8Array(33),
      }),
      message({
        type: MessageType.Snap,
        from: ID_A,
        to: ID_B,
        snapshot: {
          metadata: { index: 2 ** 45, term: 2 ** 45, confState: { voters: [ID_A, ID_B], learners: [ID_A] } },
          data: new Uint8Array(10),
        },
      }),
    ];
    for (const m of samples)
      expect(estimateEncodedBytes(m)).toBeGreaterThanOrEqual(encodeMessages([m]).length);
  });
});
