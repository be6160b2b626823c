import { describe, expect, it } from "vitest";
import { MAX_TXN_DEPTH } from "../../../src/mvcc/command-shape.ts";
import type { Command, TxnRequest } from "../../../src/mvcc/types.ts";
import { b, errorCode, newStore, op, txn } from "./helpers.ts";

/** Commands that skipped the codec's type checks still fail cleanly inside apply. */
describe("apply rejects ill-typed commands with invalid_argument and changes nothing", () => {
  const cases: [string, unknown][] = [
    ["put without req", { op: "put", req: null }],
    ["put with string key", { op: "put", req: { key: "k", value: b("v") } }],
    ["put without value", { op: "put", req: { key: b("k") } }],
    ["put with boolean-ish prevKv", { op: "put", req: { key: b("k"), value: b("v"), prevKv: 1 } }],
    ["delete with string rangeEnd", { op: "deleteRange", req: { key: b("k"), rangeEnd: "z" } }],
    ["compact without revision", { op: "compact", req: {} }],
    ["txn with compare not a list", { op: "txn", req: { compare: null, success: [], failure: [] } }],
    [
      "txn with unknown compare target",
      {
        op: "txn",
        req: { compare: [{ key: b("k"), target: "SIZE", result: "EQUAL" }], success: [], failure: [] },
      },
    ],
    [
      "txn with unknown compare result",
      {
        op: "txn",
        req: { compare: [{ key: b("k"), target: "VERSION", result: "ABOUT" }], success: [], failure: [] },
      },
    ],
    ["txn with empty op", { op: "txn", req: { compare: [], success: [{}], failure: [] } }],
    [
      "txn with bad range limit",
      {
        op: "txn",
        req: { compare: [], success: [{ requestRange: { key: b("k"), limit: "10" } }], failure: [] },
      },
    ],
  ];
  for (const [name, cmd] of cases) {
    it(name, () => {
      const s = newStore();
      expect(errorCode(() => s.apply(cmd as Command))).toBe("invalid_argument");
      expect(s.revision).toBe(1);
    });
  }

  it(`txns nested deeper than ${MAX_TXN_DEPTH}`, () => {
    const s = newStore();
    const nest = (depth: number): TxnRequest => {
      let t: TxnRequest = { compare: [], success: [op.put("deep", "1")], failure: [] };
      for (let i = 1; i < depth; i++) t = { compare: [], success: [{ requestTxn: t }], failure: [] };
      return t;
    };
    expect(errorCode(() => txn(s, nest(MAX_TXN_DEPTH + 1)))).toBe("invalid_argument");
    expect(s.revision).toBe(1);
    txn(s, nest(MAX_TXN_DEPTH));
    expect(s.revision).toBe(2);
  });
});
