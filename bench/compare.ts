/**
 * Cairn next to a real etcd, in one run: start a three-member etcd 3.4 and a three-member Cairn,
 * run every level of put / range-linearizable / range-serializable against each leader through
 * the JSON gateway, the two systems level by level in alternating order (see benchTargets); print
 * one table and the verdict on Cairn's target (put throughput at 1 and 64 clients ≥ etcd's, p99
 * no worse).
 *
 *   npm run bench -- [--duration-ms 5000] [--levels 1,16,64,256] [--only etcd|cairn] [--json out.json]
 *
 * Exit code: 0 when every requested system ran without request errors, 2 otherwise (a system did not
 * start, or a level had errors). The verdict does not change the exit code.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { Command, Option } from "commander";
import { startCairnCluster } from "./cairn-cluster.ts";
import { isShuttingDown, runMain } from "./cleanup.ts";
import { probeDisk } from "./disk.ts";
import { etcdVersion, findEtcd, startEtcdCluster } from "./etcd-cluster.ts";
import {
  type LevelOptions,
  type LevelResult,
  LevelRun,
  type LoadTarget,
  parseLevels,
  populate,
  runLevel,
} from "./load.ts";
import { printResults, printVerdict, verdict } from "./report.ts";
import { makeWorkload, OPERATIONS, type Operation, type Workload } from "./workload.ts";

/** Parsed command-line options. */
interface CompareOptions {
  durationMs: string;
  warmupMs: string;
  opWarmupMs: string;
  rounds: string;
  requests?: string;
  timeoutMs: string;
  levels: string;
  ops: string;
  only?: "etcd" | "cairn";
  json?: string;
  peerTls: boolean;
  endpoints: "leader" | "all";
  cairnRuntime: "node" | "bun";
}

/** A system that could not be benchmarked, and why. */
interface Skipped {
  target: string;
  reason: string;
  /** False only when etcd is simply not installed and was not asked for alone (Cairn runs on its own). */
  failure: boolean;
}

function parseOptions(): CompareOptions {
  return new Command("compare")
    .description("benchmark Cairn and etcd 3.4 side by side through etcd's JSON gateway (loopback only)")
    .option("--duration-ms <ms>", "measured time per level", "5000")
    .option("--warmup-ms <ms>", "unrecorded warm-up per level", "1000")
    .option(
      "--op-warmup-ms <ms>",
      "unrecorded warm-up per operation, before its first level (16 clients; JIT and caches warm, both systems alike)",
      "8000",
    )
    .option(
      "--rounds <n>",
      "alternating slices each level's measurement is split into (etcd, Cairn, Cairn, etcd, ...)",
      "4",
    )
    .option("--requests <n>", "requests per level instead of --duration-ms")
    .option("--timeout-ms <ms>", "per-request timeout (a request without answer counts as an error)", "10000")
    .option("--levels <list>", "concurrent clients per level", "1,16,64,256")
    .option("--ops <list>", `operations (${OPERATIONS.join(",")})`, OPERATIONS.join(","))
    .addOption(new Option("--only <system>", "benchmark one system").choices(["etcd", "cairn"]))
    .option("--json <file>", "also write the results as JSON")
    .option("--no-peer-tls", "etcd peers over plain HTTP (Cairn's peers always use mTLS)")
    .addOption(
      new Option(
        "--endpoints <which>",
        "leader: every client on the leader; all: clients round-robin over members",
      )
        .choices(["leader", "all"])
        .default("leader"),
    )
    .addOption(
      new Option("--cairn-runtime <rt>", "runtime of Cairn's members")
        .choices(["node", "bun"])
        .default("node"),
    )
    .parse()
    .opts<CompareOptions>();
}

/** Clients of the per-operation warm-up. */
const OP_WARMUP_CLIENTS = 16;

/**
 * Runs every operation × level against every target, interleaved: for each operation, each
 * target first runs it unrecorded for `opWarmupMs` (a server is measured warm, as it runs in
 * production: Node's JIT optimizes the hot paths only after thousands of calls; etcd gets the
 * same warm-up); then each level runs on every target in `rounds` alternating slices (benchLevel),
 * the order of the first slice alternating from level to level. On a shared machine whose speed
 * drifts over minutes, this measures both systems under the same conditions, where one system
 * after the other would hand the drift to one side.
 */
