/**
 * ReadIndexBatcher contexts are unique per batcher (found by the KV simulation: contexts were a
 * counter from 1 in every process, so an answer meant for another member matched a round here).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ReadState } from "../../../src/raft/types.ts";
import { ReadIndexBatcher, realTimers } from "../../../src/server/read-index.ts";

const batchers: ReadIndexBatcher[] = [];
afterEach(() => {
  for (const b of batchers.splice(0)) b.failAll(new Error("test over"));
});

function batcher(prefix: number[], asked: Uint8Array[]): ReadIndexBatcher {
  const b = new ReadIndexBatcher(
    {
      requestReadIndex: (ctx) => void asked.push(ctx),
      waitApplied: (_index, done) => done(),
      ...realTimers,
      nowMs: () => 0,
    },
    1_000,
    10_000,
    new Uint8Array(prefix),
  );
  batchers.push(b);
  return b;
}

describe("ReadIndexBatcher", () => {
  it("ignores a ReadState whose context another batcher made, and takes its own", async () => {
    const askedA: Uint8Array[] = [];
    const askedB: Uint8Array[] = [];
    const a = batcher([1, 1, 1, 1, 1, 1, 1, 1], askedA);
    const b = batcher([2, 2, 2, 2, 2, 2, 2, 2], askedB);
    let aDone = false;
    const readA = a.barrier().then(() => {
      aDone = true;
    });
    void b.barrier().catch(() => {});
    expect(askedA[0]).not.toEqual(askedB[0]);
    const foreign: ReadState = { index: 1, requestCtx: askedB[0]! };
    a.onReadState(foreign);
    await new Promise((r) => setTimeout(r, 5));
    expect(aDone).toBe(false);
    a.onReadState({ index: 5, requestCtx: askedA[0]! });
    await readA;
    expect(aDone).toBe(true);
  });

  it("refuses a context prefix that is not 8 bytes", () => {
    expect(() => batcher([1, 2, 3], [])).toThrow(/8 bytes/);
  });
});
