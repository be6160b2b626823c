/**
 * Latency of the file storage's WAL append: N appends of one entry plus a hard state, each waiting
 * for its fdatasync (what a Raft leader waits on per proposal batch), in 1 process and in several
 * concurrent processes (a three-member cluster on one machine shares one disk and its journal).
 *
 *   node --import tsx bench/wal-append.ts [--appends 2000] [--procs 1,3] [--entry-bytes 300]
 *     [--dir /tmp] [--preallocate-bytes <n>] [--segment-bytes <n>]
 *
 * `--preallocate-bytes 0` turns WAL preallocation off (every append grows the file). Prints p50,
 * p99 and max per level over all processes' appends, in ms. Each process uses its own fresh data
 * dir, removed at the end. Children are this script with `--child`; they wait for a start signal
 * on stdin so that all processes append at the same time.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { EntryType, type HardState } from "../src/raft/types.ts";
import { openFileStorage } from "../src/storage/file/index.ts";

interface Options {
  appends: string;
  procs: string;
  entryBytes: string;
  dir: string;
  preallocateBytes?: string;
  segmentBytes?: string;
  child: boolean;
}

function positiveInt(v: string, what: string, min = 1): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${what} must be an integer >= ${min}, got ${v}`);
  return n;
}

const silentLogger = { warn: () => undefined, info: () => undefined };

/** One child: open a storage, wait for "go" on stdin, append, print the latencies (ms) as JSON. */
async function child(o: Options): Promise<void> {
  const appends = positiveInt(o.appends, "--appends");
  const entryBytes = positiveInt(o.entryBytes, "--entry-bytes", 0);
  const dir = await mkdtemp(path.join(o.dir, "cairn-bench-wal-"));
  const opts: Parameters<typeof openFileStorage>[1] & Record<string, unknown> = { logger: silentLogger };
  if (o.preallocateBytes !== undefined)
    opts.preallocateBytes = positiveInt(o.preallocateBytes, "--preallocate-bytes", 0);
  if (o.segmentBytes !== undefined) opts.segmentBytes = positiveInt(o.segmentBytes, "--segment-bytes");
  const s = await openFileStorage(dir, opts);
  try {
    const data = new Uint8Array(entryBytes).fill(0x61);
    const hs = (commit: number): HardState => ({ term: 1, vote: "", commit });
    let index = 0;
    // Warm-up (not measured): the first appends create and preallocate the segment.
    for (let k = 0; k < 20; k++) {
      index++;
      await s.append(hs(index - 1), [{ index, term: 1, type: EntryType.Normal, data }]);
    }
    process.stdout.write("ready\n");
    await new Promise<void>((resolve) => {
      createInterface({ input: process.stdin }).once("line", () => resolve());
    });
    const times = new Float64Array(appends);
    for (let k = 0; k < appends; k++) {
      index++;
      const t0 = process.hrtime.bigint();
      await s.append(hs(index - 1), [{ index, term: 1, type: EntryType.Normal, data }]);
      times[k] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    process.stdout.write(`${JSON.stringify(Array.from(times))}\n`);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `n` children at once; resolves with all their latencies. */
async function level(n: number, argv: string[]): Promise<number[]> {
  const script = fileURLToPath(import.meta.url);
  const kids = Array.from({ length: n }, () =>
    spawn(process.execPath, [...process.execArgv, script, ...argv, "--child"], {
      stdio: ["pipe", "pipe", "inherit"],
    }),
  );
  const lines = kids.map((k) => createInterface({ input: k.stdout! })[Symbol.asyncIterator]());
  const next = async (i: number): Promise<string> => {
    const r = await lines[i]!.next();
    if (r.done) throw new Error(`child ${i} exited early`);
    return r.value;
  };
  for (let i = 0; i < n; i++) {
    const line = await next(i);
    if (line !== "ready") throw new Error(`child ${i}: expected "ready", got ${line}`);
  }
  for (const k of kids) k.stdin!.write("go\n");
  const all: number[] = [];
  for (let i = 0; i < n; i++) all.push(...(JSON.parse(await next(i)) as number[]));
  await Promise.all(kids.map((k) => new Promise((resolve) => k.once("close", resolve))));
  return all;
}

function pct(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const o = new Command()
    .option("--appends <n>", "measured appends per process", "2000")
    .option("--procs <list>", "concurrent processes of each level", "1,3")
    .option("--entry-bytes <n>", "bytes of each entry's data", "300")
    .option("--dir <dir>", "where the temp data dirs go", os.tmpdir())
    .option("--preallocate-bytes <n>", "WAL preallocation chunk (0: off); default: the storage's")
    .option("--segment-bytes <n>", "WAL segment size; default: the storage's")
    .option("--child", "internal: run one appending process", false)
    .parse()
    .opts<Options>();
  if (o.child) return child(o);
  const argv = process.argv.slice(2);
  const levels = o.procs.split(",").map((p) => positiveInt(p, "--procs"));
  console.log(
    `WAL append + fdatasync, ${o.appends} appends per process, entry ${o.entryBytes} bytes, ` +
      `preallocate ${o.preallocateBytes ?? "default"}, dir ${o.dir}`,
  );
  for (const n of levels) {
    const t = (await level(n, argv)).sort((a, b) => a - b);
    console.log(
      `procs ${n}: appends ${t.length}  p50 ${pct(t, 0.5).toFixed(3)} ms  p99 ${pct(t, 0.99).toFixed(3)} ms  max ${t.at(-1)!.toFixed(3)} ms`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
