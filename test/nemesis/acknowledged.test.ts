/** The end-of-run check that every acknowledged write is present (acknowledged.ts), on small histories. */
import { describe, expect, it } from "vitest";
import { HistoryRecorder } from "../lincheck/history.ts";
import type { KvInput, KvOutput } from "../lincheck/kv-model.ts";
import { checkAcknowledgedWrites } from "./acknowledged.ts";

/** Records one operation: ok with `output`, or unknown when `output` is undefined. */
function op(h: HistoryRecorder, call: number, ret: number, input: KvInput, output?: KvOutput): void {
  const id = h.call("c", input, call);
  if (output === undefined) h.unknown(id);
  else h.ok(id, output, ret);
}

const reads = (key: string, values: Record<string, string | null>) =>
  new Map([[key, new Map(Object.entries(values))]]);

describe("checkAcknowledgedWrites", () => {
  it("accepts the last acknowledged value, or one of a write concurrent with it or unknown", () => {
    const h = new HistoryRecorder();
    op(h, 0, 1, { op: "put", key: "k", value: "a" }, {});
    op(h, 2, 5, { op: "put", key: "k", value: "b" }, {});
    op(h, 3, 4, { op: "put", key: "k", value: "c" }, {}); // concurrent with b, returned first
    op(h, 6, 7, { op: "cas", key: "k", expected: "zzz", value: "d" }, { succeeded: false });
    op(h, 8, 0, { op: "put", key: "k", value: "e" }); // unknown
    for (const v of ["b", "c", "e"]) {
      expect(checkAcknowledgedWrites(h.history(), reads("k", { m1: v, m2: v }))).toStrictEqual([]);
    }
    for (const v of ["a", "d", null]) {
      const problems = checkAcknowledgedWrites(h.history(), reads("k", { m1: v, m2: v }));
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/m1 holds/);
    }
  });

  it("treats deletes as writing absence, and allows absence for a key never acknowledged written", () => {
    const h = new HistoryRecorder();
    op(h, 0, 1, { op: "put", key: "k", value: "a" }, {});
    op(h, 2, 3, { op: "delete", key: "k" }, { deleted: 1 });
    expect(checkAcknowledgedWrites(h.history(), reads("k", { m1: null }))).toStrictEqual([]);
    expect(checkAcknowledgedWrites(h.history(), reads("k", { m1: "a" }))).toHaveLength(1);
    expect(checkAcknowledgedWrites(h.history(), reads("other", { m1: null }))).toStrictEqual([]);
  });

  it("reports members that disagree", () => {
    const h = new HistoryRecorder();
    op(h, 0, 1, { op: "put", key: "k", value: "a" }, {});
    op(h, 2, 0, { op: "put", key: "k", value: "b" });
    const problems = checkAcknowledgedWrites(h.history(), reads("k", { m1: "a", m2: "b" }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/members disagree/);
  });
});
