/**
 * Output of a benchmark run: one table (rows of the same operation and client count next to each
 * other, etcd first), a list of errors, and the verdict against the targets Cairn set itself:
 * put throughput at 1 and at 64 clients at least etcd's, and put p99 no worse.
 */
import os from "node:os";
import Table from "cli-table3";
import type { LevelResult } from "./load.ts";
import { OPERATIONS } from "./workload.ts";

/** Client counts at which the put target is judged. */
export const VERDICT_LEVELS = [1, 64] as const;

/** One judged level of the verdict. */
export interface VerdictLine {
  clients: number;
  /** "pass", "fail", or "n/a" (a side was not measured at this level). */
  outcome: "pass" | "fail" | "n/a";
  text: string;
}

/** Overall verdict: pass only if every judged level passes and no measured level had errors. */
export interface Verdict {
  outcome: "pass" | "fail" | "n/a";
  lines: VerdictLine[];
}

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

/** Sorts results by operation (run order), clients, then target with etcd first. */
function ordered(results: LevelResult[]): LevelResult[] {
  const targetRank = (t: string) => (t === "etcd" ? 0 : t === "cairn" ? 1 : 2);
  return [...results].sort(
    (a, b) =>
      OPERATIONS.indexOf(a.operation) - OPERATIONS.indexOf(b.operation) ||
      a.clients - b.clients ||
      targetRank(a.target) - targetRank(b.target) ||
      a.target.localeCompare(b.target),
  );
}

/** Prints the table and, if any level failed requests, the error kinds; returns whether errors occurred. */
export function printResults(results: LevelResult[]): boolean {
  const table = new Table({
    head: ["target", "op", "clients", "req/s", "p50 ms", "p99 ms", "errors", "vs etcd req/s", "gen cpu %"],
    colAligns: ["left", "left", "right", "right", "right", "right", "right", "right", "right"],
    style: { head: [], border: [], compact: true },
  });
  const byKey = new Map(results.map((r) => [`${r.target}|${r.operation}|${r.clients}`, r]));
  for (const r of ordered(results)) {
    const etcd = byKey.get(`etcd|${r.operation}|${r.clients}`);
    const ratio =
      r.target !== "etcd" && etcd && etcd.requestsPerSecond > 0
        ? `${fmt(r.requestsPerSecond / etcd.requestsPerSecond, 2)}x`
        : "";
    table.push([
      r.target,
      r.operation,
      String(r.clients),
      fmt(r.requestsPerSecond, 0),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      r.errors > 0 ? `${r.errors} !` : "0",
      ratio,
      fmt(r.generatorCpuPercent, 0),
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
  process.stdout.write(
    `Load generator and all cluster members share this machine (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? "?"}); ` +
      `"gen cpu %" is the load generator's own CPU (100 = one core) — near 100 means the client, not the server, may be the limit.\n`,
  );
  const failed = results.filter((r) => r.errors > 0);
  if (failed.length > 0) {
    process.stdout.write("\nERRORS — this run is flagged, its figures are not clean:\n");
    for (const r of ordered(failed)) {
      const kinds = Object.entries(r.errorKinds)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n}× ${k}`)
        .join("; ");
      process.stdout.write(
        `  ${r.target} ${r.operation} clients=${r.clients}: ${r.errors} failed (${kinds})\n`,
      );
    }
  }
  return failed.length > 0;
}

/**
 * Judges Cairn against etcd on put at {@link VERDICT_LEVELS} clients: Cairn's req/s ≥ etcd's and
 * Cairn's p99 ≤ etcd's. A level where either side had errors fails.
 */
export function verdict(results: LevelResult[]): Verdict {
  const find = (t: string, c: number) =>
    results.find((r) => r.target === t && r.operation === "put" && r.clients === c);
  const lines: VerdictLine[] = VERDICT_LEVELS.map((clients) => {
    const e = find("etcd", clients);
    const c = find("cairn", clients);
    if (!e || !c)
      return { clients, outcome: "n/a", text: `put @${clients} clients: not measured on both systems` };
    const thr = c.requestsPerSecond >= e.requestsPerSecond;
    const p99 = c.p99Ms <= e.p99Ms;
    const clean = c.errors === 0 && e.errors === 0;
    const outcome = thr && p99 && clean ? "pass" : "fail";
    const text =
      `put @${clients} clients: cairn ${fmt(c.requestsPerSecond, 0)} vs etcd ${fmt(e.requestsPerSecond, 0)} req/s ` +
      `(${thr ? "ok" : "below"}), p99 ${fmt(c.p99Ms, 2)} vs ${fmt(e.p99Ms, 2)} ms (${p99 ? "ok" : "worse"})` +
      (clean ? "" : ", errors in run");
    return { clients, outcome, text };
  });
  const judged = lines.filter((l) => l.outcome !== "n/a");
  const outcome = judged.length === 0 ? "n/a" : judged.every((l) => l.outcome === "pass") ? "pass" : "fail";
  return { outcome, lines };
}

/** Prints the verdict block. */
export function printVerdict(v: Verdict): void {
  process.stdout.write(
    "\nTarget: put throughput at 1 and at 64 clients at least etcd's, and p99 no worse.\n",
  );
  for (const l of v.lines) process.stdout.write(`  [${l.outcome.toUpperCase()}] ${l.text}\n`);
  process.stdout.write(`VERDICT: ${v.outcome.toUpperCase()}\n`);
}
