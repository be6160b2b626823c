/**
 * Issue 4's watch benchmark: many concurrent SSE watchers (`GET /v1/watch?key=cfg/&prefix=true`,
 * a config center's keys) on one Cairn member, and what they cost.
 *
 *   node --import tsx bench/watch.ts [--watchers 10000] [--procs 4] [--nodes 1|3] [--puts 100]
 *                                    [--put-clients 16] [--duration-ms 5000] [--json out.json]
 *
 * Phases, in this order (every one bounded by a timeout):
 *  1. start the member(s) (bench/cairn-cluster.ts) and write the loads' keys once (256 outside the
 *     watched prefix, 256 inside it);
 *  2. memory: member RSS settled, open W watchers from K watcher processes (bench/watch-client.ts),
 *     wait until every one got its `created` event, RSS settled again: (after − before) / W;
 *  3. put → event latency, paced: P probe puts one every --paced-interval-ms, in lockstep (a put
 *     is sent only once every watcher has the previous one, so each fan-out is measured alone),
 *     then fast: P more every --fast-interval-ms with up to --fast-in-flight outstanding (events
 *     queue); after each, wait until the revision stops moving and every watcher has it;
 *  4. put throughput with the watchers attached (the issue's target, the verdict): bench/load.ts's
 *     closed-loop put level (--put-clients, --duration-ms) on keys OUTSIDE the watched prefix while
 *     the watchers stay attached, plus a probe put to the watched prefix every --probe-interval-ms
 *     (put→event latency under that load); then the time until every watcher caught up;
 *  5. information: the same put level on keys INSIDE the watched prefix (every put fans out to
 *     every watcher), with the probes;
 *  6. the watchers close (RSS once more: is the memory given back?) and the same put level runs
 *     without watchers: the baseline. Measured last so the memory figure of phase 2 is taken on a
 *     member that has not yet grown its heap under load (`--baseline-first` adds one before, too).
 * Every watcher checks that it saw exactly the watched prefix's revisions, once each and in order:
 * in phases that write only inside the prefix, every revision; in phase 4, the prefix's revisions
 * read back from the member's history after the phase. `cancelled` events (the server's
 * slow-watcher protection) are counted and listed.
 *
 * Exit code: 0 when every watcher opened, every put succeeded and no watcher missed, repeated or lost
 * an event; 2 otherwise; 1 on bad options or a crash. The verdict does not change the exit code.
 */
import { type ChildProcess, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Table from "cli-table3";
import { Command, Option } from "commander";
import type { Histogram } from "hdr-histogram-js";
import { SseParser } from "../src/client/sse.ts";
import type { TestMember } from "../test/helpers/cluster.ts";
import { startCairnCluster } from "./cairn-cluster.ts";
import { isShuttingDown, registerCleanup, releaseAll, runMain } from "./cleanup.ts";
import { closeEndpoint, openEndpoint, postJson } from "./http.ts";
import { type LevelResult, populate, runLevel } from "./load.ts";
import {
  type ChildMessage,
  decodeHistogram,
  MARKER_KEY,
  newLatencyHistogram,
  nowMs,
  type ParentMessage,
  type PhaseReport,
  WATCH_PREFIX,
} from "./watch-ipc.ts";
import {
  CpuMeter,
  ephemeralPortCount,
  openFilesLimit,
  procStatusBytes,
  QUIET_CPU_PERCENT,
  settledRss,
  waitQuiet,
} from "./watch-proc.ts";
import { type ProbeResult, runProbes } from "./watch-writer.ts";
import { makeWorkload, type Workload } from "./workload.ts";

const CLIENT = path.join(import.meta.dirname, "watch-client.ts");
/** Target of issue 4: put throughput with the watchers attached at least this share of without. */
const TARGET_RATIO = 0.8;
/** Files a process needs besides its sockets (stdio, IPC, node's own, a margin). */
const SPARE_FILES = 200;
const MiB = 1024 * 1024;

interface Options {
  watchers: number;
  procs: number;
  nodes: number;
  watchOn: "leader" | "follower";
  runtime: "node" | "bun";
  puts: number;
  pacedIntervalMs: number;
  fastIntervalMs: number;
  fastInFlight: number;
  putClients: number;
  durationMs: number;
  warmupMs: number;
  probeIntervalMs: number;
  openConcurrency: number;
  openTimeoutMs: number;
  drainTimeoutMs: number;
  timeoutMs: number;
  maxRunMs: number;
  baselineFirst: boolean;
  json?: string;
}

function parseOptions(): Options {
  const int = (min: number, max: number) => (text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`expected an integer in ${min}..${max}, got "${text}"`);
    }
    return n;
  };
  const o = new Command("watch")
    .description("SSE watchers on one Cairn member: put→event latency, memory per watcher, put throughput")
    .option("--watchers <n>", "concurrent SSE watchers", int(1, 100_000), 10_000)
    .option("--procs <k>", "watcher processes the watchers are spread over", int(1, 64), 4)
    .addOption(new Option("--nodes <n>", "cluster members").choices(["1", "3"]).default("1"))
    .addOption(
      new Option("--watch-on <member>", "member the watchers connect to (puts always go to the leader)")
        .choices(["leader", "follower"])
        .default("leader"),
    )
    .addOption(
      new Option("--runtime <rt>", "runtime of the members").choices(["node", "bun"]).default("node"),
    )
    .option("--puts <n>", "probe puts in each latency phase (paced, fast)", int(1, 100_000), 100)
    .option("--paced-interval-ms <ms>", "time between probe puts, paced phase", int(1, 60_000), 50)
    .option("--fast-interval-ms <ms>", "time between probe puts, fast phase", int(1, 60_000), 10)
    .option("--fast-in-flight <n>", "most unanswered probe puts, fast phase", int(1, 1024), 16)
    .option("--put-clients <n>", "closed-loop put clients of the throughput phases", int(1, 4096), 16)
    .option("--duration-ms <ms>", "measured time of each throughput phase", int(1, 600_000), 5_000)
    .option(
      "--warmup-ms <ms>",
      "unrecorded warm-up before each throughput phase (JIT warm: the first phase is not measured colder than the baseline)",
      int(0, 600_000),
      8_000,
    )
    .option(
      "--probe-interval-ms <ms>",
      "probe put interval during the throughput phases (each probe is an event for every watcher)",
      int(1, 60_000),
      1_000,
    )
    .option("--open-concurrency <n>", "watchers waiting for `created` at once, per process", int(1, 4096), 32)
    .option("--open-timeout-ms <ms>", "bound of opening all watchers", int(1, 3_600_000), 180_000)
    .option("--drain-timeout-ms <ms>", "bound of waiting for watchers to catch up", int(1, 3_600_000), 60_000)
    .option("--timeout-ms <ms>", "per-request timeout of puts", int(1, 600_000), 10_000)
    .option("--max-run-ms <ms>", "hard bound of the whole run", int(1, 24 * 3_600_000), 30 * 60_000)
    .option("--baseline-first", "also measure the baseline before opening the watchers", false)
    .option("--json <file>", "also write the results as JSON")
    .parse()
    .opts<Omit<Options, "nodes"> & { nodes: string }>();
  return { ...o, nodes: Number(o.nodes) };
}

