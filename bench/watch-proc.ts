/**
 * What bench/watch.ts reads about processes from Linux's /proc: resident memory (VmRSS, VmHWM),
 * CPU time, the open-files limit and the ephemeral port range. Loopback benchmarks of thousands of
 * connections hit these limits first, so they are checked before anything starts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** A field of /proc/<pid>/status in bytes (e.g. "VmRSS"), or NaN when unreadable (process gone). */
export function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a process in ms (from /proc/<pid>/stat), or NaN when unreadable. */
export function procCpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line: 12th and 13th after the name.
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** CPU use of a set of processes between two points in time, as % of one core. */
export class CpuMeter {
  private readonly start: number[];
  private readonly startMs = performance.now();

  constructor(private readonly pids: number[]) {
    this.start = pids.map(procCpuMs);
  }

  /** % of one core used by all the processes together since construction (NaN if none readable). */
  percent(): number {
    const used = this.pids.map((p, i) => procCpuMs(p) - this.start[i]!).filter(Number.isFinite);
    if (used.length === 0) return Number.NaN;
    const elapsed = performance.now() - this.startMs;
    return (used.reduce((a, b) => a + b, 0) / elapsed) * 100;
  }
}

/** The soft limit of open files of this process (children and members inherit it). */
export function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (!m) return Number.NaN;
    return m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return Number.NaN;
  }
}

/** Number of local ports the kernel hands out to outgoing connections (ip_local_port_range). */
export function ephemeralPortCount(): number {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    return Number(hi) - Number(lo) + 1;
  } catch {
    return Number.NaN;
  }
}

/**
 * Samples a process's RSS every `intervalMs` until the last `window` samples lie within
 * `tolerance` (relative) of each other, or `timeoutMs` passed.
 * @returns the median of the last window of samples (bytes), and whether it settled
 */
export async function settledRss(
  pid: number,
  opts: { intervalMs?: number; window?: number; tolerance?: number; timeoutMs?: number } = {},
): Promise<{ bytes: number; settled: boolean; samples: number }> {
  const intervalMs = opts.intervalMs ?? 500;
  const window = opts.window ?? 5;
  const tolerance = opts.tolerance ?? 0.02;
  const deadline = performance.now() + (opts.timeoutMs ?? 20_000);
  const samples: number[] = [];
  for (;;) {
    samples.push(procStatusBytes(pid, "VmRSS"));
    const last = samples.slice(-window);
    const median = [...last].sort((a, b) => a - b)[Math.floor(last.length / 2)]!;
    if (!Number.isFinite(median)) return { bytes: Number.NaN, settled: false, samples: samples.length };
    const spread = (Math.max(...last) - Math.min(...last)) / median;
    if (last.length === window && spread <= tolerance) {
      return { bytes: median, settled: true, samples: samples.length };
    }
    if (performance.now() > deadline) return { bytes: median, settled: false, samples: samples.length };
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** CPU use (% of one core) under which a member counts as quiet (idle watchers' heartbeats stay below). */
export const QUIET_CPU_PERCENT = 20;

/**
 * Waits until a process uses less than {@link QUIET_CPU_PERCENT} of a core over two consecutive
 * 1 s samples (e.g. a member still writing a backlog to watchers that are gone), or `timeoutMs`.
 */
export async function waitQuiet(
  pid: number,
  timeoutMs: number,
): Promise<{ quiet: boolean; elapsedMs: number; lastPercent: number }> {
  const start = performance.now();
  let calm = 0;
  let lastPercent = Number.NaN;
  while (performance.now() - start < timeoutMs) {
    const meter = new CpuMeter([pid]);
    await new Promise((r) => setTimeout(r, 1_000));
    lastPercent = meter.percent();
    if (!Number.isFinite(lastPercent)) break;
    calm = lastPercent < QUIET_CPU_PERCENT ? calm + 1 : 0;
    if (calm >= 2) return { quiet: true, elapsedMs: performance.now() - start, lastPercent };
  }
  return { quiet: false, elapsedMs: performance.now() - start, lastPercent };
}
