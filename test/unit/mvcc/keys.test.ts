import { describe, expect, it } from "vitest";
import { compareBytes, keyString, prefixEnd } from "../../../src/mvcc/keys.ts";
import { b } from "./helpers.ts";

describe("prefixEnd (etcd clientv3.GetPrefixRangeEnd)", () => {
  it("increments the last byte", () => {
    expect(prefixEnd(b("foo"))).toEqual(b("fop"));
  });

  it("drops trailing 0xff bytes and increments the byte before", () => {
    expect(prefixEnd(new Uint8Array([0x61, 0xff, 0xff]))).toEqual(new Uint8Array([0x62]));
    expect(prefixEnd(new Uint8Array([0x01, 0xfe, 0xff]))).toEqual(new Uint8Array([0x01, 0xff]));
  });

  it("gives [0x00] (to the end) for an all-0xff or empty prefix", () => {
    expect(prefixEnd(new Uint8Array([0xff, 0xff]))).toEqual(new Uint8Array([0]));
    expect(prefixEnd(new Uint8Array([]))).toEqual(new Uint8Array([0]));
  });

  it("does not modify its argument", () => {
    const p = b("ab");
    prefixEnd(p);
    expect(p).toEqual(b("ab"));
  });
});

describe("byte order", () => {
  const samples = [
    [],
    [0],
    [0, 0],
    [1],
    [0x7f],
    [0x80],
    [0x80, 0],
    [0xc3, 0xa9],
    [0xff],
    [0xff, 0xff],
    [0x61, 0x62],
  ].map((a) => new Uint8Array(a));

  it("keyString order equals unsigned byte-wise order", () => {
    for (const x of samples) {
      for (const y of samples) {
        const byBytes = Math.sign(compareBytes(x, y));
        const kx = keyString(x);
        const ky = keyString(y);
        const byString = kx < ky ? -1 : kx > ky ? 1 : 0;
        expect(byString, `${x} vs ${y}`).toBe(byBytes);
      }
    }
  });

  it("keyString keeps one code unit per byte", () => {
    const k = keyString(new Uint8Array([0, 0x80, 0xff]));
    expect([...k].map((c) => c.charCodeAt(0))).toEqual([0, 0x80, 0xff]);
  });
});