/** Refuses a run that would hit the machine's open-files or ephemeral-port limits halfway. */
function checkLimits(o: Options): void {
  const limit = openFilesLimit();
  const perProc = Math.ceil(o.watchers / o.procs) + SPARE_FILES;
  const member = o.watchers + o.putClients + SPARE_FILES + 2 * o.nodes;
  const problems: string[] = [];
  if (Number.isFinite(limit) && member > limit) {
    problems.push(
      `the member needs ~${member} open files (${o.watchers} watchers + ${o.putClients} put clients + ${SPARE_FILES}) ` +
        `but the limit (ulimit -n) is ${limit}: use --watchers ≤ ${limit - o.putClients - SPARE_FILES - 2 * o.nodes} or raise ulimit -n`,
    );
  }
  if (Number.isFinite(limit) && perProc > limit) {
    problems.push(
      `each watcher process needs ~${perProc} open files but the limit is ${limit}: raise --procs`,
    );
  }
  const ports = ephemeralPortCount();
  if (Number.isFinite(ports) && o.watchers + o.putClients + 1_000 > ports) {
    problems.push(
      `${o.watchers} connections to one port need more local ports than the ${ports} of ip_local_port_range`,
    );
  }
  if (o.watchOn === "follower" && o.nodes < 2) problems.push("--watch-on follower needs --nodes 3");
  if (o.procs > o.watchers) problems.push(`--procs ${o.procs} is more than --watchers ${o.watchers}`);
  if (problems.length > 0) throw new Error(`cannot run:\n  ${problems.join("\n  ")}`);
}

/** The watcher processes: fork, request/answer over IPC with timeouts, cleanup on any exit. */
class WatcherProcs {
  private constructor(readonly children: ChildProcess[]) {}

  static async start(count: number): Promise<WatcherProcs> {
    const children: ChildProcess[] = [];
    const unregister = registerCleanup({
      release: async () => {
        await Promise.all(children.map((c) => stopChild(c)));
      },
      releaseNow: () => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      },
    });
    const procs = new WatcherProcs(children);
    procs.unregister = unregister;
    for (let i = 0; i < count; i++) {
      const c = fork(CLIENT, [], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      c.on("message", (m: ChildMessage) => {
        if (m.type === "fatal") process.stderr.write(`watcher process ${c.pid}: ${m.message}\n`);
      });
      children.push(c);
    }
    await Promise.all(children.map((c) => waitFor(c, "ready", 30_000)));
    return procs;
  }

  unregister: () => Promise<void> = async () => {};

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** Sends one message to every process and waits for each one's answer of type `type`. */
  async ask<T extends ChildMessage["type"]>(
    make: (i: number) => ParentMessage,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { type: T }>[]> {
    const answers = this.children.map((c) => waitFor(c, type, timeoutMs));
    for (const [i, c] of this.children.entries()) {
      // With a callback, a closed channel is reported there (waitFor then rejects on the exit).
      if (c.connected)
        c.send(make(i), (err) => err && process.stderr.write(`watcher process ${c.pid}: ${err.message}\n`));
    }
    return Promise.all(answers);
  }

  /**
   * Starts a new phase in every process (counting from the answer on); `expect` and `fromRevision`
   * as in watch-ipc.ts's "phase" message.
   */
  async phase(name: string, expect: "every" | "listed", fromRevision: number): Promise<void> {
    await this.ask(() => ({ type: "phase", phase: name, expect, fromRevision }), "phased", 30_000);
  }
}

/** Resolves with the child's next message of `type`; rejects on its exit, a fatal message or the timeout. */
function waitFor<T extends ChildMessage["type"]>(
  c: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    if (!c.connected || c.exitCode !== null || c.signalCode !== null) {
      reject(new Error(`watcher process ${c.pid} is gone (waiting for "${type}")`));
      return;
    }
    const done = () => {
      clearTimeout(timer);
      c.off("message", onMessage);
      c.off("exit", onExit);
    };
    const onMessage = (m: ChildMessage) => {
      if (m.type === type) {
        done();
        resolve(m as Extract<ChildMessage, { type: T }>);
      } else if (m.type === "fatal") {
        done();
        reject(new Error(`watcher process ${c.pid} failed: ${m.message}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`watcher process ${c.pid} exited (${signal ?? code}) while waiting for "${type}"`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`watcher process ${c.pid}: no "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on("message", onMessage);
    c.once("exit", onExit);
  });
}

/** SIGTERM a child and wait for its exit (SIGKILL after 5 s). */
async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => c.kill("SIGKILL"), 5_000);
    c.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    c.kill("SIGTERM");
  });
}

