/**
 * PacedWriter (src/storage/file/paced-writer.ts): a background write keeps under its rate, flushes
 * every syncEveryBytes, and stops waiting once hurried; the bytes land where they belong.
 */
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  foregroundPacing,
  GATHER_WRITE_BYTES,
  type PacedFile,
  PacedWriter,
  WritePacing,
} from "../../../src/storage/file/paced-writer.ts";
import { TempDataDir } from "./helpers.ts";

const MiB = 1024 * 1024;

/** A file that records its calls, and a clock that moves only when the writer sleeps. */
function recorder() {
  const calls: string[] = [];
  let now = 0;
  const sleeps: number[] = [];
  const file: PacedFile = {
    write: (async (data: Uint8Array, _offset: number, length: number, position: number) => {
      calls.push(`write ${length}@${position}`);
      return { bytesWritten: length, buffer: data };
    }) as PacedFile["write"],
    datasync: async () => {
      calls.push("datasync");
    },
  };
  const timer = {
    nowMs: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return { calls, sleeps, file, timer, advance: (ms: number) => (now += ms) };
}

describe("PacedWriter", () => {
  it("holds the average rate: 4 MiB at 2 MiB/s sleeps 2 s in all, flushing every 2 MiB", async () => {
    const r = recorder();
    const w = new PacedWriter(r.file, 100, new WritePacing(2 * MiB, 2 * MiB), r.timer);
    const chunk = new Uint8Array(MiB);
    for (let i = 0; i < 4; i++) await w.write(chunk);
    expect(r.sleeps.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(r.sleeps).toEqual([500, 500, 500, 500]);
    expect(r.calls).toEqual([
      `write ${MiB}@100`,
      `write ${MiB}@${100 + MiB}`,
      "datasync",
      `write ${MiB}@${100 + 2 * MiB}`,
      `write ${MiB}@${100 + 3 * MiB}`,
      "datasync",
    ]);
    expect(w.position).toBe(100 + 4 * MiB);
  });

  it("does not sleep when the writes themselves were slower than the rate", async () => {
    const r = recorder();
    const w = new PacedWriter(r.file, 0, new WritePacing(2 * MiB, 8 * MiB), r.timer);
    r.advance(1000);
    await w.write(new Uint8Array(MiB));
    expect(r.sleeps).toEqual([]);
  });

  it("stops waiting from the next chunk on once hurried", async () => {
    const r = recorder();
    const pacing = new WritePacing(MiB, 8 * MiB);
    const w = new PacedWriter(r.file, 0, pacing, r.timer);
    await w.write(new Uint8Array(MiB));
    expect(r.sleeps).toEqual([1000]);
    pacing.hurry();
    for (let i = 0; i < 5; i++) await w.write(new Uint8Array(MiB));
    expect(r.sleeps).toEqual([1000]);
  });

  it("never sleeps at the foreground pace", async () => {
    const r = recorder();
    const w = new PacedWriter(r.file, 0, foregroundPacing(), r.timer);
    for (let i = 0; i < 20; i++) await w.write(new Uint8Array(MiB));
    expect(r.sleeps).toEqual([]);
    expect(r.calls.filter((c) => c === "datasync")).toHaveLength(2);
  });

  it("gathers small chunks into one write and writes the rest at end()", async () => {
    const r = recorder();
    const w = new PacedWriter(r.file, 0, foregroundPacing(), r.timer);
    const chunk = new Uint8Array(GATHER_WRITE_BYTES / 4);
    for (let i = 0; i < 5; i++) await w.write(chunk);
    expect(r.calls).toEqual([`write ${GATHER_WRITE_BYTES}@0`]);
    expect(w.position).toBe((5 * GATHER_WRITE_BYTES) / 4);
    await w.end();
    expect(r.calls).toEqual([
      `write ${GATHER_WRITE_BYTES}@0`,
      `write ${GATHER_WRITE_BYTES / 4}@${GATHER_WRITE_BYTES}`,
    ]);
    await w.end();
    expect(r.calls).toHaveLength(2);
  });

  describe("on a real file", () => {
    let d: TempDataDir;
    beforeEach(async () => {
      d = await TempDataDir.create();
    });
    afterEach(async () => {
      await d.cleanup();
    });

    it("writes every chunk in order after the start offset", async () => {
      const path = join(d.dir, "paced");
      const h = await open(path, "w");
      const w = new PacedWriter(h, 3, new WritePacing(64 * MiB, 5));
      for (let i = 1; i <= 4; i++) await w.write(new Uint8Array(i).fill(i));
      await w.end();
      await h.close();
      expect([...(await readFile(path))]).toEqual([0, 0, 0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4]);
    });
  });
});
