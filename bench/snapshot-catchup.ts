/**
 * A new member catching up by a streamed snapshot, with memory measured: three `cairn serve`
 * processes on loopback are filled with --state-mib of values (1 MiB each), then a fourth member is
 * added as a learner and started. It is too far behind for the log (small --snapshot-catchup-entries),
 * so the leader streams it a snapshot of its applied state. The script samples the resident memory
 * (VmRSS) of the leader and the new member every 50 ms and reports how far each rose above the
 * state size: with snapshots held whole the leader would need about the state size again (the
 * encoded snapshot) and the new member about twice (received bytes plus the restored state).
 *
 *   node --import tsx bench/snapshot-catchup.ts [--state-mib 1024] [--value-kib 1024] [--timeout-s 600]
 *
 * Self-stopping: gives up after --timeout-s. Exit code 0 when the new member caught up and its data
 * matched, 1 otherwise, 2 on bad flags.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { apiJson, type TestMember } from "../test/helpers/cluster.ts";
import { startCairnCluster } from "./cairn-cluster.ts";
import { runMain } from "./cleanup.ts";

const MIB = 1024 * 1024;
const SAMPLE_MS = 50;

interface Options {
  stateMib: number;
  valueKib: number;
  timeoutS: number;
}

function parseOptions(): Options {
  const o = new Command("snapshot-catchup")
    .option("--state-mib <n>", "bytes of values to store before the new member starts (MiB)", "1024")
    .option("--value-kib <n>", "bytes of each value (KiB)", "1024")
    .option("--timeout-s <s>", "give up after this long", "600")
    .parse()
    .opts<{ stateMib: string; valueKib: string; timeoutS: string }>();
  const n = (v: string, name: string) => {
    const x = Number(v);
    if (!Number.isSafeInteger(x) || x <= 0) {
      console.error(`--${name}: ${v} is not a positive integer`);
      process.exit(2);
    }
    return x;
  };
  return {
    stateMib: n(o.stateMib, "state-mib"),
    valueKib: n(o.valueKib, "value-kib"),
    timeoutS: n(o.timeoutS, "timeout-s"),
  };
}

/** Resident memory of `pid` in bytes (VmRSS), or 0 when it is gone. */
function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the largest RSS of `m` until stopped. */
function sampler(m: TestMember): { stop: () => number; now: () => number } {
  let max = 0;
  const t = setInterval(() => {
    max = Math.max(max, rssBytes(m.process?.pid));
  }, SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(t);
      return max;
    },
    now: () => rssBytes(m.process?.pid),
  };
}

const mib = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;

async function fill(leader: TestMember, opts: Options): Promise<number> {
  const valueBytes = opts.valueKib * 1024;
  const count = Math.ceil((opts.stateMib * MIB) / valueBytes);
  let next = 0;
  let retries = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const value = Buffer.alloc(valueBytes, 97 + (i % 26));
      // A put refused with a retryable 503 (a leader change while the disk is saturated) is sent
      // again; the members forward to the new leader. Bounded: at most 10 tries.
      for (let attempt = 1; ; attempt++) {
        const r = await fetch(`${leader.clientUrl}/v1/kv/state/${String(i).padStart(6, "0")}`, {
          method: "PUT",
          body: value,
          headers: { "content-type": "application/octet-stream" },
        });
        if (r.ok) break;
        const text = await r.text();
        if (r.status !== 503 || attempt >= 10) throw new Error(`put ${i}: HTTP ${r.status} ${text}`);
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  if (retries > 0) console.log(`${retries} puts were retried after a retryable 503`);
  return count;
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const deadline = Date.now() + opts.timeoutS * 1000;
  const maxRequestBytes = opts.valueKib * 1024 + 64 * 1024;
  const c = await startCairnCluster({
    extraFlags: [
      "--snapshot-count=100",
      "--snapshot-catchup-entries=10",
      `--max-request-bytes=${Math.max(maxRequestBytes, 1.5 * MIB)}`,
      "--auto-compaction-mode=revision",
      "--auto-compaction-retention=1",
    ],
  });
  const { cluster, leader } = c;
  try {
    const started = Date.now();
    const count = await fill(leader, opts);
    const stateBytes = count * opts.valueKib * 1024;
    console.log(
      `stored ${count} values, ${mib(stateBytes)}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const leaderBefore = rssBytes(leader.process?.pid);
    const m4 = await cluster.defineMember("m4");
    const added = await apiJson<{ member?: { id: string } }>(
      leader.clientUrl,
      "POST",
      "/v1/cluster/members",
      {
        peer_urls: [m4.peerUrl],
        is_learner: true,
      },
    );
    if (added.status !== 201) throw new Error(`member add: HTTP ${added.status}`);
    const leaderSampler = sampler(leader);
    const catchUpStart = Date.now();
    cluster.start(m4, "existing");
    const newSampler = sampler(m4);
    const target = (await cluster.status(leader))?.applied_index as number;
    for (;;) {
      const s = await cluster.status(m4);
      if (s && (s.applied_index as number) >= target) break;
      if (Date.now() > deadline)
        throw new Error(`m4 did not catch up in time; stderr:\n${m4.stderr.slice(-2000)}`);
      if (!m4.process) throw new Error(`m4 exited; stderr:\n${m4.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const catchUpMs = Date.now() - catchUpStart;
    await new Promise((r) => setTimeout(r, 500));
    const leaderPeak = leaderSampler.stop();
    const newPeak = newSampler.stop();
    let mismatches = 0;
    for (const i of [0, Math.floor(count / 2), count - 1]) {
      const r = await fetch(
        `${m4.clientUrl}/v1/kv/state/${String(i).padStart(6, "0")}?consistency=serializable`,
      );
      const body = Buffer.from(await r.arrayBuffer());
      if (!r.ok || body.length !== opts.valueKib * 1024 || body[0] !== 97 + (i % 26)) mismatches++;
    }
    const viaSnapshot = /restored state from a leader's snapshot/.test(m4.stderr);
    console.log(
      [
        `state: ${mib(stateBytes)} in ${count} keys`,
        `catch-up of the new member: ${(catchUpMs / 1000).toFixed(1)} s`,
        `leader RSS: ${mib(leaderBefore)} before, peak ${mib(leaderPeak)} during (+${mib(Math.max(0, leaderPeak - leaderBefore))})`,
        `new member peak RSS: ${mib(newPeak)} (${(newPeak / stateBytes).toFixed(2)}x the state)`,
        `caught up by a leader's snapshot: ${viaSnapshot ? "yes" : "no (by log entries)"}`,
        `values checked on the new member: ${mismatches === 0 ? "all match" : `${mismatches} mismatched`}`,
      ].join("\n"),
    );
    return mismatches === 0 && viaSnapshot ? 0 : 1;
  } finally {
    if (process.env.BENCH_DEBUG)
      for (const m of cluster.members) console.error(`--- ${m.name}\n${m.stderr.slice(-3000)}`);
    await c.stop();
  }
}

runMain(main);