/** One row of the result table. */
interface PhaseRow {
  phase: string;
  /** Watchers open at the start of the phase. */
  watchers: number;
  /** Puts answered (load + probes). */
  puts: number;
  putErrors: number;
  /** Put requests/s of the closed-loop load (throughput phases) or of the probes. */
  putsPerSecond: number;
  putP50Ms: number;
  putP99Ms: number;
  /** Put → event at every watcher, over all (watcher, probe event) pairs. */
  eventSamples: number;
  eventP50Ms: number;
  eventP99Ms: number;
  eventMaxMs: number;
  /** Revision messages delivered, and watchers × revisions of the phase. */
  events: number;
  expectedEvents: number;
  missed: number;
  duplicates: number;
  broken: number;
  compacted: number;
  cancelled: number;
  /** Watchers still behind the phase's last revision after the drain wait. */
  behind: number;
  /** From the last put's answer until every watcher had its revision (ms). */
  drainMs: number;
  /** Lockstep phase: from a put's send until the last watcher had it, p50 and max over the puts (ms). */
  fanoutP50Ms: number;
  fanoutMaxMs: number;
  /** Revision at the end of the phase (after the drain). */
  lastRevision: number;
  /**
   * Throughput phases: revisions the member applied from the phase start until the drain, per second
   * of load (warm-up + measured); counts puts whose client timed out but that were applied anyway.
   */
  revisionsPerSecond: number;
  /** Phases with load outside the prefix: the phase's revisions inside the watched prefix, and all of them. */
  prefixRevisions: number;
  phaseRevisions: number;
  memberCpuPercent: number;
  watcherProcsCpuPercent: number;
  memberRssBytes: number;
  samples: string[];
}

function emptyRow(phase: string, watchers: number): PhaseRow {
  return {
    phase,
    watchers,
    puts: 0,
    putErrors: 0,
    putsPerSecond: Number.NaN,
    putP50Ms: Number.NaN,
    putP99Ms: Number.NaN,
    eventSamples: 0,
    eventP50Ms: Number.NaN,
    eventP99Ms: Number.NaN,
    eventMaxMs: Number.NaN,
    events: 0,
    expectedEvents: 0,
    missed: 0,
    duplicates: 0,
    broken: 0,
    compacted: 0,
    cancelled: 0,
    behind: 0,
    drainMs: Number.NaN,
    fanoutP50Ms: Number.NaN,
    fanoutMaxMs: Number.NaN,
    lastRevision: 0,
    revisionsPerSecond: Number.NaN,
    prefixRevisions: 0,
    phaseRevisions: 0,
    memberCpuPercent: Number.NaN,
    watcherProcsCpuPercent: Number.NaN,
    memberRssBytes: Number.NaN,
    samples: [],
  };
}

const ms = (h: Histogram, p: number) => (h.totalCount > 0 ? h.getValueAtPercentile(p) / 1000 : Number.NaN);