async function benchTargets(
  targets: LoadTarget[],
  ops: Operation[],
  levels: number[],
  base: Omit<LevelOptions, "clients">,
  w: Workload,
  opWarmupMs: number,
  rounds: number,
): Promise<LevelResult[]> {
  for (const target of targets) {
    process.stderr.write(`${target.name}: writing ${w.keyCount} keys...\n`);
    await populate(target.endpoints[0]!, w);
  }
  const results: LevelResult[] = [];
  let turn = 0;
  for (const op of ops) {
    for (const target of opWarmupMs > 0 ? targets : []) {
      process.stderr.write(`${target.name} ${op}: warming up for ${opWarmupMs} ms (not recorded)...\n`);
      await runLevel(
        target,
        op,
        { ...base, clients: OP_WARMUP_CLIENTS, durationMs: opWarmupMs, warmupMs: 0 },
        w,
      );
    }
    for (const clients of levels) {
      const order = turn++ % 2 === 0 ? targets : [...targets].reverse();
      results.push(...(await benchLevel(order, op, { ...base, clients }, w, rounds)));
    }
  }
  return results;
}

/**
 * Measures one level on every target in `rounds` alternating slices: each target runs
 * `durationMs / rounds` (or `requests / rounds`, rounded up) per round, in `order` in even rounds and
 * in reverse order in odd ones, on connections that stay open for the whole level; its figures are
 * over all of its slices. A target's level warm-up runs right before its first slice. Short
 * alternating slices hand a slow stretch of the machine to both systems (bench/README.md has the
 * runs that motivated it).
 * @throws Error "interrupted" on Ctrl-C
 */
