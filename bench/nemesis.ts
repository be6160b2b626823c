/**
 * The nemesis for longer: five `cairn serve` processes on loopback, concurrent clients through the
 * /v1 API, and a nemesis cycling through kill -9, SIGSTOP/SIGCONT, symmetric and asymmetric
 * partitions (transport failpoints) and member remove/re-add under load; each run's history is
 * checked for linearizability and for acknowledged writes (test/nemesis/run.ts, the same code as
 * the test test/nemesis/nemesis.test.ts).
 *
 *   node --import tsx bench/nemesis.ts --duration-s 600 --seed 7 [--run-s 300] [--clients 8] [--keys 8]
 *     [--members 5] [--request-timeout-ms 4000] [--think-ms 10] [--json report.json] [--quiet]
 *     [--serve-flags "--snapshot-count=500 --snapshot-catchup-entries=100"]
 *
 * The fault time (--duration-s) is split into runs of at most --run-s seconds, each on a fresh
 * cluster with seed, seed+1, ...: a shorter history per check keeps the checker fast, and each run
 * replays its schedule from its own seed. Self-stopping: the whole script gives up after
 * duration + 10 minutes per run (exit code 3). A first SIGINT/SIGTERM ends the fault phase early and
 * the run still heals (restarting members that the signal stopped too, as Ctrl-C in a terminal
 * does), checks and reports; a second one kills every member at once. Exit code 0 when every run
 * passed, 1 otherwise, 2 on bad flags.
 */
import { rmSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import type { TestCluster } from "../test/helpers/cluster.ts";
import { FAULT_KINDS } from "../test/nemesis/nemesis.ts";
import { formatDebug, formatReport, type NemesisReport, runNemesis } from "../test/nemesis/run.ts";

/** Parsed command-line options (strings as commander gives them). */
interface NemesisCliOptions {
  durationS: string;
  runS: string;
  seed?: string;
  members: string;
  clients: string;
  keys: string;
  requestTimeoutMs: string;
  thinkMs: string;
  json?: string;
  quiet?: boolean;
  serveFlags?: string;
}

/** Margin per run beyond its fault time: start, convergence, final reads, check (ms). */
const PER_RUN_MARGIN_MS = 10 * 60_000;

function parseOptions(): NemesisCliOptions {
  return new Command("nemesis")
    .description(
      "real Cairn processes under kill -9, pauses, partitions and membership changes; checks linearizability",
    )
    .option("--duration-s <s>", "total fault time over all runs", "600")
    .option("--run-s <s>", "longest fault time of one run (one cluster, one history)", "300")
    .option("--seed <n>", "seed of the first run (default: from the clock, printed)")
    .option("--members <n>", "members of the cluster", "5")
    .option("--clients <n>", "concurrent clients", "8")
    .option("--keys <n>", "keys the clients share", "8")
    .option("--request-timeout-ms <ms>", "deadline of each client request", "4000")
    .option("--think-ms <ms>", "most pause of a client between two operations", "10")
    .option(
      "--serve-flags <flags>",
      'extra `cairn serve` flags for every member, e.g. "--snapshot-count=500 --snapshot-catchup-entries=100"',
    )
    .option("--json <file>", "also write the reports as JSON")
    .option("--quiet", "do not stream the nemesis log")
    .parse()
    .opts<NemesisCliOptions>();
}

function int(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got "${text}"\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<number> {
  const o = parseOptions();
  const durationMs = int("duration-s", o.durationS, 1) * 1000;
  const runMs = int("run-s", o.runS, 10) * 1000;
  const firstSeed = o.seed === undefined ? Date.now() % 1_000_000 : int("seed", o.seed, 0);
  const runs = Math.ceil(durationMs / runMs);
  const common = {
    members: int("members", o.members, 3),
    clients: int("clients", o.clients, 1),
    keys: int("keys", o.keys, 1),
    requestTimeoutMs: int("request-timeout-ms", o.requestTimeoutMs, 100),
    thinkMs: int("think-ms", o.thinkMs, 0),
    extraFlags: (o.serveFlags ?? "").split(/\s+/).filter((f) => f !== ""),
  };

  const abort = new AbortController();
  let current: TestCluster | null = null;
  const killAll = () => {
    for (const m of current?.members ?? []) m.process?.kill("SIGKILL");
    if (current) rmSync(current.dir, { recursive: true, force: true });
  };
  process.on("exit", killAll);
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      process.stderr.write(`\nsecond ${signal}: killing every member\n`);
      process.exit(130);
    }
    process.stderr.write(
      `\n${signal}: ending the fault phase; the run still heals and checks (again to kill)\n`,
    );
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const hardStop = setTimeout(
    () => {
      process.stderr.write(
        `gave up: the script ran past its bound of ${durationMs / 1000} s + 10 min per run\n`,
      );
      process.exit(3);
    },
    durationMs + runs * PER_RUN_MARGIN_MS,
  );
  hardStop.unref();

  process.stderr.write(
    `cairn nemesis: ${durationMs / 1000} s of faults in ${runs} run(s) of ≤ ${runMs / 1000} s, first seed ${firstSeed}, ` +
      `${common.members} members, ${common.clients} clients, ${common.keys} keys (loopback only)\n`,
  );
  const reports: NemesisReport[] = [];
  let left = durationMs;
  for (let i = 0; i < runs && !abort.signal.aborted; i++) {
    const seed = firstSeed + i;
    const thisRun = Math.min(runMs, left);
    left -= thisRun;
    const report = await runNemesis({
      ...common,
      seed,
      durationMs: thisRun,
      signal: abort.signal,
      onCluster: (c) => {
        current = c;
      },
      ...(!o.quiet && { onLog: (line: string) => process.stderr.write(`[seed ${seed}] ${line}\n`) }),
    });
    current = null;
    reports.push(report);
    process.stdout.write(`\n${formatReport(report)}\n`);
    if (!report.passed) process.stdout.write(`${formatDebug(report)}\n`);
  }

  if (reports.length > 1) process.stdout.write(`\n${summary(reports)}\n`);
  if (o.json) writeFileSync(o.json, JSON.stringify(reports, null, 2));
  return reports.every((r) => r.passed) ? 0 : 1;
}

/** Totals over several runs. */
function summary(reports: NemesisReport[]): string {
  const faults = Object.fromEntries(
    FAULT_KINDS.map((k) => [k, reports.reduce((a, r) => a + r.faults[k], 0)]),
  );
  const kills = reports
    .flatMap((r) => r.leaderChanges)
    .filter((c) => c.kind === "kill" && c.ms !== null)
    .map((c) => c.ms!)
    .sort((a, b) => a - b);
  const failed = reports.filter((r) => !r.passed).map((r) => r.seed);
  return [
    `summary of ${reports.length} runs (seeds ${reports[0]!.seed}..${reports[reports.length - 1]!.seed}):`,
    `  operations checked: ${reports.reduce((a, r) => a + r.operationsChecked, 0)}; ` +
      `members caught up by snapshot: ${reports.reduce((a, r) => a + r.snapshotRestores, 0)} times`,
    `  faults: ${Object.entries(faults)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `  leader kill → new leader: ${
      kills.length
        ? `${kills.length} kills, min ${kills[0]!.toFixed(0)} ms, median ${kills[Math.floor(kills.length / 2)]!.toFixed(0)} ms, max ${kills[kills.length - 1]!.toFixed(0)} ms`
        : "none measured"
    }`,
    `  violations: ${reports.filter((r) => r.check.ok === false).length}; failed runs: ${failed.length ? failed.join(", ") : "none"}`,
  ].join("\n");
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `nemesis failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