/** Current revision of a member (GET /v1/status). */
async function revisionOf(url: string): Promise<number> {
  const r = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`GET ${url}/v1/status: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { revision: number }).revision;
}

/**
 * The workload `w` with its keys moved under `prefix` ("cfg/b000" …), same values: a put load
 * inside the watched prefix.
 */
function prefixedWorkload(w: Workload, prefix: string): Workload {
  const digits = String(w.keyCount - 1).length;
  const out: Workload = { ...w, putBodies: [], rangeLinearizableBodies: [], rangeSerializableBodies: [] };
  for (let i = 0; i < w.keyCount; i++) {
    const k64 = Buffer.from(`${prefix}${String(i).padStart(digits, "0")}`).toString("base64");
    out.putBodies.push(Buffer.from(JSON.stringify({ key: k64, value: w.valueBase64[i] })));
    out.rangeLinearizableBodies.push(Buffer.from(JSON.stringify({ key: k64 })));
    out.rangeSerializableBodies.push(Buffer.from(JSON.stringify({ key: k64, serializable: true })));
  }
  return out;
}

/** Puts `value` to `key` on `url` (gateway put); @returns the revision of the put. */
async function putOnce(url: string, key: string, value: string, timeoutMs: number): Promise<number> {
  const e = openEndpoint(url, 1);
  try {
    const body = Buffer.from(
      JSON.stringify({
        key: Buffer.from(key).toString("base64"),
        value: Buffer.from(value).toString("base64"),
      }),
    );
    const a = await postJson(e, "/v3/kv/put", body, timeoutMs);
    const rev = Number((JSON.parse(a.body) as { header?: { revision?: string } }).header?.revision);
    if (a.status !== 200 || !Number.isSafeInteger(rev)) {
      throw new Error(`put ${key}: ${a.status} ${a.body.slice(0, 200)}`);
    }
    return rev;
  } finally {
    closeEndpoint(e);
  }
}

/**
 * The revisions in [from, through] that touched the watched prefix, read from the member's history
 * (a watch from `from`, replayed, read until `through`): what every watcher must have got.
 * @throws Error when the watch ends first (compacted, cancelled) or the time bound passes
 */
async function prefixRevisions(url: string, from: number, through: number, timeoutMs: number) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const revisions: number[] = [];
  try {
    const res = await fetch(
      `${url}/v1/watch?key=${encodeURIComponent(WATCH_PREFIX)}&prefix=true&start_revision=${from}`,
      { signal: ac.signal },
    );
    if (res.status !== 200 || !res.body) throw new Error(`history watch: ${res.status} ${await res.text()}`);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      for (const ev of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
        if (ev.event === "created" || ev.event === "progress") continue;
        if (ev.event !== "message") throw new Error(`history watch ended: ${ev.event} ${ev.data}`);
        const rev = Number(ev.id);
        if (rev > through) return revisions;
        revisions.push(rev);
        if (rev === through) return revisions;
      }
    }
    throw new Error(`history watch ended after revision ${revisions.at(-1) ?? "-"} (wanted ${through})`);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** Context shared by the phases. */
interface Run {
  o: Options;
  /** The load outside the watched prefix (bench/workload.ts's keys); also the baseline's. */
  w: Workload;
  /** The load inside the watched prefix. */
  inside: Workload;
  putUrl: string;
  watchUrl: string;
  memberPid: number;
  procs: WatcherProcs | null;
  /** Revision every watcher has seen (after the last drain). */
  revision: number;
  /** Open watchers (after the last drain). */
  open: number;
  drainId: number;
}

/** Asks every watcher process to answer once its open watchers have `revision` (or at the timeout). */
async function askDrain(run: Run, procs: WatcherProcs, revision: number, timeoutMs: number) {
  const id = ++run.drainId;
  const answers = await procs.ask(
    () => ({ type: "drain", id, revision, timeoutMs }),
    "drained",
    timeoutMs + 10_000,
  );
  return {
    behind: answers.reduce((s, a) => s + a.behind, 0),
    open: answers.reduce((s, a) => s + a.open, 0),
    lastEventMs: Math.max(...answers.map((a) => a.lastEventMs)),
  };
}

/**
 * Ends a phase: waits until every open watcher has `revision` (the phase's last put), then, while
 * the member's revision still moves (puts the client gave up on are applied late), until they have
 * that too, so no revision of this phase leaks into the next. Fills the drain figures into `row`:
 * the catch-up time runs from `putsDoneMs` (the last put's answer, {@link nowMs}) to the arrival
 * of the last event at the last watcher (0 if every watcher had it before).
 */
async function drain(run: Run, revision: number, putsDoneMs: number, row: PhaseRow): Promise<void> {
  const procs = run.procs;
  let target = Math.max(revision, await revisionOf(run.putUrl));
  if (!procs) {
    run.revision = target;
    return;
  }
  const deadline = performance.now() + run.o.drainTimeoutMs;
  for (;;) {
    const d = await askDrain(run, procs, target, Math.max(1, deadline - performance.now()));
    row.drainMs = Math.max(0, d.lastEventMs - putsDoneMs);
    row.behind = d.behind;
    row.expectedEvents = run.open * (target - run.revision);
    if (d.behind > 0) {
      run.open = d.open;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
    const now = await revisionOf(run.putUrl);
    if (now <= target || performance.now() > deadline) {
      run.open = d.open;
      break;
    }
    row.samples.push(`${now - target} revisions applied after the phase's last answered put (late puts)`);
    target = now;
  }
  row.lastRevision = target;
  run.revision = target;
}

/** Waits until the member's revision stayed the same for 500 ms (or the deadline); @returns it. */
async function quietRevision(run: Run, deadline: number): Promise<number> {
  let rev = await revisionOf(run.putUrl);
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await revisionOf(run.putUrl);
    if (now === rev) break;
    rev = now;
  }
  return rev;
}

/**
 * Ends a phase whose load wrote outside the watched prefix (watchers get only the probes): the
 * catch-up time is measured to the phase's last probe revision; then, once the member's revision
 * stops moving (puts the client gave up on are applied late), a marker put into the prefix closes
 * the phase and every watcher must get it; the prefix's revisions of the phase, read back from the
 * member's history, are sent to the watcher processes, which compare each watcher's revisions with
 * them (missed / wrongly delivered). @returns the member's revision before the marker
 */
async function drainListed(run: Run, lastProbeRevision: number, putsDoneMs: number, row: PhaseRow) {
  const procs = run.procs;
  const deadline = performance.now() + run.o.drainTimeoutMs;
  const remaining = () => Math.max(1, deadline - performance.now());
  if (procs && lastProbeRevision > 0) {
    const d = await askDrain(run, procs, lastProbeRevision, remaining());
    row.drainMs = Math.max(0, d.lastEventMs - putsDoneMs);
  }
  const applied = await quietRevision(run, deadline);
  if (!procs) {
    run.revision = applied;
    return applied;
  }
  const marker = await putOnce(run.putUrl, MARKER_KEY, `end of ${row.phase}`, run.o.timeoutMs);
  const d = await askDrain(run, procs, marker, remaining());
  row.behind = d.behind;
  run.open = d.open;
  const reference = await prefixRevisions(run.watchUrl, run.revision + 1, marker, remaining());
  const v = await procs.ask(() => ({ type: "verify", revisions: reference }), "verified", 60_000);
  row.expectedEvents = v.reduce((s, a) => s + a.checked, 0) * reference.length;
  row.prefixRevisions = reference.length;
  row.phaseRevisions = marker - run.revision;
  row.lastRevision = marker;
  run.revision = marker;
  return applied;
}

/**
 * A latency phase: probe puts only, then the drain. `lockstep`: each put waits until every watcher
 * has the previous one (the fan-out is complete before the next put), and the time until the last
 * watcher had it is recorded per put.
 */