async function benchLevel(
  order: LoadTarget[],
  op: Operation,
  opts: LevelOptions,
  w: Workload,
  rounds: number,
): Promise<LevelResult[]> {
  const runs = order.map((t) => new LevelRun(t, op, opts, w));
  try {
    const sliceMs = opts.durationMs / rounds;
    const sliceRequests = opts.requests === undefined ? undefined : Math.ceil(opts.requests / rounds);
    for (let round = 0; round < rounds; round++) {
      for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
        if (isShuttingDown()) throw new Error("interrupted");
        if (round === 0 && opts.warmupMs > 0) await run.warmUp(opts.warmupMs);
        await run.measure(sliceMs, sliceRequests);
      }
    }
    return runs.map((run) => {
      const r = run.result();
      process.stderr.write(
        `${r.target} ${op} clients=${r.clients}: ${r.requestsPerSecond.toFixed(0)} req/s, ` +
          `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} ERRORS` : ""}\n`,
      );
      return r;
    });
  } finally {
    for (const run of runs) run.close();
  }
}

/** What the benchmark needs of a started etcd or Cairn cluster. */
interface StartedCluster {
  members: { clientUrl: string }[];
  leader: { clientUrl: string };
  stop(): Promise<void>;
}

/** Leader first, then the other members (the order clients are assigned to). */
function endpointsOf(leaderUrl: string, memberUrls: string[], which: "leader" | "all"): string[] {
  return which === "leader" ? [leaderUrl] : [leaderUrl, ...memberUrls.filter((u) => u !== leaderUrl)];
}

async function main(): Promise<number> {
  const o = parseOptions();
  const levels = parseLevels(o.levels);
  const ops = o.ops.split(",").map((s) => s.trim()) as Operation[];
  for (const op of ops) if (!OPERATIONS.includes(op)) throw new Error(`unknown operation "${op}"`);
  const num = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${text}"`);
    return n;
  };
  const base: Omit<LevelOptions, "clients"> = {
    durationMs: num("duration-ms", o.durationMs, 1),
    warmupMs: num("warmup-ms", o.warmupMs, 0),
    requestTimeoutMs: num("timeout-ms", o.timeoutMs, 1),
    ...(o.requests !== undefined ? { requests: num("requests", o.requests, 1) } : {}),
  };
  const opWarmupMs = num("op-warmup-ms", o.opWarmupMs, 0);
  const rounds = num("rounds", o.rounds, 1);
  if (base.requests === undefined && base.durationMs / rounds < 100) {
    throw new Error(`--duration-ms / --rounds must be at least 100 ms, got ${base.durationMs} / ${rounds}`);
  }
  const w = makeWorkload();
  const results: LevelResult[] = [];
  const skipped: Skipped[] = [];
  let etcdVer: string | null = null;

  process.stderr.write(
    `cairn bench: ${levels.length} levels × ${ops.length} ops, ` +
      `${base.requests ? `${base.requests} requests` : `${base.durationMs} ms`} + ${base.warmupMs} ms warm-up each, ` +
      `in ${rounds} alternating slices; ` +
      `${opWarmupMs} ms warm-up per operation; ` +
      `keys ${w.keyCount} × ${w.keySizeBytes} B, values ${w.valueSizeBytes} B; peers ${o.peerTls ? "mTLS" : "etcd plain HTTP, Cairn mTLS"}\n`,
  );

  const disk = probeDisk();
  process.stderr.write(
    `disk (${disk.dir}): 512 B write + fdatasync p50 ${disk.p50Ms.toFixed(3)} ms, p99 ${disk.p99Ms.toFixed(3)} ms\n`,
  );

  // Both clusters run for the whole measurement (an idle one only exchanges heartbeats).
  const stops: (() => Promise<void>)[] = [];
  const targets: LoadTarget[] = [];
  /** Starts one system's cluster and adds it to the targets; a failure to start is recorded as skipped. */
  const start = async (name: string, how: string, cluster: () => Promise<StartedCluster>) => {
    try {
      process.stderr.write(`${how}...\n`);
      const c = await cluster();
      stops.push(() => c.stop());
      const urls = c.members.map((m) => m.clientUrl);
      targets.push({ name, endpoints: endpointsOf(c.leader.clientUrl, urls, o.endpoints) });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${name} did not start: ${reason}\n`);
      skipped.push({ target: name, reason, failure: true });
    }
  };
  try {
    if (o.only !== "cairn") {
      const bin = findEtcd();
      if (!bin) {
        const reason = "etcd is not installed; install it with: apt-get install -y etcd-server";
        process.stderr.write(`${reason}\n${o.only === "etcd" ? "" : "Running Cairn only.\n"}`);
        skipped.push({ target: "etcd", reason, failure: o.only === "etcd" });
      } else {
        etcdVer = etcdVersion(bin);
        const etcdBin = bin;
        const how = `etcd ${etcdVer}: starting 3 members (peer ${o.peerTls ? "mTLS" : "plain HTTP"})`;
        await start("etcd", how, () => startEtcdCluster({ peerTls: o.peerTls, etcdBin }));
      }
    }
    if (o.only !== "etcd" && !isShuttingDown()) {
      const how = `cairn: starting 3 members on ${o.cairnRuntime} (peer mTLS)`;
      await start("cairn", how, () => startCairnCluster({ runtime: o.cairnRuntime }));
    }
    if (targets.length > 0) {
      try {
        results.push(...(await benchTargets(targets, ops, levels, base, w, opWarmupMs, rounds)));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        process.stderr.write(`benchmark run failed: ${reason}\n`);
        for (const t of targets) skipped.push({ target: t.name, reason, failure: true });
      }
    }
  } finally {
    for (const stop of stops) await stop();
  }

  process.stdout.write(
    `\nDisk under ${disk.dir}: write+fdatasync p50 ${disk.p50Ms.toFixed(3)} ms, p99 ${disk.p99Ms.toFixed(3)} ms. ` +
      `Clients talk plain HTTP/1.1 keep-alive to etcd's JSON gateway paths on both systems.\n`,
  );
  const hadErrors = results.length > 0 ? printResults(results) : false;
  for (const s of skipped) process.stdout.write(`\nNOT MEASURED: ${s.target}: ${s.reason.split("\n")[0]}\n`);
  const v = verdict(results);
  printVerdict(v);

  if (o.json) {
    const doc = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? null,
        totalMemoryBytes: os.totalmem(),
        note: "load generator and all cluster members run on this one machine",
      },
      node: process.version,
      disk,
      etcdVersion: etcdVer,
      options: {
        levels,
        ops,
        ...base,
        rounds,
        peerTls: o.peerTls,
        endpoints: o.endpoints,
        cairnRuntime: o.cairnRuntime,
        keyCount: w.keyCount,
        keySizeBytes: w.keySizeBytes,
        valueSizeBytes: w.valueSizeBytes,
      },
      results,
      skipped,
      verdict: v,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stderr.write(`results written to ${o.json}\n`);
  }
  return hadErrors || skipped.some((s) => s.failure) ? 2 : 0;
}

runMain(main);
