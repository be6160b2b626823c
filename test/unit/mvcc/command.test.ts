import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeCommand, encodeCommand } from "../../../src/mvcc/command.ts";
import { MAX_TXN_DEPTH } from "../../../src/mvcc/command-shape.ts";
import type { Command, PutRequest, TxnRequest } from "../../../src/mvcc/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { b, errorCode, newStore } from "./helpers.ts";

const samples: Command[] = [
  { op: "put", req: { key: b("k"), value: b("v") } },
  {
    op: "put",
    req: {
      key: new Uint8Array([0, 0xff]),
      value: new Uint8Array([]),
      lease: 12345678901,
      prevKv: true,
      ignoreValue: true,
      ignoreLease: false,
      contentType: "application/json",
    },
  },
  { op: "deleteRange", req: { key: b("a"), rangeEnd: new Uint8Array([0]), prevKv: true } },
  { op: "compact", req: { revision: 42, physical: true } },
  {
    op: "txn",
    req: {
      compare: [
        { key: b("a"), target: "VALUE", result: "EQUAL", value: b("x") },
        { key: b("a"), rangeEnd: b("b"), target: "VERSION", result: "GREATER", version: 0 },
        { key: b("c"), target: "CREATE", result: "LESS", createRevision: 5 },
        { key: b("c"), target: "MOD", result: "NOT_EQUAL", modRevision: 6 },
        { key: b("c"), target: "LEASE", result: "EQUAL", lease: 7 },
      ],
      success: [
        {
          requestRange: {
            key: b("a"),
            rangeEnd: b("z"),
            limit: 10,
            revision: 3,
            sortOrder: "DESCEND",
            sortTarget: "MOD",
            keysOnly: true,
            countOnly: false,
          },
        },
        { requestPut: { key: b("p"), value: b("q") } },
        { requestDeleteRange: { key: b("d") } },
        {
          requestTxn: {
            compare: [],
            success: [{ requestPut: { key: b("n"), value: b("m") } }],
            failure: [],
          },
        },
      ],
      failure: [{ requestRange: { key: b("f") } }],
    },
  },
];

/** Every Uint8Array in `v` is a plain Uint8Array (not a Buffer). */
function allPlainBytes(v: unknown): boolean {
  if (v instanceof Uint8Array) return v.constructor === Uint8Array;
  if (Array.isArray(v)) return v.every(allPlainBytes);
  if (typeof v === "object" && v !== null) return Object.values(v).every(allPlainBytes);
  return true;
}

describe("encodeCommand / decodeCommand", () => {
  for (const cmd of samples) {
    it(`round-trips ${cmd.op}`, () => {
      const bytes = encodeCommand(cmd);
      expect(bytes).toBeInstanceOf(Uint8Array);
      const back = decodeCommand(bytes);
      expect(back).toStrictEqual(cmd);
      expect(allPlainBytes(back)).toBe(true);
    });
  }

  it("encodes equal commands to equal bytes, dropping undefined and unknown fields", () => {
    const plain: Command = { op: "put", req: { key: b("k"), value: b("v") } };
    const noisy = {
      op: "put",
      req: { key: b("k"), value: b("v"), lease: undefined, extra: 1 },
    } as unknown as Command;
    expect(encodeCommand(noisy)).toEqual(encodeCommand(plain));
  });

  it("decoded byte fields are views into the input, and the store keeps copies of them", () => {
    const bytes = encodeCommand({ op: "put", req: { key: b("k"), value: b("v".repeat(100)) } });
    const cmd = decodeCommand(bytes);
    const req = (cmd as { op: "put"; req: PutRequest }).req;
    expect(req.value.buffer).toBe(bytes.buffer);
    expect(req.value.constructor).toBe(Uint8Array);
    const store = newStore();
    store.apply(cmd);
    bytes.fill(0);
    const kv = store.range({ key: b("k") }).kvs[0]!;
    expect(kv.key).toEqual(b("k"));
    expect(kv.value).toEqual(b("v".repeat(100)));
  });

  it("rejects a command with wrong field types at encode time", () => {
    const bad = { op: "put", req: { key: "k", value: b("v") } } as unknown as Command;
    expect(errorCode(() => encodeCommand(bad))).toBe("invalid_argument");
  });

  const packr = new Packr({ useRecords: false });
  const pack = (v: unknown) => new Uint8Array(packr.pack(v));
  const malformed: [string, Uint8Array][] = [
    ["empty input", new Uint8Array([])],
    ["reserved byte", new Uint8Array([0xc1])],
    ["truncated", encodeCommand(samples[4]!).subarray(0, 20)],
    ["trailing bytes", new Uint8Array([...encodeCommand(samples[0]!), 0x01])],
    ["not an object", pack(42)],
    ["a list", pack(["put", {}])],
    ["unknown op", pack({ op: "rename", req: {} })],
    ["missing req", pack({ op: "put" })],
    ["key as string", pack({ op: "put", req: { key: "k", value: b("v") } })],
    ["missing value", pack({ op: "put", req: { key: b("k") } })],
    ["lease not integer", pack({ op: "put", req: { key: b("k"), value: b("v"), lease: 1.5 } })],
    ["prevKv not boolean", pack({ op: "put", req: { key: b("k"), value: b("v"), prevKv: 1 } })],
    [
      "bad compare target",
      pack({ op: "txn", req: { compare: [{ key: b("k"), target: "SIZE", result: "EQUAL" }] } }),
    ],
    [
      "bad sort order",
      pack({ op: "txn", req: { success: [{ requestRange: { key: b("k"), sortOrder: "UP" } }] } }),
    ],
    ["empty op", pack({ op: "txn", req: { success: [{}] } })],
    [
      "op with two requests",
      pack({
        op: "txn",
        req: { success: [{ requestRange: { key: b("k") }, requestDeleteRange: { key: b("k") } }] },
      }),
    ],
    ["success not a list", pack({ op: "txn", req: { success: {} } })],
    ["compaction revision missing", pack({ op: "compact", req: {} })],
  ];
  for (const [name, bytes] of malformed) {
    it(`rejects malformed input: ${name}`, () => {
      try {
        decodeCommand(bytes);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CairnError);
        expect((err as CairnError).code).toBe("invalid_argument");
      }
    });
  }

  it("decodes absent txn lists as empty", () => {
    expect(decodeCommand(pack({ op: "txn", req: {} }))).toStrictEqual({
      op: "txn",
      req: { compare: [], success: [], failure: [] },
    });
  });

  it(`accepts txns nested ${MAX_TXN_DEPTH} deep and rejects deeper ones`, () => {
    const nest = (depth: number): TxnRequest => {
      let t: TxnRequest = { compare: [], success: [], failure: [] };
      for (let i = 1; i < depth; i++) t = { compare: [], success: [{ requestTxn: t }], failure: [] };
      return t;
    };
    expect(decodeCommand(pack({ op: "txn", req: nest(MAX_TXN_DEPTH) })).op).toBe("txn");
    expect(errorCode(() => decodeCommand(pack({ op: "txn", req: nest(MAX_TXN_DEPTH + 1) })))).toBe(
      "invalid_argument",
    );
  });
});