async function probePhase(
  run: Run,
  name: string,
  opts: { intervalMs: number; maxInFlight: number; lockstep: boolean },
): Promise<PhaseRow> {
  const row = emptyRow(name, run.open);
  const procs = run.procs;
  await procs?.phase(name, "every", run.revision);
  const member = new CpuMeter([run.memberPid]);
  const clients = new CpuMeter(procs?.pids ?? []);
  const e = openEndpoint(run.putUrl, opts.maxInFlight);
  const fanout = newLatencyHistogram();
  let p: ProbeResult | undefined;
  try {
    p = await runProbes(e, {
      count: run.o.puts,
      intervalMs: opts.intervalMs,
      maxInFlight: opts.maxInFlight,
      requestTimeoutMs: run.o.timeoutMs,
      maxDurationMs: run.o.puts * opts.intervalMs + (opts.lockstep ? 5 * run.o.drainTimeoutMs : 60_000),
      afterEach:
        opts.lockstep && procs
          ? async (revision, sentMs) => {
              const d = await askDrain(run, procs, revision, run.o.drainTimeoutMs);
              if (d.behind > 0)
                throw new Error(`${d.behind} watchers without revision ${revision} after the timeout`);
              fanout.recordValue(Math.max(1, Math.round((d.lastEventMs - sentMs) * 1000)));
            }
          : undefined,
    });
    const putsDoneMs = nowMs();
    fillProbe(row, p, run.o.puts);
    row.putsPerSecond = p.ok / (p.elapsedMs / 1000);
    if (fanout.totalCount > 0) {
      row.fanoutP50Ms = ms(fanout, 50);
      row.fanoutMaxMs = fanout.maxValue / 1000;
    }
    await drain(run, p.lastRevision, putsDoneMs, row);
  } finally {
    p?.ack.destroy();
    fanout.destroy();
    closeEndpoint(e);
  }
  row.memberCpuPercent = member.percent();
  row.watcherProcsCpuPercent = clients.percent();
  row.memberRssBytes = procStatusBytes(run.memberPid, "VmRSS");
  return row;
}

function fillProbe(row: PhaseRow, p: ProbeResult, wanted?: number): void {
  if (wanted !== undefined && p.sent < wanted) {
    row.samples.push(`probe writer stopped at its time bound after ${p.sent} of ${wanted} puts`);
  }
  row.puts += p.ok;
  row.putErrors += p.errors;
  row.putP50Ms = ms(p.ack, 50);
  row.putP99Ms = ms(p.ack, 99);
  for (const [k, n] of Object.entries(p.errorKinds)) row.samples.push(`${n}× probe put: ${k}`);
}

/**
 * A throughput phase: bench/load.ts's put level on `workload` plus probe puts; then the drain (if
 * watchers). `expect`: "every" when the workload's keys are inside the watched prefix, "listed"
 * when outside (see {@link drainListed}).
 */
async function loadPhase(
  run: Run,
  name: string,
  workload: Workload,
  expect: "every" | "listed",
): Promise<{ row: PhaseRow; level: LevelResult }> {
  const row = emptyRow(name, run.procs ? run.open : 0);
  await run.procs?.phase(name, expect, run.revision);
  const member = new CpuMeter([run.memberPid]);
  const clients = new CpuMeter(run.procs?.pids ?? []);
  const e = openEndpoint(run.putUrl, 1);
  let stop = false;
  let p: ProbeResult | undefined;
  try {
    const probes = runProbes(e, {
      intervalMs: run.o.probeIntervalMs,
      maxInFlight: 1,
      requestTimeoutMs: run.o.timeoutMs,
      maxDurationMs: run.o.warmupMs + run.o.durationMs + 60_000,
      stop: () => stop,
    });
    let level: LevelResult;
    try {
      level = await runLevel(
        { name: "cairn", endpoints: [run.putUrl] },
        "put",
        {
          clients: run.o.putClients,
          durationMs: run.o.durationMs,
          warmupMs: run.o.warmupMs,
          requestTimeoutMs: run.o.timeoutMs,
        },
        workload,
      );
    } finally {
      stop = true;
      p = await probes;
    }
    const putsDoneMs = nowMs();
    row.memberCpuPercent = member.percent();
    row.watcherProcsCpuPercent = clients.percent();
    row.memberRssBytes = procStatusBytes(run.memberPid, "VmRSS");
    fillProbe(row, p);
    row.puts += level.ok;
    row.putErrors += level.errors;
    row.putsPerSecond = level.requestsPerSecond;
    row.putP50Ms = level.p50Ms;
    row.putP99Ms = level.p99Ms;
    for (const [k, n] of Object.entries(level.errorKinds)) row.samples.push(`${n}× load put: ${k}`);
    const firstRevision = run.revision;
    let applied: number;
    if (expect === "listed") applied = await drainListed(run, p.lastRevision, putsDoneMs, row);
    else {
      await drain(run, p.lastRevision, putsDoneMs, row);
      applied = run.revision;
    }
    row.revisionsPerSecond = (applied - firstRevision) / ((run.o.warmupMs + level.elapsedMs) / 1000);
    return { row, level };
  } finally {
    p?.ack.destroy();
    closeEndpoint(e);
  }
}

