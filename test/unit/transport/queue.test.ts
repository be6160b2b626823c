import { describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/types.ts";
import { estimateEncodedBytes } from "../../../src/transport/codec.ts";
import { BoundedMessageQueue } from "../../../src/transport/queue.ts";
import { entry, ID_A, ID_B, message } from "./helpers.ts";

const hb = (term: number) => message({ from: ID_A, to: ID_B, term });

describe("BoundedMessageQueue", () => {
  it("refuses messages beyond its capacity and keeps the first ones", () => {
    const q = new BoundedMessageQueue(3);
    expect([1, 2, 3, 4, 5].map((t) => q.push(hb(t)))).toStrictEqual([true, true, true, false, false]);
    expect(q.length).toBe(3);
    expect(q.takeBatch(10, 1 << 20).map((m) => m.term)).toStrictEqual([1, 2, 3]);
    expect(q.length).toBe(0);
    expect(q.push(hb(6))).toBe(true);
  });

  it("takes batches in FIFO order bounded by count", () => {
    const q = new BoundedMessageQueue(5000);
    for (let t = 0; t < 5000; t++) q.push(hb(t));
    const terms: number[] = [];
    for (;;) {
      const batch = q.takeBatch(700, 1 << 30);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(700);
      terms.push(...batch.map((m) => m.term));
    }
    expect(terms).toStrictEqual(Array.from({ length: 5000 }, (_, t) => t));
  });

  it("bounds a batch by estimated bytes but always takes at least one message", () => {
    const big = message({ type: MessageType.App, from: ID_A, to: ID_B, entries: [entry(1, 10_000)] });
    const q = new BoundedMessageQueue(10);
    for (let i = 0; i < 4; i++) q.push(big);
    const size = estimateEncodedBytes(big);
    expect(q.takeBatch(100, 1)).toHaveLength(1);
    expect(q.takeBatch(100, size * 2)).toHaveLength(2);
    expect(q.length).toBe(1);
  });
});
