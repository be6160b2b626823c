/**
 * A three-member Cairn cluster for side-by-side benchmarks: a thin wrapper around the integration
 * tests' TestCluster (test/helpers/cluster.ts: real `cairn serve` processes, peer mTLS with
 * certificates from src/tls/certs.ts, clients on plain HTTP, temp dirs, free ports) that adds
 * leader lookup through GET /v1/status and cleanup on Ctrl-C / exceptions.
 */
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { type Runtime, TestCluster, type TestMember } from "../test/helpers/cluster.ts";
import { registerCleanup } from "./cleanup.ts";

const MAIN = path.resolve(import.meta.dirname, "../src/cli/main.ts");

/** Options of {@link startCairnCluster}. */
export interface CairnClusterOptions {
  /** Members; default 3. */
  size?: number;
  /** Runtime of the members; default "node". */
  runtime?: Runtime;
  /** Extra `cairn serve` flags for every member. */
  extraFlags?: string[];
  /** Give up waiting for a leader after this many ms; default 30000. */
  startTimeoutMs?: number;
}

/** A started cluster: its members, the leader, and stop(). */
export interface CairnCluster {
  members: TestMember[];
  leader: TestMember;
  runtime: Runtime;
  /** The underlying cluster, to define and start more members (they are stopped with the others). */
  cluster: TestCluster;
  /** Stops every member (SIGTERM, SIGKILL after 5 s) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a Cairn cluster and waits until all members agree on a leader that says `is_leader: true`
 * in GET /v1/status.
 * @throws Error if src/cli/main.ts is missing, or no leader within startTimeoutMs (with the tail of
 *   each member's stderr); started members are stopped before the error is thrown
 */
export async function startCairnCluster(opts: CairnClusterOptions = {}): Promise<CairnCluster> {
  if (!existsSync(MAIN)) throw new Error(`Cairn's CLI entry ${MAIN} does not exist yet`);
  const runtime = opts.runtime ?? "node";
  const cluster = await TestCluster.create(opts.size ?? 3, { runtime, extraFlags: opts.extraFlags ?? [] });
  const unregister = registerCleanup({
    release: async () => {
      await cluster.stopAll();
      await cluster.destroy();
    },
    releaseNow: () => {
      for (const m of cluster.members) m.process?.kill("SIGKILL");
      rmSync(cluster.dir, { recursive: true, force: true });
    },
  });
  try {
    for (const m of cluster.members) cluster.start(m);
    const leader = await cluster.waitForLeader(opts.startTimeoutMs ?? 30_000);
    const status = await cluster.status(leader);
    if (status?.is_leader !== true) {
      throw new Error(
        `member ${leader.name} is named leader but its /v1/status says ${JSON.stringify(status)}`,
      );
    }
    return {
      members: cluster.members,
      leader,
      runtime,
      cluster,
      stop: async () => {
        await unregister();
      },
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // waitForLeader's message already carries each member's stderr tail.
    const logs = message.startsWith("no leader within")
      ? ""
      : `\n${cluster.members.map((m) => `--- ${m.name}:\n${m.stderr.slice(-2_000)}`).join("\n")}`;
    await unregister();
    throw new Error(`${message}${logs}`);
  }
}
