/**
 * One nemesis run, shared by the test (test/nemesis/nemesis.test.ts) and the longer script
 * (bench/nemesis.ts): start a cluster of real `cairn serve` processes on loopback, run concurrent
 * clients (workload.ts) while the nemesis (nemesis.ts) injects faults, then heal everything, wait
 * for the members to converge, read every key on every member, and check
 * - the whole history (clients and final reads) for linearizability (test/lincheck), and
 * - that every acknowledged write is present on every member (acknowledged.ts).
 * The result is a {@link NemesisReport}; {@link formatReport} prints it, {@link formatDebug} adds
 * the nemesis log and the members' stderr tails for a failure.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { TestCluster } from "../helpers/cluster.ts";
import { type CheckResult, checkLinearizable } from "../lincheck/checker.ts";
import { type History, HistoryRecorder } from "../lincheck/history.ts";
import type { KvGetOutput, KvInput, KvOutput } from "../lincheck/kv-model.ts";
import { Rng } from "../sim/rng.ts";
import { checkAcknowledgedWrites } from "./acknowledged.ts";
import { HttpClient } from "./http.ts";
import { FAULT_KINDS, type FaultKind, type LeaderChange, Nemesis } from "./nemesis.ts";
import { Workload, type WorkloadStats } from "./workload.ts";

/** Options of {@link runNemesis}. Durations in ms. */
export interface RunOptions {
  /** Seed of the schedule (fault order, targets, durations) and of the clients' choices. */
  seed: number;
  /** Length of the fault phase: no fault starts after it (the last one finishes). */
  durationMs: number;
  /** Stop the fault phase after this many full cycles of every fault kind (default: no limit). */
  maxCycles?: number;
  /** Members of the cluster; default 5. */
  members?: number;
  /** Concurrent clients; default 8. */
  clients?: number;
  /** Keys the clients share; default 8. */
  keys?: number;
  /** Deadline of each client request; default 4000. */
  requestTimeoutMs?: number;
  /** Most pause of a client between two operations; default 10. */
  thinkMs?: number;
  /** Wall-clock budget of the linearizability check; default 60000. */
  checkTimeoutMs?: number;
  /** Longest wait for the members to converge after healing; default 45000. */
  convergeTimeoutMs?: number;
  /** Extra `cairn serve` flags for every member. */
  extraFlags?: string[];
  /** Progress lines (nemesis log, phases) as they happen. */
  onLog?: (line: string) => void;
  /** Aborting ends the fault phase early; the run still heals, checks and cleans up. */
  signal?: AbortSignal;
  /** Called with the cluster once created, before any process starts (e.g. to kill its members at exit). */
  onCluster?: (cluster: TestCluster) => void;
}

