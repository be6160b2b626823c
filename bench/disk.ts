/**
 * A quick probe of the disk the clusters write to: latency of a small write followed by
 * fdatasync, the operation every Raft log append waits on (etcd's docs name WAL fsync latency as the
 * first thing to check: op-guide/hardware.md, "Disks"). Printed next to the results so a slow or a
 * suspiciously fast (tmpfs, write-cached) disk is visible.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** fdatasync latency of `samples` appends of 512 bytes, in ms. */
export interface DiskProbe {
  dir: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Appends 512 bytes and fdatasyncs, `samples` times (1..10000), in a fresh temp dir under `baseDir`.
 * Synchronous and bounded (a few hundred ms on an SSD).
 * @throws Error on a filesystem error or samples out of range
 */
export function probeDisk(baseDir = os.tmpdir(), samples = 200): DiskProbe {
  if (!Number.isInteger(samples) || samples < 1 || samples > 10_000) {
    throw new Error(`samples must be 1..10000, got ${samples}`);
  }
  const dir = mkdtempSync(path.join(baseDir, "cairn-bench-disk-"));
  const block = Buffer.alloc(512, 0x61);
  const times: number[] = [];
  const fd = openSync(path.join(dir, "probe"), "w");
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { dir: baseDir, samples, p50Ms: at(0.5), p99Ms: at(0.99) };
}