/** Merges the watcher processes' phase reports into the rows (by phase name). */
function mergeReports(rows: PhaseRow[], reports: PhaseReport[][]): void {
  for (const row of rows) {
    const mine = reports.flat().filter((r) => r.phase === row.phase);
    if (mine.length === 0) continue;
    const h = newLatencyHistogram();
    for (const r of mine) {
      const part = decodeHistogram(r.latencyB64);
      h.add(part);
      part.destroy();
      row.events += r.events;
      row.missed += r.missed;
      row.duplicates += r.duplicates;
      row.broken += r.broken;
      row.compacted += r.compacted;
      row.cancelled += r.cancelled;
      for (const s of r.samples) if (row.samples.length < 8 && !row.samples.includes(s)) row.samples.push(s);
    }
    row.eventSamples = h.totalCount;
    row.eventP50Ms = ms(h, 50);
    row.eventP99Ms = ms(h, 99);
    row.eventMaxMs = h.totalCount > 0 ? h.maxValue / 1000 : Number.NaN;
    h.destroy();
  }
}

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function printTable(rows: PhaseRow[]): void {
  const table = new Table({
    head: [
      "phase",
      "watchers",
      "puts",
      "put/s",
      "put p50/p99 ms",
      "event p50/p99/max ms",
      "events (of)",
      "miss/dup/broken",
      "cancelled",
      "catch-up ms",
      "cpu % member/watchers",
      "RSS MiB",
    ],
    colAligns: ["left", ...Array<"right">(11).fill("right")],
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) {
    const hasWatchers = r.watchers > 0 && r.expectedEvents + r.events > 0;
    const bad = r.missed + r.duplicates + r.broken + r.compacted;
    table.push([
      r.phase,
      String(r.watchers),
      r.puts + r.putErrors > 0 ? `${r.puts}${r.putErrors ? ` +${r.putErrors} err !` : ""}` : "-",
      fmt(r.putsPerSecond, 0),
      r.puts > 0 ? `${fmt(r.putP50Ms, 2)} / ${fmt(r.putP99Ms, 2)}` : "-",
      r.eventSamples > 0
        ? `${fmt(r.eventP50Ms, 1)} / ${fmt(r.eventP99Ms, 1)} / ${fmt(r.eventMaxMs, 1)}`
        : "-",
      hasWatchers ? `${r.events} (${r.expectedEvents})` : "-",
      hasWatchers ? `${r.missed}/${r.duplicates}/${r.broken + r.compacted}${bad ? " !" : ""}` : "-",
      hasWatchers ? `${r.cancelled}${r.cancelled ? " !" : ""}` : "-",
      hasWatchers ? `${fmt(r.drainMs, 0)}${r.behind ? ` (${r.behind} behind !)` : ""}` : "-",
      `${fmt(r.memberCpuPercent, 0)} / ${fmt(r.watcherProcsCpuPercent, 0)}`,
      fmt(r.memberRssBytes / MiB, 1),
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
}

async function main(): Promise<number> {
  const o = parseOptions();
  checkLimits(o);
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nrun exceeded --max-run-ms ${o.maxRunMs}: stopping everything\n`);
    void releaseAll().finally(() => process.exit(2));
  }, o.maxRunMs);
  watchdog.unref();
  const log = (text: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);
  const loadBefore = os.loadavg();
  log(
    `watch bench: ${o.watchers} watchers in ${o.procs} processes, ${o.nodes} member(s) on ${o.runtime}; ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} on ${os.cpus().length} CPUs`,
  );

  const cluster = await startCairnCluster({ size: o.nodes, runtime: o.runtime });
  const watchMember: TestMember =
    o.watchOn === "leader" ? cluster.leader : cluster.members.find((m) => m !== cluster.leader)!;
  const memberPid = watchMember.process?.pid;
  if (memberPid === undefined) throw new Error(`member ${watchMember.name} has no process`);
  const w = makeWorkload();
  const inside = prefixedWorkload(w, `${WATCH_PREFIX}b`);
  await populate(cluster.leader.clientUrl, w);
  await populate(cluster.leader.clientUrl, inside);
  const run: Run = {
    o,
    w,
    inside,
    putUrl: cluster.leader.clientUrl,
    watchUrl: watchMember.clientUrl,
    memberPid,
    procs: null,
    revision: await revisionOf(cluster.leader.clientUrl),
    open: 0,
    drainId: 0,
  };
  log(
    `member ${watchMember.name} (pid ${memberPid}, ${o.watchOn}) at ${run.watchUrl}; puts to ${run.putUrl}`,
  );

  const rows: PhaseRow[] = [];
  const notes: string[] = [];
  let baselineBefore: LevelResult | undefined;
  if (o.baselineFirst) {
    log("baseline before the watchers: put load without watchers...");
    const b = await loadPhase(run, "baseline, before (no watchers)", run.w, "every");
    rows.push(b.row);
    baselineBefore = b.level;
  }

  // ---- memory of idle watchers ------------------------------------------------------------------
  const before = await settledRss(memberPid, { timeoutMs: 10_000 });
  log(
    `member RSS before watchers: ${fmt(before.bytes / MiB, 1)} MiB${before.settled ? "" : " (not settled)"}`,
  );
  const procs = await WatcherProcs.start(o.procs);
  run.procs = procs;
  const share = (i: number) => Math.floor(o.watchers / o.procs) + (i < o.watchers % o.procs ? 1 : 0);
  log(`opening ${o.watchers} watchers (${o.procs} processes, ${o.openConcurrency} at a time each)...`);
  const idle = emptyRow("idle (open + settle)", 0);
  const memberCpu = new CpuMeter([memberPid]);
  const clientsCpu = new CpuMeter(procs.pids);
  const opened = await procs.ask(
    (i) => ({
      type: "open",
      url: run.watchUrl,
      count: share(i),
      concurrency: o.openConcurrency,
      timeoutMs: Math.min(30_000, o.openTimeoutMs),
    }),
    "opened",
    o.openTimeoutMs,
  );
  run.open = opened.reduce((s, a) => s + a.opened, 0);
  const openFailed = opened.reduce((s, a) => s + a.failed, 0);
  const openMs = Math.max(...opened.map((a) => a.elapsedMs));
  idle.watchers = run.open;
  idle.samples.push(...new Set(opened.flatMap((a) => a.errors)));
  log(
    `${run.open} of ${o.watchers} watchers got their created event in ${fmt(openMs / 1000, 1)} s` +
      (openFailed ? `; ${openFailed} FAILED: ${idle.samples.join("; ")}` : ""),
  );
  const after = await settledRss(memberPid, { timeoutMs: 30_000 });
  idle.memberCpuPercent = memberCpu.percent();
  idle.watcherProcsCpuPercent = clientsCpu.percent();
  idle.memberRssBytes = after.bytes;
  rows.push(idle);
  const perWatcherBytes = run.open > 0 ? (after.bytes - before.bytes) / run.open : Number.NaN;
  log(
    `member RSS with ${run.open} idle watchers: ${fmt(after.bytes / MiB, 1)} MiB${after.settled ? "" : " (not settled)"}; ` +
      `${fmt(perWatcherBytes / 1024, 2)} KiB per watcher`,
  );

  // ---- put → event latency, then throughput with the watchers -----------------------------------
  // A failed phase is reported, and the run goes on to close the watchers and report what it has.
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    if (isShuttingDown()) {
      failures.push(`${what}: not run (interrupted)`);
      return false;
    }
    try {
      await fn();
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      failures.push(`${what}: ${message}`);
      log(`${what} FAILED: ${message}`);
      return false;
    }
  };
  let withWatchers: LevelResult | undefined;
  let onPrefix: LevelResult | undefined;
  const paced = `paced: 1 put / ${o.pacedIntervalMs} ms, lockstep`;
  const fast = `fast: 1 put / ${o.fastIntervalMs} ms`;
  const loadedName = `put load outside the watched prefix, ${o.putClients} clients + watchers`;
  const onPrefixName = `put load ON the watched prefix, ${o.putClients} clients + watchers (info)`;
  try {
    (await attempt(paced, async () => {
      log(`${paced}: ${o.puts} probe puts...`);
      rows.push(
        await probePhase(run, paced, { intervalMs: o.pacedIntervalMs, maxInFlight: 1, lockstep: true }),
      );
    })) &&
      (await attempt(fast, async () => {
        log(`${fast} (≤ ${o.fastInFlight} in flight): ${o.puts} probe puts...`);
        rows.push(
          await probePhase(run, fast, {
            intervalMs: o.fastIntervalMs,
            maxInFlight: o.fastInFlight,
            lockstep: false,
          }),
        );
      })) &&
      (await attempt(loadedName, async () => {
        log(
          `put load outside the watched prefix with ${run.open} watchers attached: ${o.putClients} clients, ${o.durationMs} ms...`,
        );
        const loaded = await loadPhase(run, loadedName, run.w, "listed");
        rows.push(loaded.row);
        withWatchers = loaded.level;
      })) &&
      (await attempt(onPrefixName, async () => {
        log(
          `put load on the watched prefix (every put to every one of ${run.open} watchers): ${o.putClients} clients, ${o.durationMs} ms...`,
        );
        const loaded = await loadPhase(run, onPrefixName, run.inside, "every");
        rows.push(loaded.row);
        onPrefix = loaded.level;
      }));
    await attempt("collecting the watchers' results", async () => {
      const results = await procs.ask(() => ({ type: "finish" }), "result", 60_000);
      mergeReports(
        rows,
        results.map((r) => r.phases),
      );
    });
  } finally {
    // ---- close the watchers, then the baseline ----------------------------------------------------
    await procs.unregister();
    run.procs = null;
  }
  const quiet = await waitQuiet(memberPid, o.drainTimeoutMs);
  log(
    `watchers closed; member ${quiet.quiet ? "quiet" : "STILL BUSY"} after ${fmt(quiet.elapsedMs / 1000, 1)} s ` +
      `(CPU ${fmt(quiet.lastPercent, 0)}% of a core)`,
  );
  const afterClose = await settledRss(memberPid, { timeoutMs: 10_000 });
  log(`member RSS after the watchers closed: ${fmt(afterClose.bytes / MiB, 1)} MiB`);
  let base: LevelResult | undefined;
  const baseName = `put load, ${o.putClients} clients, no watchers`;
  await attempt(baseName, async () => {
    log(`baseline: put load without watchers: ${o.putClients} clients, ${o.durationMs} ms...`);
    const b = await loadPhase(run, baseName, run.w, "every");
    rows.push(b.row);
    base = b.level;
  });
  const peakRss = procStatusBytes(memberPid, "VmHWM");
  await cluster.stop();
  const loadAfter = os.loadavg();

  // ---- report -------------------------------------------------------------------------------------
  const baselineRps = Math.max(base?.requestsPerSecond ?? 0, baselineBefore?.requestsPerSecond ?? 0);
  const ratio =
    withWatchers && baselineRps > 0
      ? (withWatchers as LevelResult).requestsPerSecond / baselineRps
      : Number.NaN;
  const deliveryErrors = rows.reduce((s, r) => s + r.missed + r.duplicates + r.broken + r.compacted, 0);
  const cancelled = rows.reduce((s, r) => s + r.cancelled, 0);
  const behind = rows.reduce((s, r) => s + r.behind, 0);
  const putErrors = rows.reduce((s, r) => s + r.putErrors, 0);

  process.stdout.write(
    `\n${o.watchers} SSE watchers (GET /v1/watch?key=${WATCH_PREFIX}&prefix=true) on ${watchMember.name} ` +
      `(${o.watchOn} of ${o.nodes}, ${o.runtime}), ${o.procs} watcher processes; puts of 256 B values ` +
      `to the leader through POST /v3/kv/put (load: keys bench000… outside the prefix, or ` +
      `${WATCH_PREFIX}b000… on it; probes: ${WATCH_PREFIX}lat).\n`,
  );
  printTable(rows);
  process.stdout.write(
    `\nMemory per idle watcher: (${fmt(after.bytes / MiB, 1)} − ${fmt(before.bytes / MiB, 1)} MiB) / ${run.open} = ` +
      `${fmt(perWatcherBytes / 1024, 2)} KiB (member RSS, /proc/${memberPid}/status VmRSS` +
      `${before.settled && after.settled ? "" : "; NOT SETTLED"}; /v1/status has no heap figure). ` +
      `After the watchers closed: ${fmt(afterClose.bytes / MiB, 1)} MiB; peak (VmHWM) ${fmt(peakRss / MiB, 1)} MiB; ` +
      `the member's CPU fell below ${QUIET_CPU_PERCENT}% of a core ${fmt(quiet.elapsedMs / 1000, 1)} s after the ` +
      `watchers closed${quiet.quiet ? "" : " (NEVER, within --drain-timeout-ms)"}.\n`,
  );
  for (const r of rows) {
    if (Number.isFinite(r.fanoutP50Ms)) {
      process.stdout.write(
        `${r.phase}: each put waited for the previous one to reach every watcher; from send to the last ` +
          `watcher: p50 ${fmt(r.fanoutP50Ms, 1)} ms, max ${fmt(r.fanoutMaxMs, 1)} ms.\n`,
      );
    }
  }
  for (const r of rows) {
    if (r.phaseRevisions > 0) {
      process.stdout.write(
        `${r.phase}: ${r.prefixRevisions} of the phase's ${r.phaseRevisions} revisions were inside the watched ` +
          `prefix (the probes and one closing marker put); each watcher's revisions were checked against them.\n`,
      );
    }
  }
  const applied = rows.filter((r) => Number.isFinite(r.revisionsPerSecond));
  if (applied.length > 0) {
    process.stdout.write(
      `Revisions the member applied per second of load, counting puts whose client timed out: ` +
        `${applied.map((r) => `${r.phase}: ${fmt(r.revisionsPerSecond, 1)}`).join("; ")}.\n`,
    );
  }
  process.stdout.write(
    `Opening: ${run.open + openFailed > 0 ? `${idle.watchers} watchers got created in ${fmt(openMs / 1000, 1)} s` : "-"}` +
      `${openFailed ? `, ${openFailed} FAILED` : ""}. ` +
      `Event latency = receive time in a watcher process − send time written into the put's value ` +
      `(one machine clock), over every (watcher, probe put) pair; "catch-up ms" = from the phase's last ` +
      `put answer until every watcher had its revision.\n`,
  );
  process.stdout.write(
    `Load average: ${loadBefore.map((l) => l.toFixed(2)).join(" ")} at the start, ` +
      `${loadAfter.map((l) => l.toFixed(2)).join(" ")} at the end (${os.cpus().length} CPUs, ` +
      `${os.cpus()[0]?.model ?? "?"}; the member, the watcher processes and the load generator share them).\n`,
  );
  if (failures.length > 0) {
    process.stdout.write(
      `\nFAILED PHASES (their rows are missing):\n${failures.map((f) => `  ${f}\n`).join("")}`,
    );
  }
  const problems = rows.filter(
    (r) =>
      r.samples.length > 0 || r.missed + r.duplicates + r.broken + r.compacted + r.cancelled + r.behind > 0,
  );
  if (problems.length > 0 || openFailed > 0) {
    process.stdout.write("\nISSUES:\n");
    for (const r of problems) {
      process.stdout.write(
        `  ${r.phase}: missed ${r.missed}, duplicate/out of order ${r.duplicates}, broken ${r.broken}, ` +
          `compacted ${r.compacted}, cancelled (slow watcher) ${r.cancelled}, still behind ${r.behind}\n`,
      );
      for (const s of r.samples) process.stdout.write(`    ${s}\n`);
    }
  }
  notes.push(
    `put throughput (load outside the watched prefix) with ${run.open} watchers attached: ` +
      `${fmt(withWatchers?.requestsPerSecond ?? Number.NaN, 0)} req/s vs ${fmt(baselineRps, 0)} without = ${fmt(ratio * 100, 0)}%`,
  );
  const onPrefixRatio =
    onPrefix && baselineRps > 0 ? (onPrefix as LevelResult).requestsPerSecond / baselineRps : Number.NaN;
  const outcome = Number.isFinite(ratio) ? (ratio >= TARGET_RATIO ? "PASS" : "FAIL") : "N/A";
  const caveats = [
    deliveryErrors ? `${deliveryErrors} delivery errors` : "",
    cancelled ? `${cancelled} watchers cancelled as slow` : "",
    behind ? `${behind} watchers not caught up` : "",
    putErrors ? `${putErrors} failed puts` : "",
    openFailed ? `${openFailed} watchers failed to open` : "",
  ].filter(Boolean);
  process.stdout.write(
    `\nInformation (not the target): put load ON the watched prefix, every put fanned out to every watcher: ` +
      `${fmt(onPrefix?.requestsPerSecond ?? Number.NaN, 0)} req/s = ${fmt(onPrefixRatio * 100, 0)}% of without.\n` +
      `Target: put throughput with the watchers attached (writes to other keys, a config center's shape) ` +
      `≥ ${TARGET_RATIO * 100}% of without.\n` +
      `VERDICT: ${outcome}: ${notes.join("; ")}${caveats.length ? ` (${caveats.join(", ")})` : ""}\n`,
  );

  if (o.json) {
    const doc = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? null,
        totalMemoryBytes: os.totalmem(),
        loadAverageStart: loadBefore,
        loadAverageEnd: loadAfter,
        openFilesLimit: openFilesLimit(),
      },
      node: process.version,
      options: o,
      member: { name: watchMember.name, role: o.watchOn, pid: memberPid },
      memory: {
        rssBeforeBytes: before.bytes,
        rssIdleWatchersBytes: after.bytes,
        rssAfterCloseBytes: afterClose.bytes,
        peakRssBytes: peakRss,
        settled: before.settled && after.settled,
        perIdleWatcherBytes: perWatcherBytes,
      },
      open: { opened: run.open, failed: openFailed, elapsedMs: openMs },
      afterClose: { quiet, rssBytes: afterClose.bytes },
      failures,
      phases: rows,
      throughput: {
        withWatchers: withWatchers ?? null,
        onWatchedPrefix: onPrefix ?? null,
        onWatchedPrefixRatio: onPrefixRatio,
        withoutWatchers: base ?? null,
        withoutWatchersBefore: baselineBefore ?? null,
        ratio,
        target: TARGET_RATIO,
        outcome,
      },
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    log(`results written to ${o.json}`);
  }
  return deliveryErrors + putErrors + openFailed + behind + failures.length > 0 ? 2 : 0;
}

runMain(main);