/** Everything a run measured and found. */
export interface NemesisReport {
  seed: number;
  members: number;
  clients: number;
  keys: number;
  /** Extra `cairn serve` flags of the members. */
  extraFlags: string[];
  /** Wall time of the whole run and of the fault phase (ms). */
  wallMs: number;
  faultPhaseMs: number;
  workload: WorkloadStats;
  /** Operations the checker constrains: every one except `fail`s and reads of unknown outcome. */
  operationsChecked: number;
  /** Of which final reads (one per key and member). */
  finalReads: number;
  faults: Record<FaultKind, number>;
  /** Times a member logged that it restored its state from a leader's snapshot (caught up by snapshot). */
  snapshotRestores: number;
  leaderChanges: LeaderChange[];
  check: CheckResult;
  checkMs: number;
  /** Acknowledged writes missing or members disagreeing at the end (empty: none). */
  acknowledgedProblems: string[];
  /** Problems of the run itself: members that did not start, no convergence, unexpected answers. */
  problems: string[];
  /** True when linearizable, every acknowledged write present, and no problem. */
  passed: boolean;
  /** The nemesis log. */
  log: string[];
  /** Last 4000 characters of each member's stderr (removed members included), captured at the end. */
  stderrTails: Record<string, string>;
  /** The checker's explanation when the history is not linearizable. */
  violation?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs one nemesis run (see the module comment). Only loopback; every process it starts is killed
 * and its temp dir removed before it returns or throws.
 * @throws Error when the cluster cannot start (no leader within 60 s); faults and check failures
 *   are reported in the result, not thrown
 */
export async function runNemesis(opts: RunOptions): Promise<NemesisReport> {
  const t0 = performance.now();
  const memberCount = opts.members ?? 5;
  const clients = opts.clients ?? 8;
  const keyCount = opts.keys ?? 8;
  const rng = new Rng(opts.seed);
  const nemesisRng = rng.fork();
  const clientRng = rng.fork();
  const say = (line: string) => opts.onLog?.(line);
  const http = new HttpClient();
  const cluster = await TestCluster.create(memberCount, { extraFlags: opts.extraFlags ?? [] });
  const problems: string[] = [];
  let workload: Workload | undefined;
  opts.onCluster?.(cluster);
  try {
    const failpointsDir = path.join(cluster.dir, "failpoints");
    mkdirSync(failpointsDir, { recursive: true });
    const nemesis = new Nemesis(cluster, { rng: nemesisRng, http, failpointsDir, t0, onLog: opts.onLog });
    nemesis.prepare();
    for (const m of cluster.members) cluster.start(m);
    await cluster.waitForLeader(60_000);
    await nemesis.learnIds();
    nemesis.note(
      `cluster of ${memberCount} started; ${clients} clients on ${keyCount} keys; seed ${opts.seed}`,
    );

    const recorder = new HistoryRecorder<KvInput, KvOutput>();
    const keys = Array.from({ length: keyCount }, (_, i) => `nemesis/k${i}`);
    workload = new Workload({
      clients,
      keys,
      requestTimeoutMs: opts.requestTimeoutMs ?? 4_000,
      thinkMs: opts.thinkMs ?? 10,
      rng: clientRng,
      endpoints: () => nemesis.endpoints(),
      http,
      recorder,
    });
    workload.start();
    await sleep(1_000); // faults start under load

    const faultStart = performance.now();
    await nemesis.run(faultStart + opts.durationMs, opts.maxCycles, opts.signal);
    const faultPhaseMs = performance.now() - faultStart;

    await nemesis.healAll();
    nemesis.note("healed everything; clients continue for 2 s");
    await sleep(2_000);
    await workload.stop();
    const stats = workload.stats(); // before the final reads, which the same object records
    nemesis.note(`clients stopped after ${stats.operations} operations`);

    const converged = await waitConverged(nemesis, cluster, opts.convergeTimeoutMs ?? 45_000);
    if (converged !== null) problems.push(converged);
    else nemesis.note("members converged (same leader, same applied index)");

    // Final reads: linearizable on every member (recorded: they close the history), then
    // serializable (the member's own state machine; compared, not recorded). All pairs at once.
    const finalValues = new Map<string, Map<string, string | null>>(keys.map((k) => [k, new Map()]));
    const reader = workload;
    let finalReads = 0;
    await Promise.all(
      cluster.members.flatMap((m) =>
        keys.map(async (key) => {
          const byMember = finalValues.get(key)!;
          let value: string | null | undefined;
          for (let attempt = 0; attempt < 3 && value === undefined; attempt++) {
            const out = await reader.execute(`final-${m.name}`, m.clientUrl, { op: "get", key });
            finalReads++;
            if (out.type === "ok") value = (out.output as KvGetOutput).value;
            else await sleep(500);
          }
          if (value === undefined)
            problems.push(`final linearizable read of ${key} on ${m.name} failed 3 times`);
          else byMember.set(m.name, value);
          const local = await serializableRead(http, m.clientUrl, key);
          if (local === undefined) problems.push(`final serializable read of ${key} on ${m.name} failed`);
          else byMember.set(`${m.name}/serializable`, local);
        }),
      ),
    );
    for (const u of reader.stats().unexpected) problems.push(`unexpected answer: ${u}`);
    problems.push(...nemesis.problems);

    const stderrTails: Record<string, string> = {};
    let snapshotRestores = 0;
    for (const m of nemesis.everyMember) {
      stderrTails[m.name] = m.stderr.slice(-4_000);
      snapshotRestores += m.stderr.split("restored state from a leader's snapshot").length - 1;
    }
    await cluster.destroy(); // frees the CPU for the checker

    const history = recorder.history();
    const checkStart = performance.now();
    const check = checkLinearizable(history, { timeoutMs: opts.checkTimeoutMs ?? 60_000 });
    const checkMs = performance.now() - checkStart;
    if (check.ok === "unknown") problems.push(`the linearizability check was not decided: ${check.reason}`);
    const acknowledgedProblems = checkAcknowledgedWrites(history, finalValues);
    nemesis.note(`checked: linearizable=${String(check.ok)} in ${checkMs.toFixed(0)} ms`);

    return {
      seed: opts.seed,
      members: memberCount,
      clients,
      keys: keyCount,
      extraFlags: opts.extraFlags ?? [],
      wallMs: performance.now() - t0,
      faultPhaseMs,
      workload: stats,
      operationsChecked: countChecked(history),
      finalReads,
      faults: { ...nemesis.faults },
      snapshotRestores,
      leaderChanges: [...nemesis.leaderChanges],
      check,
      checkMs,
      acknowledgedProblems,
      problems,
      passed: check.ok === true && acknowledgedProblems.length === 0 && problems.length === 0,
      log: [...nemesis.log],
      stderrTails,
      ...(check.ok === false && { violation: check.reason }),
    };
  } finally {
    await workload?.stop(); // a no-op unless something above threw while the clients ran
    await cluster.destroy();
    http.close();
    say(`run of seed ${opts.seed} finished after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** Operations the checker constrains: not `fail`, and not a read with an unknown outcome. */
function countChecked(history: History<KvInput, KvOutput>): number {
  return history.filter(
    (op) => op.outcome.type === "ok" || (op.outcome.type === "unknown" && op.input.op !== "get"),
  ).length;
}

/** A member's local value of `key` (serializable read); undefined when it does not answer. */
async function serializableRead(
  http: HttpClient,
  url: string,
  key: string,
): Promise<string | null | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await http.request({
      method: "GET",
      baseUrl: url,
      path: `/v1/kv/${encodeURIComponent(key)}?consistency=serializable`,
      timeoutMs: 5_000,
    });
    if (r.kind === "response" && r.status === 200) return r.body;
    if (r.kind === "response" && r.status === 404) return null;
    await sleep(300);
  }
  return undefined;
}

/**
 * Waits until every member answers, names the same leader, and all have the same applied index
 * (equal to the commit index). @returns null when converged, else what was last seen
 */
async function waitConverged(
  nemesis: Nemesis,
  cluster: TestCluster,
  timeoutMs: number,
): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  for (;;) {
    const statuses = await Promise.all(cluster.members.map((m) => nemesis.status(m, 2_000)));
    const ok =
      statuses.every((s) => s !== null) &&
      new Set(statuses.map((s) => s!.leader)).size === 1 &&
      statuses[0]!.leader !== "" &&
      new Set(statuses.map((s) => s!.applied_index)).size === 1 &&
      statuses.every((s) => s!.commit_index === s!.applied_index) &&
      statuses.every((s) => !s!.is_learner);
    if (ok) return null;
    last = cluster.members
      .map((m, i) => {
        const s = statuses[i];
        return s
          ? `${m.name}: leader=${s.leader} term=${s.raft_term} commit=${s.commit_index} applied=${s.applied_index}${s.is_learner ? " learner" : ""}`
          : `${m.name}: no answer`;
      })
      .join("; ");
    if (performance.now() > deadline) return `members did not converge within ${timeoutMs} ms: ${last}`;
    await sleep(200);
  }
}

/** Summary statistics of the leader-change times of one fault kind. */
function leaderTimes(changes: LeaderChange[], kind: FaultKind): string {
  const all = changes.filter((c) => c.kind === kind);
  if (all.length === 0) return "";
  const ms = all
    .map((c) => c.ms)
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  const none = all.length - ms.length;
  const list = ms.map((x) => x.toFixed(0)).join(", ");
  const stats =
    ms.length > 1
      ? ` (min ${ms[0]!.toFixed(0)}, median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)}, max ${ms[ms.length - 1]!.toFixed(0)})`
      : "";
  const downs = all.flatMap((c) => (c.stepDownMs === undefined ? [] : [c.stepDownMs]));
  const stepDown = downs.length
    ? `; old leader stepped down after: ${downs.map((x) => (x === null ? "never" : x.toFixed(0))).join(", ")} ms`
    : "";
  return `${kind} of the leader → new leader: ${list || "-"} ms${stats}${none ? `; ${none}× no new leader during the fault` : ""}${stepDown}`;
}

/** The report as text (what the test and the script print). */
export function formatReport(r: NemesisReport): string {
  const w = r.workload;
  const sum = (f: (c: { ok: number; fail: number; unknown: number }) => number) =>
    Object.values(w.byOp).reduce((a, c) => a + f(c), 0);
  const lines = [
    `nemesis run, seed ${r.seed}: ${r.members} members${r.extraFlags.length ? ` (${r.extraFlags.join(" ")})` : ""}, ` +
      `${r.clients} clients, ${r.keys} keys; ` +
      `fault phase ${(r.faultPhaseMs / 1000).toFixed(1)} s, wall ${(r.wallMs / 1000).toFixed(1)} s`,
    `operations: ${w.operations} by clients (ok ${sum((c) => c.ok)}, unknown ${sum((c) => c.unknown)}, ` +
      `fail ${sum((c) => c.fail)}) + ${r.finalReads} final reads; checked for linearizability: ${r.operationsChecked}`,
    `  by kind (ok/unknown/fail): ${Object.entries(w.byOp)
      .map(([op, c]) => `${op} ${c.ok}/${c.unknown}/${c.fail}`)
      .join(", ")}`,
    `  not ok: ${
      Object.entries(w.notOkReasons)
        .sort((a, b) => b[1] - a[1])
        .map(([why, n]) => `${why} ×${n}`)
        .join(", ") || "none"
    }`,
    `faults: ${FAULT_KINDS.map((k) => `${k} ${r.faults[k]}`).join(", ")} (total ${Object.values(r.faults).reduce((a, b) => a + b, 0)}); ` +
      `members caught up by snapshot ${r.snapshotRestores} times`,
    ...FAULT_KINDS.map((k) => leaderTimes(r.leaderChanges, k))
      .filter((x) => x !== "")
      .map((x) => `  ${x}`),
    r.check.ok === true
      ? `linearizability: ok (${r.check.partitions} keys, ${r.check.steps} search steps, ${r.checkMs.toFixed(0)} ms)`
      : r.check.ok === false
        ? `linearizability: VIOLATION on key ${r.check.key} (keys ${r.check.failedKeys.join(", ")}), ${r.checkMs.toFixed(0)} ms`
        : `linearizability: UNDECIDED (${r.check.reason})`,
    r.acknowledgedProblems.length === 0
      ? "acknowledged writes: every one present on every member"
      : `acknowledged writes: ${r.acknowledgedProblems.length} PROBLEMS\n${r.acknowledgedProblems.map((p) => `  ${p}`).join("\n")}`,
    r.problems.length === 0 ? "problems: none" : `problems:\n${r.problems.map((p) => `  ${p}`).join("\n")}`,
    `verdict: ${r.passed ? "PASSED" : "FAILED"} (replay the schedule with seed ${r.seed})`,
  ];
  return lines.join("\n");
}

/** The debugging detail of a run: the checker's explanation, the nemesis log, each member's stderr tail. */
export function formatDebug(r: NemesisReport): string {
  const parts = [];
  if (r.violation) parts.push(`--- linearizability violation ---\n${r.violation}`);
  parts.push(`--- nemesis log (seed ${r.seed}) ---\n${r.log.join("\n")}`);
  for (const [name, tail] of Object.entries(r.stderrTails)) {
    parts.push(`--- ${name} stderr (tail) ---\n${tail.trim() || "(empty)"}`);
  }
  return parts.join("\n");
}
