import { describe, expect, it } from "vitest";
import { ByteSlab } from "../../../src/util/slab.ts";

describe("ByteSlab", () => {
  it("carves consecutive, non-overlapping, zeroed views out of one slab", () => {
    const slab = new ByteSlab(1024);
    const a = slab.alloc(100);
    const b = slab.alloc(50);
    expect(a.constructor).toBe(Uint8Array);
    expect(a.buffer).toBe(b.buffer);
    expect(a.byteLength).toBe(100);
    expect(b.byteLength).toBe(50);
    expect(b.byteOffset).toBe(104); // 8-byte aligned after a
    a.fill(1);
    expect([...b].every((x) => x === 0)).toBe(true);
  });

  it("starts a new slab when the current one has no room, and leaves earlier views intact", () => {
    const slab = new ByteSlab(256);
    const views = Array.from({ length: 5 }, (_, i) => slab.alloc(60).fill(i + 1));
    expect(views[3]!.buffer).toBe(views[0]!.buffer);
    expect(views[4]!.buffer).not.toBe(views[0]!.buffer);
    expect(views[4]!.byteOffset).toBe(0);
    for (const [i, v] of views.entries()) expect([...v].every((x) => x === i + 1)).toBe(true);
  });

  it("gives a request over a quarter of a slab an array of its own", () => {
    const slab = new ByteSlab(256);
    const small = slab.alloc(8);
    const big = slab.alloc(65);
    expect(big.buffer).not.toBe(small.buffer);
    expect(big.buffer.byteLength).toBe(65);
    expect(slab.alloc(8).buffer).toBe(small.buffer);
  });

  it("refuses a bad size", () => {
    expect(() => new ByteSlab(256).alloc(-1)).toThrow(/non-negative integer/);
    expect(() => new ByteSlab(256).alloc(1.5)).toThrow(/non-negative integer/);
  });
});
