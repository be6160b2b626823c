import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameTooLargeError } from "../../../src/util/framing.ts";

/** Pushes `chunk` and returns the frames it completed, as number arrays. */
function push(decoder: FrameDecoder, chunk: Uint8Array): number[][] {
  const frames: number[][] = [];
  decoder.push(chunk, (f) => frames.push([...f]));
  return frames;
}

const payloads = [
  new Uint8Array([1, 2, 3]),
  new Uint8Array(0),
  new Uint8Array(1000).fill(7),
  new Uint8Array([42]),
];
const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));

describe("framing (4-byte big-endian length + payload)", () => {
  it("prefixes the payload with its big-endian length", () => {
    expect([...encodeFrame(new Uint8Array([9, 9]))]).toStrictEqual([0, 0, 0, 2, 9, 9]);
    expect([...encodeFrame(new Uint8Array(258)).subarray(0, 4)]).toStrictEqual([0, 0, 1, 2]);
  });

  it("decodes many frames from one chunk", () => {
    const frames = push(new FrameDecoder(1 << 20), stream);
    expect(frames).toStrictEqual(payloads.map((p) => [...p]));
  });

  it("decodes frames split across chunks at every size, even one byte at a time", () => {
    for (const chunkSize of [1, 2, 3, 5, 7, 64, 999, 1001]) {
      const decoder = new FrameDecoder(1 << 20);
      const frames: number[][] = [];
      for (let i = 0; i < stream.length; i += chunkSize) {
        frames.push(...push(decoder, stream.subarray(i, i + chunkSize)));
      }
      expect(frames, `chunk size ${chunkSize}`).toStrictEqual(payloads.map((p) => [...p]));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it("keeps a partial frame pending", () => {
    const decoder = new FrameDecoder(1 << 20);
    expect(push(decoder, stream.subarray(0, 5))).toStrictEqual([]);
    expect(decoder.pendingBytes).toBe(1);
  });

  it("throws as soon as a header announces a frame over the limit, before its payload arrives", () => {
    const decoder = new FrameDecoder(100);
    expect(push(decoder, encodeFrame(new Uint8Array(100)))).toHaveLength(1);
    const header = encodeFrame(new Uint8Array(101)).subarray(0, 4);
    expect(() => push(decoder, header)).toThrow(FrameTooLargeError);
  });

  it("hands over the frames before a bad header in the same chunk", () => {
    const frames: number[][] = [];
    const chunk = Buffer.concat([encodeFrame(new Uint8Array([5])), encodeFrame(new Uint8Array(101))]);
    expect(() => new FrameDecoder(100).push(chunk, (f) => frames.push([...f]))).toThrow(FrameTooLargeError);
    expect(frames).toStrictEqual([[5]]);
  });
});
